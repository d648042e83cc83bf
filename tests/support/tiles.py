"""Tile addresses for tests: the tile of a tile matrix set that holds a given point."""

from __future__ import annotations

from ogcserver.core import tiling
from ogcserver.model.geo import BBox, transform_bbox
from tests.support import rasters


def tile_at(z: int, dx: float = 500, dy: float = 600, tms_id: str = "WebMercatorQuad") -> tuple[int, int]:
    """(x, y) of the zoom-z tile holding the point dx metres east, dy south of the test origin."""
    tms = tiling.well_known(tms_id)
    x0, y0 = rasters.ORIGIN
    point = transform_bbox(BBox(x0 + dx, y0 - dy, x0 + dx + 1, y0 - dy + 1, "EPSG:32632"), tms.crs)
    x, y, _, _ = tms.tiles_over(point, z)
    return x, y
