"""A Dask worker preload (``dask worker --preload tests.support.count_renders``) that appends one
line per metatile render (process id, zoom, span) to the file named by OGCSERVER_RENDER_LOG, so
a test counts the renders of every worker process of a cluster."""

from __future__ import annotations

import os

from ogcserver.core.tilecache import TileService


def dask_setup(worker) -> None:
    log_path = os.environ["OGCSERVER_RENDER_LOG"]
    original = TileService._render

    def counted(self, layer, tms, z, span, *args, **kwargs):
        result = original(self, layer, tms, z, span, *args, **kwargs)
        with open(log_path, "a") as log:  # one short line per write: appends never interleave
            log.write(f"{os.getpid()} {layer.info.name} {z} {list(span)}\n")
        return result

    TileService._render = counted
