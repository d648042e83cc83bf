"""Analysis products: a spec cut into chunks, computed on the cluster, assembled into a COG and
registered in the catalog.

The client plans the chunks, skips those a previous run of the same job wrote (the manifest's
digest says it is the same job), submits the rest to the cluster as plain values, and counts
them in as they finish. Only when every chunk is written is the COG assembled and the product
registered: a collection of one item, with a note of the layer and grants that publish it. An
interrupted or failed job registers nothing and leaves its chunks for the next run.

A job holds a claim on its product's name from before it looks at the store until it ends, and
renews it from a thread of its own, so a second job of that name (here or on another node)
is refused instead of writing into the same folder; a job that loses its claim stops.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from distributed import Client, Future, wait

from ogcserver.analysing.cluster import worker_core
from ogcserver.composition import Core, s3_endpoint
from ogcserver.core.analysis.compute import chunk_values, product_bands
from ogcserver.core.analysis.plan import AnalysisSpec, Chunk, check_new_output, check_spec, chunks
from ogcserver.model.jobs import ClaimLost
from ogcserver.settings import Settings
from ogcserver.storage.object_products import ObjectProductFolder
from ogcserver.storage.product_claims import Claim
from ogcserver.storage.products import ProductFolder, ProductStore, overview_levels
from ogcserver.storage.s3 import Clients, S3Endpoint

Progress = Callable[[int, int], None]  # (chunks done, chunks in all)
log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The job was stopped (Ctrl-C, or dismissed) before every chunk was written."""


@dataclass(frozen=True)
class ProductResult:
    name: str
    path: str
    width: int
    height: int
    chunks: int
    computed: int  # chunks this run computed; the others were written by an earlier run
    note: dict  # the layer and grants that publish the product

    def as_json(self) -> dict:
        return {"collection": self.name, "width": self.width, "height": self.height,
                "chunks": self.chunks, "computed": self.computed, "publish": self.note}


@functools.cache
def _clients(endpoint: S3Endpoint) -> Clients:
    return Clients(endpoint)  # one per process and endpoint: every chunk of a worker shares its connections


def product_store(settings: Settings, name: str) -> ProductStore:
    """Where the product ``name`` and its chunks live: ``analysis.output_url``'s bucket, else the folder."""
    if settings.analysis.output_url:
        return ObjectProductFolder(_clients(s3_endpoint(settings)), settings.analysis.output_url, name,
                                   settings.analysis.deflate_level)
    return ProductFolder(settings.products_dir, name, settings.analysis.deflate_level)


def compute_chunk(settings: Settings, spec: AnalysisSpec, chunk: Chunk) -> str:
    """On a worker: one chunk, read through this process's core and written to its file."""
    return write_chunk_with(worker_core(settings), settings, spec, chunk)


def write_chunk_with(core: Core, settings: Settings, spec: AnalysisSpec, chunk: Chunk) -> str:
    """One chunk computed through ``core`` and written to its file."""
    layer = core.engine.operator_layer(spec.layer)
    form = product_bands(layer, spec)
    grid = spec.grid()
    raster = chunk_values(core.engine, spec, grid, chunk)
    product_store(settings, spec.output).save_chunk(
        chunk.name, grid.subgrid(chunk.window), None if raster is None else raster.data,
        None if raster is None else raster.valid, form, overview_levels(grid.width, grid.height))
    return chunk.name


def product_exists(core: Core, settings: Settings, name: str) -> bool:
    return product_store(settings, name).exists() or name in core.catalog_store.collections()


def run_product(core: Core, settings: Settings, spec: AnalysisSpec, client: Client, overwrite: bool = False,
                progress: Progress | None = None, stopped: Callable[[], bool] = lambda: False,
                job: str | None = None) -> ProductResult:
    """Compute, assemble and register one product; resumes a job interrupted with the same spec.
    ``job`` names the job in its claim on the product (a new id when not given)."""
    grid = check_spec(spec, settings.analysis.max_output_pixels)
    layer = core.engine.operator_layer(spec.layer)
    bands = product_bands(layer, spec)
    folder = product_store(settings, spec.output)
    with claimed(folder, Claim.new(job or uuid.uuid4().hex), settings.analysis.claim_expiry_seconds) as held:
        check_new_output(spec, product_exists(core, settings, spec.output), overwrite)
        folder.start({"digest": spec.digest(), "layer": spec.layer, "owner": spec.owner,
                      "width": grid.width, "height": grid.height, "chunk_size": spec.chunk_size})
        plan = list(chunks(grid, spec.chunk_size))
        written = folder.done_chunks()
        todo = [c for c in plan if c.name not in written]
        done = len(plan) - len(todo)
        if progress:
            progress(done, len(plan))
        # a key of its own per run: a key just cancelled by an interrupted run can come back cancelled
        # to the run resuming it while the scheduler is still forgetting it
        attempt = uuid.uuid4().hex[:8]
        futures = [client.submit(compute_chunk, settings, spec, c, key=f"chunk-{spec.digest()}-{c.name}-{attempt}")
                   for c in todo]
        try:
            for _ in finished(futures, lambda: stopped() or held.lost()):
                done += 1
                if progress:
                    progress(done, len(plan))
        except JobCancelled:
            if held.lost():
                raise ClaimLost(spec.output) from None
            raise JobCancelled(f"stopped after {done} of {len(plan)} chunks; run it again to resume") from None
        finally:
            client.cancel([f for f in futures if not f.done()])
        if not held.renew():  # still this job's name before its COG is written over the product's
            raise ClaimLost(spec.output)
        path = folder.assemble(grid, {c.name: c.window for c in plan}, bands)
        if not held.renew():  # and no other job took it while the COG was assembled
            raise ClaimLost(spec.output)
        note = publish_note(settings, spec)
        register(core, spec, path, note)
        folder.remove()
    return ProductResult(spec.output, path, grid.width, grid.height, len(plan), len(todo), note)


