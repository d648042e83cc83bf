"""Mosaicking: items are read in mosaic order and each fills only pixels still empty ("first").

Each item is warped only into the part of the view its footprint covers, and an item whose part
is already filled by the items above it is not read at all; reading stops once the view is full.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

import numpy as np

from ogcserver.model.catalog import CatalogItem
from ogcserver.model.errors import RenderTimeout, SourceUnavailable
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import transform_bbox
from ogcserver.model.image import Grid, Raster
from ogcserver.storage.interfaces import RasterReader

log = logging.getLogger(__name__)


def _window(item: CatalogItem, grid: Grid) -> tuple[int, int, int, int] | None:
    """Pixels of the view the item may cover (its footprint in the view's CRS, plus a margin)."""
    try:
        box = transform_bbox(item.source.bounds, grid.crs)
    except Exception:  # noqa: BLE001 - footprint not expressible in the view's CRS: warp it all
        return (0, grid.height, 0, grid.width)
    if not box.is_valid():
        return (0, grid.height, 0, grid.width)
    return grid.window_of(box, margin=2)


def mosaic_first(
    reader: RasterReader,
    items: Iterable[CatalogItem],
    grid: Grid,
    bands: Sequence[int],
    resampling: Resampling,
    deadline: float,
) -> tuple[Raster | None, list[CatalogItem]]:
    """The mosaic on ``grid`` and the items that contributed pixels (top first)."""
    data: np.ndarray | None = None
    valid = np.zeros((grid.height, grid.width), dtype=bool)
    names: tuple[str, ...] = ()
    used: list[CatalogItem] = []
    for item in items:
        if time.monotonic() > deadline:
            raise RenderTimeout("rendering took longer than the configured time limit")
        if item.source.count < max(bands):
            continue
        window = _window(item, grid)
        if window is None:
            continue
        r0, r1, c0, c1 = window
        target = valid[r0:r1, c0:c1]
        if target.all():
            continue  # the items above already cover this one's part of the view
        try:
            part = reader.read(item.source, grid.subgrid(window), bands, resampling)
        except SourceUnavailable:
            # A file that broke since it was indexed: the view is drawn without it (the next
            # index refresh drops it), rather than failing for every user of the layer.
            log.warning("source skipped", extra={"item": item.name, "collection": item.collection})
            continue
        if part is None:
            continue
        if data is None and part.data.shape[1:] == valid.shape and part.valid.all():
            return Raster(part.data, part.valid, grid, part.band_names), [item]  # one item fills the view
        if data is None:
            data = np.zeros((len(bands), grid.height, grid.width), dtype=part.data.dtype)
            names = part.band_names
        fill = part.valid & ~target
        if not fill.any():
            continue
        view = data[:, r0:r1, c0:c1]
        if fill.all():
            view[...] = part.data
        else:
            np.copyto(view, part.data, where=fill[None, :, :])
        target |= fill
        used.append(item)
        if valid.all():
            break
    if data is None:
        return None, used
    return Raster(data, valid, grid, names), used
