"""Jobs as the Processes API sees them: which processes exist, who may run them, and the
records of jobs started, protocol-free.

A caller needs the ``process`` grant on the input layer (an ad-hoc chain also needs a service
that allows processing, as renderingRule does); a job is visible only to the principal that
started it, and to anyone else answers like a job that does not exist. Work runs elsewhere (a
runner on this node, using the cluster); records live in a store every node reads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ogcserver.core.analysis.inputs import spec_from_inputs
from ogcserver.core.analysis.plan import AnalysisSpec, check_new_output, check_spec
from ogcserver.core.analysis.zonal import ZonalJob, zonal_job
from ogcserver.core.config import AnalysisConfig
from ogcserver.core.engine import Engine
from ogcserver.model.access import Action, Principal
from ogcserver.model.errors import InvalidValue, ProcessingNotAllowed
from ogcserver.model.jobs import (
    JobFailed,
    JobNotFound,
    JobRecord,
    JobState,
    ProcessNotFound,
    ResultNotReady,
    TooManyJobs,
    error_named,
    now,
)

PRODUCT = "raster-analysis"
ZONAL = "zonal-statistics"
PROCESSES = (PRODUCT, ZONAL)
MAX_LISTED = 1000


@dataclass(frozen=True)
class ProductJob:
    spec: AnalysisSpec
    overwrite: bool


Work = ProductJob | ZonalJob


class JobStore(Protocol):
    def save(self, record: JobRecord) -> None: ...

    def load(self, job: str) -> JobRecord | None: ...

    def list(self, limit: int) -> list[JobRecord]: ...


class JobRunner(Protocol):
    def reserve(self) -> bool:
        """Take one of this process's job slots for a job about to start; False when all are taken."""

    def release(self) -> None:
        """Give back a slot reserved for a job that was not started."""

    def start(self, record: JobRecord, work: Work) -> None:
        """Run the work in the background, keeping the record up to date in the store; the slot
        reserved for it is given back when it ends."""

    def run_now(self, work: ZonalJob) -> list[dict]:
        """Small zonal statistics, computed while the caller waits."""

    def check_product_free(self, name: str) -> None:
        """Raise ``ProductBusy`` when a running job holds the product's name (a job started now
        would be refused; checking first lets the request be refused instead)."""


def owner_of(principal: Principal) -> str:
    return principal.name


class Jobs:
    def __init__(self, engine: Engine, store: JobStore, runner: JobRunner, config: AnalysisConfig) -> None:
        self.engine = engine
        self.store = store
        self.runner = runner
        self.config = config

    def prepare(self, process: str, inputs: dict[str, Any], principal: Principal) -> Work:
        """The checked work of a request, after the caller's grant on the input layer."""
        if process not in PROCESSES:
            raise ProcessNotFound(process)
        name = inputs.get("layer")
        if not isinstance(name, str) or not name:
            raise InvalidValue("layer", "give the input layer's name")
        layer, constraints = self.engine.resolve(name, "", None, principal, Action.PROCESS, "process")
        if inputs.get("chain") is not None and not self.engine.service(layer.info.service).allow_processing:
            raise ProcessingNotAllowed(layer.info.service)
        owner = owner_of(principal)
        if process == ZONAL:
            return zonal_job(self.engine, layer, inputs, self.config, owner, constraints)
        spec = spec_from_inputs(self.engine, layer, inputs, owner, constraints, self.config.chunk_size)
        check_spec(spec, self.config.max_output_pixels)
        overwrite = inputs.get("overwrite") is True
        existing = spec.output in self.engine.catalog.store.collections()
        if existing and overwrite and not self._owns_product(spec.output, owner):
            raise InvalidValue("output", f"'{spec.output}' is not a product of yours to overwrite; choose another name")
        check_new_output(spec, existing, overwrite)
        return ProductJob(spec, overwrite)

    def _owns_product(self, collection: str, owner: str) -> bool:
        """Whether the collection is a product this caller made: a request may replace only that,
        never the index of a configured folder or file, a catalog collection or another caller's
        product (each would lose data its owner cannot rebuild from here)."""
        note = self.engine.catalog.store.get_meta(collection, "product")
        try:
            return note is not None and json.loads(note).get("owner") == owner
        except (ValueError, AttributeError):
            return False

    def small(self, work: Work) -> bool:
        """Whether the work may be answered at once (zonal statistics over few pixels)."""
        if not isinstance(work, ZonalJob):
            return False
        grid = work.spec.grid()
        return grid.width * grid.height <= self.config.max_zonal_pixels

    def execute_now(self, work: ZonalJob) -> list[dict]:
        return self.runner.run_now(work)

    def submit(self, process: str, inputs: dict[str, Any], principal: Principal, work: Work) -> JobRecord:
        """Start the work as a job, if this process has a slot for it (each job may start a cluster)
        and no running job computes a product of the same name."""
        if isinstance(work, ProductJob):
            self.runner.check_product_free(work.spec.output)
        if not self.runner.reserve():
            raise TooManyJobs(self.config.max_jobs)
        record = JobRecord(uuid.uuid4().hex, process, owner_of(principal), inputs)
        try:
            self.store.save(record)
            self.runner.start(record, work)
        except BaseException:
            self.runner.release()
            raise
        return record

    def get(self, job: str, principal: Principal) -> JobRecord:
        record = self.store.load(job)
        if record is None or record.owner != owner_of(principal):
            raise JobNotFound(job)
        return record

    def list(self, principal: Principal) -> Sequence[JobRecord]:
        """The caller's jobs. Anonymous callers are all one principal, so none is listed to them:
        each reaches their job through the id its execution answered (a random 128-bit id), and
        no caller learns, or can dismiss, another's."""
        if not principal.authenticated:
            return []
        owner = owner_of(principal)
        return [r for r in self.store.list(MAX_LISTED) if r.owner == owner]

    def dismiss(self, job: str, principal: Principal) -> JobRecord:
        """Cancel a job (its runner stops at its next check) or forget a finished one."""
        record = self.get(job, principal)
        if record.status is not JobState.DISMISSED:
            record.status, record.updated = JobState.DISMISSED, now()
            record.message = "dismissed" if record.finished else "cancelled: the job stops at its next check"
            self.store.save(record)
        return record

    def results(self, job: str, principal: Principal) -> dict[str, Any]:
        record = self.get(job, principal)
        if record.status is JobState.FAILED:  # OGC API - Processes /req/core/job-results-failed
            raise JobFailed(job, record.message, error_named(record.error) if record.error else None)
        if record.status is not JobState.SUCCESSFUL or record.results is None:
            raise ResultNotReady(job, record.status)
        return record.results
