"""Mosaicking: items are read in mosaic order and each fills only pixels still empty ("first").

Reading stops as soon as every output pixel has a value, so the items under the top one are
not read when it covers the whole view.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import numpy as np

from ogcserver.model.catalog import CatalogItem
from ogcserver.model.errors import RenderTimeout
from ogcserver.model.formats import Resampling
from ogcserver.model.image import Grid, Raster
from ogcserver.storage.interfaces import RasterReader


def mosaic_first(
    reader: RasterReader,
    items: Iterable[CatalogItem],
    grid: Grid,
    bands: Sequence[int],
    resampling: Resampling,
    deadline: float,
) -> tuple[Raster | None, list[CatalogItem]]:
    """The mosaic on ``grid`` and the items that contributed pixels (top first)."""
    result: Raster | None = None
    used: list[CatalogItem] = []
    for item in items:
        if time.monotonic() > deadline:
            raise RenderTimeout("rendering took longer than the configured time limit")
        if item.source.count < max(bands):
            continue
        part = reader.read(item.source, grid, bands, resampling)
        if part is None:
            continue
        if result is None:
            result = part
            used.append(item)
        else:
            fill = part.valid & ~result.valid
            if not fill.any():
                continue
            result.data[:, fill] = part.data[:, fill]
            result.valid |= fill
            used.append(item)
        if result.valid.all():
            break
    return result, used


def coverage_fraction(raster: Raster | None) -> float:
    return 0.0 if raster is None else float(np.count_nonzero(raster.valid)) / raster.valid.size
