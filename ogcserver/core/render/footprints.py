"""Item footprints drawn as a picture: what a zoomed-out view of a huge collection shows when
it has no mosaic-level overview, instead of opening thousands of files or timing out."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from ogcserver.model.catalog import CatalogItem
from ogcserver.model.geo import WGS84, BBox, transform_bbox, transform_coords
from ogcserver.model.image import Grid, RGBAImage

FOOTPRINTS_DRAWN = 5000
FILL = (255, 153, 0, 48)
OUTLINE = (230, 110, 0, 255)


def grid_lonlat(grid: Grid) -> BBox | None:
    """The view in lon/lat, or None outside the CRS's domain."""
    try:
        box = transform_bbox(grid.bbox, WGS84)
    except Exception:  # noqa: BLE001 - a view PROJ cannot place on the globe
        return None
    return box if box.is_valid() else None


def _rings(footprint: dict | None, item: CatalogItem) -> list[list[list[float]]]:
    if footprint is None:
        b = item.lonlat_bounds
        return [[[b.minx, b.miny], [b.maxx, b.miny], [b.maxx, b.maxy], [b.minx, b.maxy], [b.minx, b.miny]]]
    polygons = footprint["coordinates"] if footprint["type"] == "MultiPolygon" else [footprint["coordinates"]]
    return [ring for polygon in polygons for ring in polygon[:1]]  # outer rings


def footprint_picture(items: list[CatalogItem], grid: Grid) -> RGBAImage:
    canvas = Image.new("RGBA", (grid.width, grid.height), (0, 0, 0, 0))
    fill = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    lines, areas = ImageDraw.Draw(canvas), ImageDraw.Draw(fill)
    inverse = ~grid.transform
    for item in items:
        for ring in _rings(item.footprint, item):
            xs, ys = transform_coords([p[0] for p in ring], [p[1] for p in ring], WGS84, grid.crs)
            points = [inverse * (x, y) for x, y in zip(xs, ys) if np.isfinite(x) and np.isfinite(y)]
            if len(points) >= 3:
                areas.polygon(points, fill=FILL)
                lines.line(points + points[:1], fill=OUTLINE, width=2)
    picture = Image.alpha_composite(fill, canvas)
    return RGBAImage(np.asarray(picture).copy(), grid)
