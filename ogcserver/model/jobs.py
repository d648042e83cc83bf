"""Jobs of the analysis role as records any hosting node can read: who asked for what, where it
stands, and its results."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ogcserver.model.errors import OgcServerError


class JobState(str, enum.Enum):
    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    DISMISSED = "dismissed"

    @property
    def final(self) -> bool:
        return self in (JobState.SUCCESSFUL, JobState.FAILED, JobState.DISMISSED)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class JobRecord:
    id: str
    process: str
    owner: str
    inputs: dict[str, Any]
    status: JobState = JobState.ACCEPTED
    created: str = field(default_factory=now)
    started: str | None = None
    finished: str | None = None
    updated: str = field(default_factory=now)
    progress: int = 0  # percent of the chunks written
    message: str = ""
    results: dict[str, Any] | None = None
    error: str = ""  # a failed job's cause: the name of the domain error that stopped it ("" unforeseen)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> JobRecord:
        return cls(**{**values, "status": JobState(values["status"])})


class ProcessNotFound(OgcServerError):
    def __init__(self, name: str) -> None:
        super().__init__(f"there is no process '{name[:64]}'")


class JobNotFound(OgcServerError):
    """A job that does not exist, or that the caller may not see (answered alike)."""

    def __init__(self, job: str) -> None:
        super().__init__(f"there is no job '{job[:64]}'")


class ResultNotReady(OgcServerError):
    def __init__(self, job: str, status: JobState) -> None:
        super().__init__(f"job '{job[:64]}' is {status.value}: it has no results")
        self.status = status


class JobFailed(OgcServerError):
    """The results of a job that failed: its message, and the domain error that failed it (None:
    an unforeseen failure), so each protocol words it as it would have worded that error."""

    def __init__(self, job: str, message: str, cause: type[OgcServerError] | None) -> None:
        super().__init__(message or f"job '{job[:64]}' failed")
        self.cause = cause


def error_named(name: str, base: type[OgcServerError] = OgcServerError) -> type[OgcServerError] | None:
    """The domain error class of this name among ``base`` and its subclasses (None: no such class)."""
    if base.__name__ == name:
        return base
    for sub in base.__subclasses__():
        if (found := error_named(name, sub)) is not None:
            return found
    return None


class ClusterUnavailable(OgcServerError):
    """The Dask scheduler a job was to run on does not answer."""


class TooManyJobs(OgcServerError):
    """The server process runs as many jobs as it may at once; another can start when one ends."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"this server process runs {limit} analysis jobs at once already; submit the job again "
                         "later")


class ProductBusy(OgcServerError):
    """Another running job holds the claim on the product's name: two jobs never write one product."""

    def __init__(self, name: str, started: str, host: str) -> None:
        super().__init__(f"product {name} is being computed by another job (started {started}, on {host})")
        self.name = name


class ClaimLost(OgcServerError):
    """The job's claim on its product was not renewed in time and another job took the name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the claim of this job on product {name} expired and another job took it; nothing was "
                         "registered")
        self.name = name
