"""Valid-data footprints: the polygon where a raster has data, in lon/lat, for the catalog.

Computed from the dataset mask (nodata, internal mask or alpha) read at a low resolution, so
a scene with a rotated or ragged collar is not selected for views that only touch its collar.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import rasterio
import rasterio.features
import rasterio.warp
import shapely
from shapely.geometry import mapping, shape

FOOTPRINT_PIXELS = 256  # longest side of the mask the polygon is traced on


class NoValidPixel(ValueError):
    """The raster holds nothing but nodata: there is nothing to publish."""


def valid_footprint(ds: rasterio.DatasetReader, max_pixels: int = FOOTPRINT_PIXELS) -> dict[str, Any] | None:
    """GeoJSON (Multi)Polygon of the valid pixels in lon/lat; None when the outline cannot be
    expressed in lon/lat (the catalog then uses the raster's extent). Raises NoValidPixel.

    The outline is traced on a mask of at most ``max_pixels`` a side, simplified by one such
    pixel and grown by one, so it never excludes a valid source pixel that the trace merged.
    """
    scale = max(1.0, max(ds.width, ds.height) / max_pixels)
    width, height = max(1, round(ds.width / scale)), max(1, round(ds.height / scale))
    mask = ds.dataset_mask(out_shape=(height, width))  # nearest, from an overview where there is one
    if not mask.any():
        raise NoValidPixel("no valid pixel")
    transform = ds.transform * rasterio.Affine.scale(ds.width / width, ds.height / height)
    cell = max(abs(transform.a), abs(transform.e))
    if mask.all():
        b = ds.bounds
        outline = shapely.box(b.left, b.bottom, b.right, b.top)
    else:
        parts = [shape(g) for g, v in rasterio.features.shapes(
            (mask > 0).astype(np.uint8), mask=mask > 0, transform=transform, connectivity=8) if v]
        outline = shapely.union_all(parts).simplify(cell, preserve_topology=True).buffer(cell, join_style="mitre")
    outline = shapely.segmentize(outline, cell * 16)  # curved edges in lon/lat stay covered
    try:
        geom = rasterio.warp.transform_geom(ds.crs, "EPSG:4326", mapping(outline), antimeridian_cutting=True)
        return _orient(geom)
    except Exception:  # noqa: BLE001 - PROJ cannot place every point (e.g. beyond a projection's domain)
        return None


def _orient(geom: dict[str, Any]) -> dict[str, Any]:
    """A valid geometry with counter-clockwise outer rings (GeoJSON's right-hand rule)."""
    return mapping(shapely.orient_polygons(shapely.make_valid(shape(geom))))
