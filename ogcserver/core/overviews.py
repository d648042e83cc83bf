"""Mosaic-level overviews: the whole mosaic rendered once at coarse resolutions, so zoomed-out
views read one file instead of opening thousands of items.

Level 0 is the mosaic (the layer's own rule) at ``factor`` times the layer's resolution, each
next level half as fine, down to about 256 pixels; level 0 is read from the items like any view
(core/read.py, which also chooses the level a view reads). A refresh re-renders only the blocks under
items changed since the build (the catalog's change log), into a new build that servers switch
to once it is complete. Until then the changed areas are read from the items themselves.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine

from ogcserver.core.catalog import Layer, LayerCatalog
from ogcserver.core.read import ReadRequest, ViewReader
from ogcserver.model.catalog import LayerInfo, SourceInfo
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox, transform_bbox
from ogcserver.model.image import Grid
from ogcserver.storage.interfaces import RasterReader, RasterWriter

log = logging.getLogger(__name__)

BLOCK = 512
MAX_SIDE = 32768
MIN_SIDE = 256
BATCH_ITEMS = 100_000  # items one block may read while building (a batch job, not a request)


@dataclass(frozen=True)
class OverviewReport:
    levels: int
    blocks: int
    seconds: float
    incremental: bool


def level_grids(info: LayerInfo, factor: int) -> list[Grid]:
    """Level grids over the layer's extent, finest first."""
    b = info.bounds
    res = max(info.resolution) * factor
    while max(b.width, b.height) / res > MAX_SIDE:
        res *= 2
    grids = []
    while True:
        width, height = max(1, math.ceil(b.width / res)), max(1, math.ceil(b.height / res))
        grids.append(Grid(b.crs, Affine(res, 0, b.minx, 0, -res, b.maxy), width, height))
        if max(width, height) <= MIN_SIDE:
            return grids
        res *= 2


def _blocks(grid: Grid, areas: tuple[BBox, ...] | None) -> Iterator[tuple[int, int, int, int]]:
    """Block windows of a level: all of them, or those touching the changed areas."""
    wanted: set[tuple[int, int]] | None = None
    if areas is not None:
        wanted = set()
        for area in areas:
            try:
                window = grid.window_of(transform_bbox(area, grid.crs), margin=2)
            except Exception:  # noqa: BLE001 - outside the layer CRS's domain
                continue
            if window is None:
                continue
            r0, r1, c0, c1 = window
            wanted |= {(r, c) for r in range(r0 // BLOCK, (r1 - 1) // BLOCK + 1)
                       for c in range(c0 // BLOCK, (c1 - 1) // BLOCK + 1)}
    for r in range(0, grid.height, BLOCK):
        for c in range(0, grid.width, BLOCK):
            if wanted is None or (r // BLOCK, c // BLOCK) in wanted:
                yield r, min(r + BLOCK, grid.height), c, min(c + BLOCK, grid.width)


class OverviewBuilder:
    def __init__(self, catalog: LayerCatalog, reader: RasterReader, writer: RasterWriter, root: Path,
                 remove_builds: Callable[[str, set[str]], None]) -> None:
        self.catalog = catalog
        self.reader = reader
        self.writer = writer
        self.root = root
        self.remove_builds = remove_builds
        self.views = ViewReader(catalog, reader)

    def build(self, name: str, factor: int = 8, full: bool = False,
              progress: Callable[[int, int], None] | None = None) -> OverviewReport | None:
        """Build or refresh a layer's overview; None when it is up to date."""
        started = time.monotonic()
        layer = self.catalog.layer(name)
        grids = level_grids(layer.info, factor)
        old = self.catalog.overview_record(layer)
        areas: tuple[BBox, ...] | None = None
        if old is not None and not full and old.get("factor") == factor and len(old["paths"]) == len(grids):
            areas = self.catalog.store.changes_since(layer.config.collection_name, old["generation"])
        incremental = areas is not None
        if incremental and not areas:
            return None
        build = f"g{layer.info.generation}-{time.time_ns()}"
        bands = tuple(range(1, layer.info.band_count + 1))
        plans = [list(_blocks(g, areas)) for g in grids]
        total, done = sum(len(p) for p in plans), 0
        paths, previous = [], None
        for k, (grid, blocks) in enumerate(zip(grids, plans)):
            path = str(self.root / name / build / f"{k}.tif")
            copy_from = old["paths"][k] if incremental and old is not None else None
            self.writer.begin(path, grid, len(bands), layer.info.dtype, copy_from)
            try:
                for window in blocks:
                    self._block(layer, grid, window, bands, previous)
                    done += 1
                    if progress is not None:
                        progress(done, total)
            finally:
                self.writer.close()
            previous = self.reader.describe(path, own=True)
            paths.append(path)
        self.catalog.set_overview_record(layer, {"generation": layer.info.generation, "build": build,
                                                 "factor": factor, "paths": paths})
        keep = {build} | ({old["build"]} if old else set())  # servers may still read the previous one
        self.remove_builds(str(self.root / name), keep)
        return OverviewReport(len(grids), total, time.monotonic() - started, incremental)

    def _block(self, layer: Layer, grid: Grid, window: tuple[int, int, int, int], bands: tuple[int, ...],
               previous: SourceInfo | None) -> None:
        sub = grid.subgrid(window)
        if previous is None:  # level 0: the mosaic itself, by the layer's rule, from its items
            raster = self.views.read_values(ReadRequest(layer, sub, bands, Resampling.NEAREST, BATCH_ITEMS, exact=True))
        else:
            raster = self.reader.read(previous, sub, bands, Resampling.AVERAGE)
        if raster is None:
            data = np.zeros((len(bands), sub.height, sub.width), dtype=layer.info.dtype)
            valid = np.zeros((sub.height, sub.width), dtype=bool)
        else:
            data, valid = raster.data, raster.valid
        self.writer.write(window, data, valid)
