"""Reference results computed straight from the source files with rasterio, not with ogcserver."""

from __future__ import annotations

import io

import numpy as np
import rasterio
from PIL import Image
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.transform import from_bounds
from rasterio.warp import reproject


def reference_warp(path, bbox, crs: str, size: tuple[int, int], resampling: str = "nearest", bands=(1, 2, 3)):
    """(values, valid) of the source warped to the grid by rasterio.warp.reproject (GDAL defaults).

    GDAL's default transformer is approximate (error below 0.125 pixel, fitted over the window
    being warped); ogcserver warps with a far smaller error so that a mosaic does not depend on
    how a view is split. ``exact_nearest`` is the reference for that.
    """
    width, height = size
    with rasterio.open(path) as src:
        out = np.zeros((len(bands) + 1, height, width), dtype=src.dtypes[0])
        reproject(
            rasterio.band(src, list(bands)), out,
            dst_transform=from_bounds(*bbox, width, height), dst_crs=crs,
            dst_alpha=len(bands) + 1, resampling=Resampling[resampling],
        )
    return out[:-1], out[-1] > 0


def exact_nearest(path, bbox, crs: str, size: tuple[int, int], bands=(1, 2, 3), with_edges: bool = False,
                  overview_level: int | None = None):
    """(values, valid) by nearest neighbour computed independently of GDAL's warper.

    Each output pixel centre is transformed exactly by pyproj into the source CRS and takes the
    source pixel it falls in, as GDAL's nearest kernel does with an exact transformer. With
    ``with_edges``, also how far (in source pixels) each centre lies from the nearest pixel edge:
    where that is below a warper's transform error, either neighbour is a correct answer.
    ``overview_level`` reads one of the file's overviews (0 the first) instead of full resolution.
    """
    width, height = size
    dst = from_bounds(*bbox, width, height)
    with rasterio.open(path, **({} if overview_level is None else {"overview_level": overview_level})) as src:
        data = src.read(list(bands))
        mask = src.dataset_mask() > 0
        to_src = Transformer.from_crs(CRS.from_user_input(crs), CRS.from_wkt(src.crs.to_wkt()), always_xy=True)
        rows, cols = np.mgrid[0:height, 0:width]
        x = dst.c + (cols + 0.5) * dst.a
        y = dst.f + (rows + 0.5) * dst.e
        sx, sy = to_src.transform(x, y)
        t = src.transform
        col = np.floor((sx - t.c) / t.a).astype(np.int64)
        row = np.floor((sy - t.f) / t.e).astype(np.int64)
        inside = (col >= 0) & (col < src.width) & (row >= 0) & (row < src.height)
        col, row = np.where(inside, col, 0), np.where(inside, row, 0)
        valid = inside & mask[row, col]
        values = np.where(valid, data[:, row, col], 0).astype(data.dtype)
    if with_edges:
        fx, fy = (sx - t.c) / t.a, (sy - t.f) / t.e
        edge = np.minimum(np.abs(fx - np.rint(fx)), np.abs(fy - np.rint(fy)))
        return values, valid, edge
    return values, valid


def assert_equal_but_at_edges(
    got: np.ndarray, ref: np.ndarray, edge: np.ndarray, error: float, at_most: float = 0.01
) -> None:
    """Pixels are identical except where the centre lies within ``error`` of a source pixel edge."""
    differ = (got != ref).any(axis=0)
    assert not (differ & (edge > error)).any(), f"{int((differ & (edge > error)).sum())} pixels differ"
    assert differ.mean() < at_most


def default_stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """The documented default for non-8-bit bands: ``low`` to 0 and ``high`` to 255, linearly,
    clipped (in float32, as a renderer on large views does)."""
    out = (values.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.clip(out, 0, 255).astype(np.uint8)


def decode(body: bytes) -> np.ndarray:
    """Decoded picture as (rows, cols, channels)."""
    img = Image.open(io.BytesIO(body))
    img.load()
    arr = np.asarray(img.convert("RGBA") if img.mode == "P" else img)
    return arr if arr.ndim == 3 else arr[..., None]


def opacity(img: np.ndarray) -> np.ndarray:
    """The alpha channel; an RGB picture (sent when fully opaque) counts as all 255."""
    return img[..., 3] if img.shape[2] == 4 else np.full(img.shape[:2], 255, np.uint8)


def params(**kw) -> dict:
    base = {"SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "STYLES": "", "FORMAT": "image/png"}
    base.update({k.upper(): v for k, v in kw.items()})
    return base
