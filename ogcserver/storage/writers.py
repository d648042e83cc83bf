"""Write rasters the core computed (mosaic-level overviews) as tiled GeoTIFFs with a mask.

Each build writes new files that nothing references yet; the catalog points servers at them
once they are complete, so a server never opens a half-written overview, and handles it holds
on an older build stay valid.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from ogcserver.model.image import Grid, alpha_of

PROFILE = {"driver": "GTiff", "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
           "predictor": 2, "bigtiff": "IF_SAFER"}


class GeoTiffWriter:
    """One output at a time: ``begin`` (new, or a copy of an older build), ``write``, ``close``."""

    def __init__(self) -> None:
        self._ds: rasterio.io.DatasetWriter | None = None

    def begin(self, path: str, grid: Grid, count: int, dtype: str, copy_from: str | None = None) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
            if copy_from is not None:
                shutil.copyfile(copy_from, target)
                self._ds = rasterio.open(target, "r+")
            else:
                self._ds = rasterio.open(target, "w", width=grid.width, height=grid.height, count=count,
                                         dtype=dtype, crs=grid.crs, transform=grid.transform, **PROFILE)

    def write(self, window: tuple[int, int, int, int], data: np.ndarray, valid: np.ndarray) -> None:
        r0, r1, c0, c1 = window
        w = Window(c0, r0, c1 - c0, r1 - r0)
        if self._ds is None:
            raise RuntimeError("write() before begin()")
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
            self._ds.write(data, window=w)
            self._ds.write_mask(alpha_of(valid), window=w)

    def close(self) -> None:
        if self._ds is not None:
            self._ds.close()
            self._ds = None


def remove_builds(folder: str, keep: set[str]) -> None:
    """Delete overview builds other than ``keep`` (open handles on them stay readable)."""
    root = Path(folder)
    if root.is_dir():
        for build in root.iterdir():
            if build.name not in keep:
                shutil.rmtree(build, ignore_errors=True)
