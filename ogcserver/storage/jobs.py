"""Job records as small JSON files in a folder every node shares (next to the products), so any
hosting node answers for a job another node started; written atomically."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

from ogcserver.model.jobs import JobRecord

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
