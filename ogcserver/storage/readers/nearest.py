"""Nearest-neighbour placement of a north-up array onto a north-up view in the same CRS, without
GDAL's warper where its choice of cells is not in doubt.

Between two north-up grids of one CRS the warper's nearest pick is separable: the pixel in row
j, column i takes the source cell in the row under the centre of row j and the column under the
centre of column i, each ``floor(position + 1e-10)`` (GDAL's tolerance, so a centre on a cell edge
takes the cell after it). The warper's fixed cost (about 2 ms a call: datasets, transformer,
options) is most of a small view's read; the picks cost a fancy index.

Where the warper's own rounding decides, the picks are not made and the caller warps:
a centre on or before the array's first edge (GDAL drops a centre a hair before it, keeps one
on it, by its floating-point arithmetic), or past its last edge (a geographic source is then
searched a turn of the globe away). The views this leaves lie wholly inside the array.
"""

from __future__ import annotations

import numpy as np
from affine import Affine

from ogcserver.model.image import Grid

GDAL_TOLERANCE = 1e-10  # added by GDAL's nearest kernel before flooring a source position
EDGE_DOUBT = 1e-9  # source positions this close to the first edge are left to the warper


def axis_picks(origin: float, step: float, count: int, source_origin: float, source_step: float,
               size: int) -> np.ndarray | None:
    """The source index under each of ``count`` pixel centres along one axis; None when a centre
    is not clearly inside the ``size`` source cells."""
    position = (origin + (np.arange(count) + 0.5) * step - source_origin) / source_step
    if count == 0 or position.min() < EDGE_DOUBT:
        return None
    picks = np.floor(position + GDAL_TOLERANCE).astype(np.intp)
    if picks.max() >= size:
        return None
    return picks


def is_north_up(transform: Affine) -> bool:
    return transform.b == 0 and transform.d == 0 and transform.a > 0 and transform.e < 0


def pick_nearest(values: np.ndarray, transform: Affine, crs: str, grid: Grid) -> np.ndarray | None:
    """``values`` (north-up, on ``transform`` in ``crs``) on ``grid`` as GDAL's nearest warp places
    them; None where the warper must decide (another CRS, a rotated grid, a view not wholly
    inside the values)."""
    t = grid.transform
    if crs != grid.crs or not (is_north_up(transform) and is_north_up(t)):
        return None
    height, width = values.shape[-2:]
    cols = axis_picks(t.c, t.a, grid.width, transform.c, transform.a, width)
    rows = axis_picks(t.f, t.e, grid.height, transform.f, transform.e, height)
    if cols is None or rows is None:
        return None
    # one axis, then the other (a third of a 2-D gather's time), the smaller intermediate first
    if rows.size * width <= height * cols.size:
        return values.take(rows, axis=-2).take(cols, axis=-1)
    return values.take(cols, axis=-1).take(rows, axis=-2)
