"""Rasters placed on the Earth by a ground model rather than by a geotransform: GCPs or RPCs.

A satellite scene as delivered often carries only GCPs (pixel positions with their lon/lat; a
Sentinel-1 GRD) or RPCs (rational polynomial coefficients of the sensor; most optical scenes).
GDAL maps such a raster through its GCP transformer (a polynomial fitted to the points, as
``gdalwarp`` does by default) or its RPC transformer (``gdalwarp -rpc``; here at the height the
RPCs are centred on, HEIGHT_OFF). So the reader publishes the raster on the grid ``gdalwarp``
would give it, in the GCPs' CRS (lon/lat for RPCs), reads every view through that transformer,
and asks the same transformer which source pixels a view needs.

rasterio's ``WarpedVRT`` ignores GCPs and RPCs once it is given a target grid (it builds its
transformer from the source's geotransform), and ``reproject`` lands a fraction of a pixel away
from ``gdalwarp``; nearest neighbour is therefore computed here, each output pixel centre taking
the source pixel GDAL's inverse transform names, which is exactly what ``gdalwarp -r near``
gives. Other kernels go through ``reproject``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
import rasterio.enums
from rasterio.crs import CRS
from rasterio.transform import GCPTransformer, RPCTransformer
from rasterio.warp import calculate_default_transform, reproject
from rasterio.windows import Window

from ogcserver.model.budget import check_deadline
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import WGS84, BBox, canonical_crs, transform_coords
from ogcserver.model.image import Grid

MIN_GCPS = 3  # fewer cannot fit even a first-order polynomial
WINDOW_SAMPLES = 21  # points a side of a view whose source pixels are looked up
WINDOW_MARGIN = 2  # source pixels added around them: the model is not exactly invertible


@dataclass(frozen=True)
class Placement:
    """Where a raster placed by its ground model lies: the grid ``gdalwarp`` gives it by default."""

    crs: str
    bounds: BBox
    width: int
    height: int


def has_gcps(ds: rasterio.DatasetReader) -> bool:
    """Whether the dataset carries enough GCPs, with their CRS, to be placed by them."""
    gcps, crs = ds.gcps
    return len(gcps) >= MIN_GCPS and crs is not None


def has_ground_model(ds: rasterio.DatasetReader) -> bool:
    """Whether the dataset carries GCPs (enough, with their CRS) or RPCs."""
    return has_gcps(ds) or ds.rpcs is not None


def by_ground_model(ds: rasterio.DatasetReader) -> bool:
    """Whether the dataset is placed by GCPs or RPCs alone (it has no geotransform of its own).
    Only for a dataset opened without an overview level: one opened at a level (or pinned to the
    full image) shows rasterio an uninitialised geotransform instead of the identity."""
    return ds.transform.is_identity and has_ground_model(ds)


def _model(ds: rasterio.DatasetReader) -> tuple[CRS, dict[str, Any]]:
    """The CRS the model places pixels in, and how GDAL is told to use it (GCPs win over RPCs,
    as in GDAL's own choice)."""
    if has_gcps(ds):
        return ds.gcps[1], {"gcps": ds.gcps[0]}
    return CRS.from_user_input(WGS84), {"rpcs": ds.rpcs, "RPC_HEIGHT": ds.rpcs.height_off}


def _transformer(ds: rasterio.DatasetReader) -> GCPTransformer | RPCTransformer:
    if has_gcps(ds):
        return GCPTransformer(ds.gcps[0])
    return RPCTransformer(ds.rpcs, RPC_HEIGHT=ds.rpcs.height_off)


def placement(ds: rasterio.DatasetReader) -> Placement:
    """The CRS, extent and size of the raster as ``gdalwarp`` maps it without options."""
    model_crs, model = _model(ds)
    transform, width, height = calculate_default_transform(model_crs, model_crs, ds.width, ds.height, **model)
    crs = canonical_crs(model_crs.to_wkt())
    left, top = transform * (0, 0)
    right, bottom = transform * (width, height)
    return Placement(crs, BBox(min(left, right), min(top, bottom), max(left, right), max(top, bottom), crs),
                     width, height)


def _pixels(ds: rasterio.DatasetReader, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the pixels points given in the model's CRS fall in, by its inverse
    transform (as floats: a point the model cannot place is not finite)."""
    with _transformer(ds) as transformer:
        rows, cols = transformer.rowcol(xs, ys, op=np.floor)
    return np.asarray(rows, dtype="float64"), np.asarray(cols, dtype="float64")


def window_size(ds: rasterio.DatasetReader, box: BBox) -> tuple[int, int]:
    """Columns and rows of ``ds`` (an overview level or the full image) that a view over ``box``
    (in the model's CRS) reads: the pixels its sampled edges and interior fall in, with a margin."""
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
    """The (row, col) of the pixel a point in the model's CRS falls in; None where the model
    cannot place it."""
    rows, cols = _pixels(ds, np.array([x]), np.array([y]))
    if not (math.isfinite(rows[0]) and math.isfinite(cols[0])):
        return None
    return int(rows[0]), int(cols[0])


def warp_by_model(ds: rasterio.DatasetReader, crs: str, grid: Grid, bands: Sequence[int], resampling: Resampling,
                  rows_at_once: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, valid) of ``grid`` from ``ds`` (the full image or an overview level, whose GCPs
    or RPCs GDAL scales to it), ``crs`` being the model's CRS."""
    if resampling is not Resampling.NEAREST:
        out = np.zeros((len(bands) + 1, grid.height, grid.width), dtype=ds.dtypes[0])
        check_deadline()
        model = {} if has_gcps(ds) else _model(ds)[1]  # GDAL takes a dataset's own GCPs unasked
        reproject(rasterio.band(ds, list(bands)), out, dst_transform=grid.transform, dst_crs=grid.crs,
                  dst_alpha=len(bands) + 1, resampling=rasterio.enums.Resampling[resampling.value], **model)
        return out[:-1], out[-1] > 0
    values = np.zeros((len(bands), grid.height, grid.width), dtype=ds.dtypes[0])
    valid = np.zeros((grid.height, grid.width), dtype=bool)
    t = grid.transform
    cols = t.c + (np.arange(grid.width) + 0.5) * t.a
    for r0 in range(0, grid.height, rows_at_once):
        check_deadline()
        r1 = min(grid.height, r0 + rows_at_once)
        xs, ys = np.meshgrid(cols, t.f + (np.arange(r0, r1) + 0.5) * t.e)
        xs, ys = transform_coords(xs.ravel(), ys.ravel(), grid.crs, crs)
        rows, cols_at = _pixels(ds, np.asarray(xs, dtype="float64"), np.asarray(ys, dtype="float64"))
        with np.errstate(invalid="ignore"):
            inside = (rows >= 0) & (rows < ds.height) & (cols_at >= 0) & (cols_at < ds.width)
        if not inside.any():
            continue
        src_r, src_c = rows[inside].astype(np.int64), cols_at[inside].astype(np.int64)
        window = Window(int(src_c.min()), int(src_r.min()), int(src_c.max() - src_c.min()) + 1,
                        int(src_r.max() - src_r.min()) + 1)
        data = ds.read(list(bands), window=window)
        mask = ds.dataset_mask(window=window) > 0
        src_r -= int(window.row_off)
        src_c -= int(window.col_off)
        strip_valid = np.zeros(inside.shape, dtype=bool)
        strip_valid[inside] = mask[src_r, src_c]
        strip_values = np.zeros((len(bands), inside.size), dtype=values.dtype)
        strip_values[:, inside] = data[:, src_r, src_c]
        strip_values[:, ~strip_valid] = 0
        values[:, r0:r1] = strip_values.reshape(len(bands), r1 - r0, grid.width)
        valid[r0:r1] = strip_valid.reshape(r1 - r0, grid.width)
    return values, valid
