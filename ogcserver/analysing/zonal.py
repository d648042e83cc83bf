"""Zonal statistics: computed at once in this process for small inputs (a synchronous request),
or chunk by chunk on the cluster's workers, merged here."""

from __future__ import annotations

import uuid

from distributed import Client

from ogcserver.analysing.cluster import worker_core
from ogcserver.analysing.products import finished
from ogcserver.composition import Core
from ogcserver.core.analysis.plan import Chunk, check_spec, chunks
from ogcserver.core.analysis.zonal import Partial, ZonalJob, chunk_partials, merge, results
from ogcserver.model.errors import ResourceLimitExceeded
from ogcserver.settings import Settings


def _worker_partials(settings: Settings, job: ZonalJob, chunk: Chunk) -> dict[int, list[Partial]]:
    engine = worker_core(settings).engine
    return chunk_partials(engine, job.spec, job.spec.grid(), chunk, job.zones, job.histogram)


def run_zonal(core: Core, settings: Settings, job: ZonalJob, client: Client | None) -> list[dict]:
    """Statistics per zone; without a client the grid must be small enough to answer at once."""
    grid = check_spec(job.spec, settings.analysis.max_output_pixels)
    merged: dict[int, list[Partial]] = {}
    plan = list(chunks(grid, job.spec.chunk_size))
    if client is None:
        if grid.width * grid.height > settings.analysis.max_zonal_pixels:
            raise ResourceLimitExceeded(f"zonal statistics over more than {settings.analysis.max_zonal_pixels} "
                                        "pixels run as a job (asynchronous execution)")
        for chunk in plan:
            merge(merged, chunk_partials(core.engine, job.spec, grid, chunk, job.zones, job.histogram))
    else:
        run = uuid.uuid4().hex  # each request its own tasks: other zones over the same grid give other figures
        futures = [client.submit(_worker_partials, settings, job, c, key=f"zonal-{run}-{c.name}") for c in plan]
        try:
            for future in finished(futures, lambda: False):
                merge(merged, future.result())
        finally:
            client.cancel([f for f in futures if not f.done()])
    return results(job.zones, merged, job.band_names, job.histogram)
