"""OGC API - Processes: requests (already parsed JSON) -> the core's jobs -> JSON documents.

``POST /processes/{id}/execution`` with ``Prefer: respond-async`` (or for a process that runs
only asynchronously) answers 201 with the job's status and its ``Location``; zonal statistics
over few pixels are otherwise answered at once (200, the results document).
"""

from __future__ import annotations

import json
from typing import Any

from ogcserver.core.analysis.jobs import Jobs
from ogcserver.core.analysis.zonal import ZonalJob
from ogcserver.model.errors import InvalidValue
from ogcserver.model.jobs import ProcessNotFound
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.processes import documents
from ogcserver.ows.response import OwsResponse

JSON = "application/json"


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> OwsResponse:
    return OwsResponse(json.dumps(document, separators=(",", ":")).encode(), JSON, status, headers or {})


class ProcessesService:
    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    def processes(self, endpoint: Endpoint) -> OwsResponse:
        return _json(documents.process_list(endpoint.base_url))

    def process(self, pid: str, endpoint: Endpoint) -> OwsResponse:
        if pid not in documents.PROCESSES:
            raise ProcessNotFound(pid)
        return _json(documents.process_description(pid, endpoint.base_url))

    def execute(self, pid: str, body: Any, prefer: str, endpoint: Endpoint) -> OwsResponse:
        if pid not in documents.PROCESSES:
            raise ProcessNotFound(pid)
        if not isinstance(body, dict) or not isinstance(body.get("inputs", {}), dict):
            raise InvalidValue("inputs", 'the request body must be a JSON object: {"inputs": {...}}')
        inputs = body.get("inputs", {})
        work = self.jobs.prepare(pid, inputs, endpoint.principal)
        asked_async = "respond-async" in prefer.lower()
        if isinstance(work, ZonalJob) and not asked_async and self.jobs.small(work):
            return _json({"statistics": self.jobs.execute_now(work)})
        record = self.jobs.submit(pid, inputs, endpoint.principal, work)
        location = f"{endpoint.base_url}/jobs/{record.id}"
        headers = {"Location": location}
        if asked_async:
            headers["Preference-Applied"] = "respond-async"
        return _json(documents.status_info(record, endpoint.base_url), 201, headers)

    def job_list(self, endpoint: Endpoint) -> OwsResponse:
        return _json(documents.job_list(list(self.jobs.list(endpoint.principal)), endpoint.base_url))

    def job(self, job: str, endpoint: Endpoint) -> OwsResponse:
        return _json(documents.status_info(self.jobs.get(job, endpoint.principal), endpoint.base_url))

    def dismiss(self, job: str, endpoint: Endpoint) -> OwsResponse:
        return _json(documents.status_info(self.jobs.dismiss(job, endpoint.principal), endpoint.base_url))

    def results(self, job: str, endpoint: Endpoint) -> OwsResponse:
        return _json(self.jobs.results(job, endpoint.principal))
