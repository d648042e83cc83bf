"""Writing Cloud Optimized GeoTIFFs and describing them in the manifest."""

from __future__ import annotations

import hashlib
import math
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile

from samples.area import CRS
from samples.grids import Grid


def _ov_levels(width: int, height: int):
    return [f for f in (2, 4, 8) if min(width, height) // f >= 32]


def _blocksize(pref: int, width: int, height: int) -> int:
    need = 1 << max(6, int(math.ceil(math.log2(max(width, height)))))
    return min(pref, need)


def write_cog(path: Path, data: np.ndarray, grid: Grid, *, predictor: str, blocksize: int,
               nodata=None, mask=None, descriptions=(), colorinterp=None, units=None,
               tags=None, band_tags=None) -> None:
    """Write a Cloud Optimized GeoTIFF via an in-memory GTiff and the COG driver."""
    count, height, width = data.shape
    bs = _blocksize(blocksize, width, height)
    levels = _ov_levels(width, height)
    profile = dict(driver="GTiff", width=width, height=height, count=count,
                   dtype=data.dtype.name, crs=CRS, transform=grid.transform,
                   tiled=True, blockxsize=bs, blockysize=bs, interleave="pixel")
    if nodata is not None:
        profile["nodata"] = nodata
    if colorinterp and colorinterp[:3] == [ColorInterp.red, ColorInterp.green, ColorInterp.blue]:
        profile["photometric"] = "RGB"
    tmp = path.with_name(path.name + ".part")
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(data)
            if mask is not None:
                ds.write_mask(mask)
            for i, d in enumerate(descriptions, start=1):
                ds.set_band_description(i, d)
            if colorinterp:
                ds.colorinterp = colorinterp
            for i, u in enumerate(units or (), start=1):
                ds.set_band_unit(i, u)
            if tags:
                ds.update_tags(**tags)
            for i, bt in enumerate(band_tags or (), start=1):
                ds.update_tags(i, **bt)
        options = dict(COMPRESS="DEFLATE", LEVEL="6", PREDICTOR=predictor, BLOCKSIZE=str(bs),
                       BIGTIFF="NO", STATISTICS="NO", OVERVIEWS="NONE")
        if levels:  # the COG driver builds them (nodata / mask aware) on its own
            options.update(OVERVIEWS="AUTO", OVERVIEW_COUNT=str(len(levels)),
                           OVERVIEW_RESAMPLING="AVERAGE")
        with mem.open() as src:
            rasterio.shutil.copy(src, str(tmp), driver="COG", **options)
    os.replace(tmp, path)


def parse_time(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def time_tags(when: datetime) -> dict:
    return {"ACQUISITIONDATETIME": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "TIFFTAG_DATETIME": when.strftime("%Y:%m:%d %H:%M:%S")}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def describe(out_dir: Path, path: Path, kind: str, acquired=None) -> dict:
    with rasterio.open(path) as ds:
        entry = {
            "path": path.relative_to(out_dir).as_posix(),
            "kind": kind,
            "driver": ds.driver,
            "crs": ds.crs.to_string(),
            "bounds": [float(v) for v in ds.bounds],
            "res": [float(ds.res[0]), float(ds.res[1])],
            "width": ds.width,
            "height": ds.height,
            "count": ds.count,
            "dtype": ds.dtypes[0],
            "nodata": ds.nodata,
            "per_dataset_mask": ds.mask_flag_enums[0] == [rasterio.enums.MaskFlags.per_dataset],
            "overviews": ds.overviews(1),
            "bands": list(ds.descriptions),
        }
    if acquired:
        entry["acquisition_datetime"] = acquired
    entry["size_bytes"] = path.stat().st_size
    entry["sha256"] = _sha256(path)
    return entry
