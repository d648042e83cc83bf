"""The server a local cluster's worker processes are forked from, which imported the task
modules once: each worker starts with them instead of importing ogcserver, rasterio and Dask
itself (about 1.5 s of CPU per worker). An analysis command that will run on a local cluster
starts it first thing, so that its imports run alongside the command's own start-up (seeding
forks its workers from its own process instead, which has imported them by then)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os

WORKER_MODULES = ["distributed", "ogcserver.composition", "ogcserver.analysing.products",
                  "ogcserver.analysing.zonal", "ogcserver.seeding"]


def preload_worker_modules() -> None:
    """Have the fork server import ``WORKER_MODULES`` when it starts (it is kept for the
    process's life: a server already running keeps what it imported)."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(WORKER_MODULES)


def start_worker_server() -> None:
    """Start the fork server now, in the background of what the caller does next, with the
    environment Dask gives a worker before it starts (one thread per numerical library, memory
    trimmed back to the system): a forked worker inherits the server's, not its nanny's."""
    import dask.config
    import distributed  # noqa: F401  (loads Dask's distributed configuration)

    environ = dask.config.get("distributed.nanny.pre-spawn-environ")
    os.environ.update({key: os.environ.get(key, str(value)) for key, value in environ.items() if value is not None})
    preload_worker_modules()
    multiprocessing.forkserver.ensure_running()
