"""Apply a grant's constraints to a read: item filters, an allowed area, a finest resolution."""

from __future__ import annotations

import math

import numpy as np
from rasterio.features import geometry_mask

from ogcserver.core.access import item_allowed
from ogcserver.model.access import Constraints
from ogcserver.model.catalog import CatalogItem
from ogcserver.model.geo import WGS84, transform_coords
from ogcserver.model.image import Grid, Raster


def allowed_items(items: list[CatalogItem], constraints: Constraints) -> list[CatalogItem]:
    if constraints.time is None and not constraints.items:
        return items
    return [item for item in items if item_allowed(item, constraints)]


def _area_in(constraints: Constraints, crs: str) -> dict:
    rings = []
    for ring in constraints.area or ():
        xs, ys = transform_coords([p[0] for p in ring], [p[1] for p in ring], WGS84, crs)
        rings.append(list(zip(xs, ys)))
    return {"type": "Polygon", "coordinates": rings}


def inside_area(grid: Grid, constraints: Constraints) -> np.ndarray | None:
    """Pixels of the grid inside the allowed area (None: no area constraint)."""
    if constraints.area is None:
        return None
    shape = _area_in(constraints, grid.crs)
    return geometry_mask([shape], out_shape=(grid.height, grid.width), transform=grid.transform, invert=True)


def mask_outside_area(raster: Raster, constraints: Constraints) -> Raster:
    """The raster with the pixels outside the allowed area invalid and their values erased:
    a picture's transparent pixels or a chain's intermediates must not carry them either."""
    inside = inside_area(raster.grid, constraints)
    if inside is not None:
        raster.valid &= inside
        raster.data[:, ~inside] = 0
    return raster


def point_in_area(x: float, y: float, crs: str, constraints: Constraints) -> bool:
    if constraints.area is None:
        return True
    (lon,), (lat,) = transform_coords([x], [y], crs, WGS84)
    inside = False
    for ring in constraints.area:  # even-odd rule over every ring (holes included)
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]):
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
    return inside


def resolution_factor(grid: Grid, layer_crs: str, constraints: Constraints) -> int:
    """How many times coarser than the grid a read must be to respect max_resolution (1: not)."""
    if constraints.max_resolution is None:
        return 1
    size = grid.pixel_size_in(layer_crs)
    if size is None:
        return 1
    finest = min(size)
    return max(1, math.ceil(constraints.max_resolution / finest - 1e-9))


def sample_point(grid: Grid, col: int, row: int, layer_crs: str, constraints: Constraints) -> tuple[float, float]:
    """Where a point query at a grid pixel reads the sources: the pixel's centre, or under a
    finest resolution the centre of the coarse pixel a map of the same view reads for it, so
    that a point query tells no more than the map shows."""
    factor = resolution_factor(grid, layer_crs, constraints)
    if factor > 1:
        grid, col, row = grid.coarsened(factor), col // factor, row // factor
    return grid.transform * (col + 0.5, row + 0.5)


def upsample(raster: Raster, grid: Grid, factor: int) -> Raster:
    """A coarse read spread back onto the requested grid (each value repeated factor x factor)."""
    data = raster.data.repeat(factor, axis=1).repeat(factor, axis=2)[:, : grid.height, : grid.width]
    valid = raster.valid.repeat(factor, axis=0).repeat(factor, axis=1)[: grid.height, : grid.width]
    return Raster(np.ascontiguousarray(data), np.ascontiguousarray(valid), grid, raster.band_names)
