"""Rasters placed on the Earth by ground control points rather than by a geotransform.

A satellite scene as delivered (a Sentinel-1 GRD, say) often carries only GCPs: pixel positions
with their lon/lat. GDAL maps such a raster through its GCP transformer (a polynomial fitted to
the points), as ``gdalwarp`` does by default, and its warper accepts the dataset as it is. So the
reader publishes the raster on the grid ``gdalwarp`` would give it, in the GCPs' CRS, warps every
read through that transformer, and asks the same transformer which source pixels a view needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.transform import GCPTransformer
from rasterio.warp import calculate_default_transform

from ogcserver.model.geo import BBox, canonical_crs

MIN_GCPS = 3  # fewer cannot fit even a first-order polynomial
WINDOW_SAMPLES = 21  # points a side of a view whose source pixels are looked up
WINDOW_MARGIN = 2  # source pixels added around them: the polynomial is not exactly invertible


@dataclass(frozen=True)
class Placement:
    """Where a raster georeferenced by GCPs lies: the grid ``gdalwarp`` gives it by default."""

    crs: str
    bounds: BBox
    width: int
    height: int


def by_gcps(ds: rasterio.DatasetReader) -> bool:
    """Whether the dataset is placed by GCPs alone (it has no geotransform of its own)."""
    gcps, crs = ds.gcps
    return ds.transform.is_identity and len(gcps) >= MIN_GCPS and crs is not None


def placement(ds: rasterio.DatasetReader) -> Placement:
    """The CRS, extent and size of the raster as ``gdalwarp`` maps it without options."""
    gcps, gcp_crs = ds.gcps
    transform, width, height = calculate_default_transform(gcp_crs, gcp_crs, ds.width, ds.height, gcps=gcps)
    crs = canonical_crs(gcp_crs.to_wkt())
    left, top = transform * (0, 0)
    right, bottom = transform * (width, height)
    return Placement(crs, BBox(min(left, right), min(top, bottom), max(left, right), max(top, bottom), crs),
                     width, height)


def _pixels(ds: rasterio.DatasetReader, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the pixels points given in the GCPs' CRS fall in, by the inverse GCP
    transform (as floats: a point the polynomial cannot place is not finite)."""
    with GCPTransformer(ds.gcps[0]) as transformer:
        rows, cols = transformer.rowcol(xs, ys, op=np.floor)
    return np.asarray(rows, dtype="float64"), np.asarray(cols, dtype="float64")


def window_size(ds: rasterio.DatasetReader, box: BBox) -> tuple[int, int]:
    """Columns and rows of ``ds`` (an overview level or the full image) that a view over ``box``
    (in the GCPs' CRS) reads: the pixels its sampled edges and interior fall in, with a margin."""
    xs, ys = np.meshgrid(np.linspace(box.minx, box.maxx, WINDOW_SAMPLES), np.linspace(box.miny, box.maxy, WINDOW_SAMPLES))
    rows, cols = _pixels(ds, xs.ravel(), ys.ravel())
    ok = np.isfinite(rows) & np.isfinite(cols)
    if not ok.any():
        return ds.width, ds.height
    c0 = max(0, int(cols[ok].min()) - WINDOW_MARGIN)
    c1 = min(ds.width, int(cols[ok].max()) + 1 + WINDOW_MARGIN)
    r0 = max(0, int(rows[ok].min()) - WINDOW_MARGIN)
    r1 = min(ds.height, int(rows[ok].max()) + 1 + WINDOW_MARGIN)
    return max(0, c1 - c0), max(0, r1 - r0)


def pixel_at(ds: rasterio.DatasetReader, x: float, y: float) -> tuple[int, int] | None:
    """The (row, col) of the pixel a point in the GCPs' CRS falls in; None where the polynomial
    cannot place it."""
    rows, cols = _pixels(ds, np.array([x]), np.array([y]))
    if not (math.isfinite(rows[0]) and math.isfinite(cols[0])):
        return None
    return int(rows[0]), int(cols[0])
