"""The runner behind the Processes API on a hosting node: each job in a thread of this process,
its work on the configured cluster, its record (status, progress, results) kept in the shared
job store, so any node answers for it. A job dismissed on any node stops at its next check."""

from __future__ import annotations

import logging
import threading
import time

from ogcserver.composition import Core
from ogcserver.core.analysis.jobs import JobStore, ProductJob, Work
from ogcserver.core.analysis.zonal import ZonalJob
from ogcserver.model.errors import OgcServerError
from ogcserver.model.jobs import JobRecord, JobState, now
from ogcserver.settings import Settings

log = logging.getLogger(__name__)
PROGRESS_EVERY = 0.5  # seconds between progress writes to the store


class ClusterRunner:
    def __init__(self, core: Core, settings: Settings, store: JobStore) -> None:
        self.core = core
        self.settings = settings
        self.store = store
        self._slots = threading.BoundedSemaphore(settings.analysis.max_jobs)

    def reserve(self) -> bool:
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()

    def start(self, record: JobRecord, work: Work) -> None:
        threading.Thread(target=self._slotted, args=(record.id, work), name=f"job-{record.id[:8]}", daemon=True).start()

    def _slotted(self, job: str, work: Work) -> None:
        try:
            self._run(job, work)
        finally:
            self.release()

    def run_now(self, work: ZonalJob) -> list[dict]:
        from ogcserver.analysing.zonal import run_zonal  # Dask is imported by the nodes that run jobs only

        return run_zonal(self.core, self.settings, work, None)

    def check_product_free(self, name: str) -> None:
        from ogcserver.analysing.products import product_store

        holder = product_store(self.settings, name).holder()
        if holder is not None and holder.blocks(None, self.settings.analysis.claim_expiry_seconds):
            raise holder.busy(name)

    def _update(self, job: str, **changes: object) -> bool:
        """Apply changes to the stored record unless it was dismissed meanwhile (False then)."""
        record = self.store.load(job)
        if record is None or record.status is JobState.DISMISSED:
            return False
        for key, value in changes.items():
            setattr(record, key, value)
        record.updated = now()
        self.store.save(record)
        return True

    def _dismissed(self, job: str) -> bool:
        record = self.store.load(job)
        return record is None or record.status is JobState.DISMISSED

    def _run(self, job: str, work: Work) -> None:
        from ogcserver.analysing.cluster import cluster_client
        from ogcserver.analysing.products import JobCancelled, run_product
        from ogcserver.analysing.zonal import run_zonal

        if not self._update(job, status=JobState.RUNNING, started=now(), message="starting the cluster"):
            return
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY or done == total:
                last[0] = time.monotonic()
                self._update(job, progress=int(100 * done / max(total, 1)), message=f"{done} of {total} chunks written")

        try:
            with cluster_client(self.settings.analysis) as client:
                if isinstance(work, ProductJob):
                    product = run_product(self.core, self.settings, work.spec, client, work.overwrite, progress,
                                          lambda: self._dismissed(job), job)
                    results: dict = {"product": product.as_json()}
                else:
                    results = {"statistics": run_zonal(self.core, self.settings, work, client)}
        except JobCancelled:
            return  # dismissed: the record says so already
        except OgcServerError as exc:
            self._update(job, status=JobState.FAILED, finished=now(), message=exc.message, error=type(exc).__name__)
            return
        except Exception as exc:
            log.exception("job failed", extra={"job": job})
            self._update(job, status=JobState.FAILED, finished=now(),
                         message=f"the job failed ({type(exc).__name__}); nothing was registered")
            return
        self._update(job, status=JobState.SUCCESSFUL, finished=now(), progress=100, message="done", results=results)
