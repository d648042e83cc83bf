"""Claims on product names: which running job computes a product, so that two jobs of one name
(on one node or several sharing the product store) never write its chunks or register it at once.

A claim is a small JSON object beside the product's working folder (``.work/<name>.claim``):
the job's id, where it runs and when it started, and its last heartbeat. The job renews it
while it runs and removes it when it ends, fails or is stopped; one whose heartbeat is older
than the expiry (``analysis.claim_expiry_seconds``) belongs to a job that crashed, and another
job may take the name over (a re-run of the same job then resumes from its chunks). Taking a
claim is atomic in each store: under an exclusive lock on a folder, a conditional put in a bucket.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from ogcserver.model.jobs import ProductBusy


@dataclass(frozen=True)
class Claim:
    job: str  # the job's id
    host: str  # the machine and process running it
    started: str  # when it took the claim, ISO 8601 UTC
    beat: float  # the last heartbeat, seconds since the epoch

    @classmethod
    def new(cls, job: str) -> Claim:
        return cls(job, f"{socket.gethostname()}, process {os.getpid()}",
                   datetime.now(UTC).isoformat(timespec="seconds"), time.time())

    def renewed(self) -> Claim:
        return replace(self, beat=time.time())

    def expired(self, expiry: float) -> bool:
        return time.time() - self.beat > expiry

    def blocks(self, job: str | None, expiry: float) -> bool:
        """Whether this claim keeps the name from ``job`` (None: from any new job): it is another
        job's, and that job is alive."""
        return self.job != job and not self.expired(expiry)

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, data: bytes) -> Claim | None:
        """The claim in ``data``; None when it is not one (a torn or foreign file counts as no claim)."""
        try:
            raw = json.loads(data)
            return cls(str(raw["job"]), str(raw["host"]), str(raw["started"]), float(raw["beat"]))
        except (ValueError, TypeError, KeyError):
            return None

    def busy(self, name: str) -> ProductBusy:
        return ProductBusy(name, self.started, self.host)