class HeldClaim:
    """A job's claim on its product's name, renewed from a thread of its own; once lost (not
    renewed in time, and taken by another job) it stays lost."""

    def __init__(self, folder: ProductStore, claim: Claim) -> None:
        self.folder = folder
        self.claim = claim
        self._lock = threading.Lock()  # one renewal at a time: each is conditional on the one before
        self._lost = False

    def renew(self) -> bool:
        """Renew the claim now; False when it is lost."""
        with self._lock:
            if not self._lost and not self.folder.renew(self.claim):
                self._lost = True
            return not self._lost

    def lost(self) -> bool:
        return self._lost

    def release(self) -> None:
        """Give the name up; a store out of reach leaves the claim to expire rather than hiding
        how the job ended."""
        with self._lock:
            if self._lost:
                return
            try:
                self.folder.release(self.claim)
            except Exception:  # the claim expires on its own
                log.warning("could not release the product claim of job %s", self.claim.job, exc_info=True)


@contextmanager
def claimed(folder: ProductStore, claim: Claim, expiry: float) -> Iterator[HeldClaim]:
    """The product's name reserved for this job while the block runs (``ProductBusy`` when another
    job holds it), renewed every third of ``expiry`` and released at the end, however it ends."""
    folder.claim(claim, expiry)
    held, stop = HeldClaim(folder, claim), threading.Event()

    def heartbeat() -> None:
        while not stop.wait(expiry / 3):
            try:
                if not held.renew():
                    return
            except Exception:  # a store briefly unreachable: the next beat tries again
                log.warning("could not renew the product claim of job %s", claim.job, exc_info=True)

    beat = threading.Thread(target=heartbeat, name=f"claim-{claim.job[:8]}", daemon=True)
    beat.start()
    try:
        yield held
    finally:
        stop.set()
        beat.join()
        held.release()


def finished(futures: list[Future], stopped: Callable[[], bool], poll: float = 0.5) -> Iterator[Future]:
    """The futures as they finish (a failed one raises, failing the job clearly); between
    completions, at least every ``poll`` seconds, ``stopped`` is asked whether to give up."""
    pending = set(futures)
    while pending:
        if stopped():
            raise JobCancelled("stopped")
        try:
            done, left = wait(list(pending), timeout=poll, return_when="FIRST_COMPLETED")
        except TimeoutError:
            continue
        for future in done:
            future.result()
            yield future
        pending = set(left)


def register(core: Core, spec: AnalysisSpec, path: str, note: dict) -> None:
    """The product as a catalog collection of one item; hosting nodes whose configuration has a
    layer on this collection pick it up through the catalog's change detection."""
    store = core.catalog_store
    store.create(spec.output)
    existing = [item.key for item in store.items(spec.output)]
    if existing:
        store.remove(spec.output, existing)
    store.upsert(spec.output, [core.catalog.describe_file(spec.output, path)])
    record = {**note, "owner": spec.owner, "source_layer": spec.layer, "digest": spec.digest(),
              "created": datetime.now(UTC).isoformat(timespec="seconds")}
    store.set_meta(spec.output, "product", json.dumps(record))


def publish_note(settings: Settings, spec: AnalysisSpec) -> dict:
    """The layer entry and grants that publish the product: its grants default to the owner's
    and to those of the input layer (the same principals, actions and constraints)."""
    source_service = next(s.name for s in settings.services for lr in s.layers if lr.name == spec.layer)
    grants: list[dict] = []
    if settings.access is not None:
        for grant in settings.access.grants:
            if grant.service == source_service and (not grant.layers or spec.layer in grant.layers):
                grants.append({**grant.model_dump(mode="json", exclude_defaults=True), "layers": [spec.output]})
        if spec.owner != "operator":
            grants.append({"to": f"user:{spec.owner}", "service": source_service, "layers": [spec.output],
                           "actions": ["discover", "view", "query", "download", "process"]})
    return {"service": source_service, "layer": {"name": spec.output, "collection": spec.output}, "grants": grants}
