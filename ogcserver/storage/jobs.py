"""Job records as small JSON files in a folder every node shares, or objects in the products'
bucket (``analysis.output_url``), so any hosting node answers for a job another node started;
each written whole (a rename, or one PUT)."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

from ogcserver.model.jobs import JobRecord
from ogcserver.model.object_urls import split_url
from ogcserver.storage.s3 import Clients, listed

JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, job: str) -> Path | None:
        return self.root / f"{job}.json" if JOB_ID.match(job) else None

    def save(self, record: JobRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(record.id)
        if path is None:
            raise ValueError("not a job id")
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(record.as_json()))
        os.replace(tmp, path)

    def load(self, job: str) -> JobRecord | None:
        path = self._path(job)
        if path is None:
            return None
        try:
            return JobRecord.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def list(self, limit: int) -> list[JobRecord]:
        """The newest jobs first, at most ``limit``."""
        records = [r for r in (self.load(p.stem) for p in self.root.glob("*.json")) if r is not None]
        return sorted(records, key=lambda r: r.created, reverse=True)[:limit]


class ObjectJobFiles:
    """The same records as objects ``<prefix>/jobs/<id>.json`` of the products' bucket."""

    def __init__(self, clients: Clients, url: str) -> None:
        self.clients = clients
        self.bucket, prefix = split_url(url.rstrip("/"))
        self.prefix = f"{prefix}/jobs/" if prefix else "jobs/"

    def save(self, record: JobRecord) -> None:
        if not JOB_ID.match(record.id):
            raise ValueError("not a job id")
        self.clients.get().put_object(Bucket=self.bucket, Key=f"{self.prefix}{record.id}.json",
                                      Body=json.dumps(record.as_json()).encode(), ContentType="application/json")

    def load(self, job: str) -> JobRecord | None:
        if not JOB_ID.match(job):
            return None
        try:
            answer = self.clients.get().get_object(Bucket=self.bucket, Key=f"{self.prefix}{job}.json")
            return JobRecord.from_json(json.loads(answer["Body"].read()))
        except Exception:  # noqa: BLE001 - missing, unreadable or unreachable: no such job to show
            return None

    def list(self, limit: int) -> list[JobRecord]:
        """The newest jobs first, at most ``limit``."""
        ids = [o["Key"].removeprefix(self.prefix).removesuffix(".json")
               for o in listed(self.clients.get(), self.bucket, self.prefix)]
        records = [r for r in (self.load(job) for job in ids) if r is not None]
        return sorted(records, key=lambda r: r.created, reverse=True)[:limit]
