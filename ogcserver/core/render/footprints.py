"""Item footprints drawn as a picture: what a zoomed-out view of a huge collection shows when
it has no mosaic-level overview, instead of opening thousands of files or timing out."""

from __future__ import annotations

import numpy as np
import shapely.geometry
from PIL import Image, ImageDraw

from ogcserver.model.catalog import CatalogItem
from ogcserver.model.geo import WGS84, BBox, lonlat_shape, to_lonlat, transform_coords
from ogcserver.model.image import Grid, RGBAImage

FOOTPRINTS_DRAWN = 2000  # the newest (by the request's order); the picture says 'zoom in' anyway
FILL = (255, 153, 0, 48)
OUTLINE = (230, 110, 0, 255)


def grid_lonlat(grid: Grid) -> BBox | None:
    """The view in lon/lat, or None outside the CRS's domain."""
    try:
        box = to_lonlat(grid.bbox)
    except Exception:  # noqa: BLE001 - a view PROJ cannot place on the globe
        return None
    return box if box.is_valid() else None


def _rings(footprint: dict | None, item: CatalogItem) -> list[list[list[float]]]:
    if footprint is None:
        footprint = shapely.geometry.mapping(lonlat_shape(item.lonlat_bounds))  # cut at 180, as footprints are
    polygons = footprint["coordinates"] if footprint["type"] == "MultiPolygon" else [footprint["coordinates"]]
    return [ring for polygon in polygons for ring in polygon[:1]]  # outer rings


def footprint_picture(items: list[CatalogItem], grid: Grid) -> RGBAImage:
    canvas = Image.new("RGBA", (grid.width, grid.height), (0, 0, 0, 0))
    fill = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    lines, areas = ImageDraw.Draw(canvas), ImageDraw.Draw(fill)
    rings = [np.asarray(ring, dtype=float)[:, :2] for item in items for ring in _rings(item.footprint, item)]
    if not rings:
        return RGBAImage(np.zeros((grid.height, grid.width, 4), np.uint8), grid)
    coords = np.concatenate(rings)
    xs, ys = transform_coords(coords[:, 0], coords[:, 1], WGS84, grid.crs)  # one PROJ call for all
    t = ~grid.transform
    cols, rows = t.a * xs + t.b * ys + t.c, t.d * xs + t.e * ys + t.f
    start = 0
    for ring in rings:
        c, r = cols[start:start + len(ring)], rows[start:start + len(ring)]
        start += len(ring)
        keep = np.isfinite(c) & np.isfinite(r)
        points = list(zip(c[keep].tolist(), r[keep].tolist()))
        if len(points) >= 3:
            areas.polygon(points, fill=FILL)
            lines.line(points + points[:1], fill=OUTLINE, width=2)
    picture = Image.alpha_composite(fill, canvas)
    return RGBAImage(np.asarray(picture).copy(), grid)
