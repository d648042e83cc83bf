"""Analysis products on disk: a job's chunk files, its manifest, and the finished COG.

Each chunk is written by a worker as its own small GeoTIFF under the job's folder, atomically (a
temporary name, then a rename), so a chunk file that exists is whole: a re-run counts it done.
The manifest records the job's parameters digest; a folder with another digest is another job.
When every chunk exists they are assembled into one cloud-optimized GeoTIFF (tiled, compressed,
with overviews, nodata or an internal mask, and the grid's exact georeferencing), renamed into
place only when complete.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.windows import Window

from ogcserver.model.image import Grid

COG_BLOCK = 512


def _profile(grid: Grid, count: int, dtype: str, nodata: float | None, block: int) -> dict:
    profile: dict = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": count, "dtype": dtype,
        "crs": rasterio.crs.CRS.from_user_input(grid.crs), "transform": grid.transform,
        "compress": "deflate", "predictor": 3 if np.dtype(dtype).kind == "f" else 2, "BIGTIFF": "IF_SAFER",
        "tiled": True, "blockxsize": block, "blockysize": block,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    return profile


class ProductFolder:
    """A job's working folder (``<products>/.work/<name>``) and its product (``<products>/<name>.tif``)."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.work = root / ".work" / name
        self.product = root / f"{name}.tif"

    def manifest(self) -> dict | None:
        try:
            return json.loads((self.work / "manifest.json").read_text())
        except (OSError, ValueError):
            return None

    def start(self, manifest: dict) -> None:
        """Begin (or resume) the job: a folder holding another job's chunks is cleared first."""
        if (self.manifest() or {}).get("digest") != manifest["digest"]:
            shutil.rmtree(self.work, ignore_errors=True)
        (self.work / "chunks").mkdir(parents=True, exist_ok=True)
        _write_atomic(self.work / "manifest.json", json.dumps(manifest, indent=1).encode())

    def chunk_path(self, name: str) -> Path:
        return self.work / "chunks" / f"{name}.tif"

    def chunk_done(self, name: str) -> bool:
        return self.chunk_path(name).exists()

    def remove(self) -> None:
        """Forget the job's chunks (after the product is in place, or when it is discarded)."""
        shutil.rmtree(self.work, ignore_errors=True)


def write_chunk(path: Path, grid: Grid, data: np.ndarray | None, valid: np.ndarray | None, dtype: str,
                count: int, nodata: float | None) -> None:
    """A chunk's values (None: nothing there) as a GeoTIFF, visible only once complete."""
    if data is None or valid is None:
        data = np.zeros((count, grid.height, grid.width), dtype=dtype)
        valid = np.zeros((grid.height, grid.width), dtype=bool)
    data = data.astype(dtype, copy=True)
    if nodata is not None:
        data[:, ~valid] = nodata
    block = COG_BLOCK if grid.width % COG_BLOCK == 0 and grid.height % COG_BLOCK == 0 else 0
    profile = _profile(grid, count, dtype, nodata, block or COG_BLOCK)
    if not block:
        profile.update(tiled=False)
        profile.pop("blockxsize")
        profile.pop("blockysize")
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.tif")
    try:
        with rasterio.open(tmp, "w", **profile) as out:
            out.write(data)
            if nodata is None:
                out.write_mask(valid.astype(np.uint8) * 255)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def assemble_cog(folder: ProductFolder, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]],
                 dtype: str, count: int, nodata: float | None, names: tuple[str, ...]) -> Path:
    """Every chunk into one COG at ``folder.product`` (replacing it), with overviews down to
    about one block and the bands named."""
    mosaic = folder.work / "mosaic.tif"
    profile = _profile(grid, count, dtype, nodata, COG_BLOCK)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(mosaic, "w", **profile) as out:
        for name, (row0, row1, col0, col1) in chunk_windows.items():
            window = Window(col0, row0, col1 - col0, row1 - row0)
            with rasterio.open(folder.chunk_path(name)) as chunk:
                out.write(chunk.read(), window=window)
                if nodata is None:
                    out.write_mask(chunk.read_masks(1), window=window)
        for band, band_name in enumerate(names, start=1):
            if band_name:
                out.set_band_description(band, band_name)
    tmp = folder.root / f".tmp-{uuid.uuid4().hex}.tif"
    levels = max(0, math.ceil(math.log2(max(grid.width, grid.height) / COG_BLOCK)))
    try:
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
            rasterio.shutil.copy(mosaic, tmp, driver="COG", compress="DEFLATE",
                                 predictor="FLOATING_POINT" if np.dtype(dtype).kind == "f" else "YES",
                                 blocksize=COG_BLOCK, overviews="AUTO" if levels else "NONE",
                                 overview_resampling="AVERAGE", bigtiff="IF_SAFER")
        os.replace(tmp, folder.product)
    finally:
        tmp.unlink(missing_ok=True)
        mosaic.unlink(missing_ok=True)
    return folder.product


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
