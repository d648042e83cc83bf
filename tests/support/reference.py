"""Reference results computed straight from the source files with rasterio, not with ogcserver."""

from __future__ import annotations

import io

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rasterio.transform import from_bounds
from rasterio.warp import reproject


def reference_warp(path, bbox, crs: str, size: tuple[int, int], resampling: str = "nearest", bands=(1, 2, 3)):
    """(values, valid) of the source warped to the grid, by rasterio.warp.reproject."""
    width, height = size
    with rasterio.open(path) as src:
        out = np.zeros((len(bands) + 1, height, width), dtype=src.dtypes[0])
        reproject(
            rasterio.band(src, list(bands)), out,
            dst_transform=from_bounds(*bbox, width, height), dst_crs=crs,
            dst_alpha=len(bands) + 1, resampling=Resampling[resampling],
        )
    return out[:-1], out[-1] > 0


def decode(body: bytes) -> np.ndarray:
    """Decoded picture as (rows, cols, channels)."""
    img = Image.open(io.BytesIO(body))
    img.load()
    arr = np.asarray(img.convert("RGBA") if img.mode == "P" else img)
    return arr if arr.ndim == 3 else arr[..., None]


def params(**kw) -> dict:
    base = {"SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "STYLES": "", "FORMAT": "image/png"}
    base.update({k.upper(): v for k, v in kw.items()})
    return base
