"""Analysis products on disk (``ProductFolder``; ``object_products.py`` keeps them in a bucket): a job's chunk files, its manifest, and the finished COG.

Each chunk is written by a worker as its own small GeoTIFF under the job's folder, atomically (a
temporary name, then a rename), so a chunk file that exists is whole: a re-run counts it done.
The worker also builds the chunk's share of the product's overviews (chunks start on multiples of
512 px, so every overview factor up to 512 cuts them on the same pixel edges as the whole product),
and the assembly takes them as they are instead of reading every pixel again to reduce it.
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
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Protocol

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.enums import Resampling

from ogcserver.model.image import Grid
from ogcserver.storage.readers.process_memory import roomy_heap

COG_BLOCK = 512
# the fastest: compressing is most of the assembly's time, and level 1 takes about half of zlib's
# default 6 for a file some 15% larger (hillshade of a DEM)
DEFLATE_LEVEL = 1


class BandForm(Protocol):
    """The bands every chunk and the product have in common (the core's ``ProductBands``)."""

    @property
    def dtype(self) -> str: ...

    @property
    def count(self) -> int: ...

    @property
    def nodata(self) -> float | None: ...

    @property
    def names(self) -> tuple[str, ...]: ...


class ProductStore(Protocol):
    """Where one job's chunks and its product live: a folder, or a bucket prefix."""

    def manifest(self) -> dict | None: ...

    def start(self, manifest: dict) -> None: ...

    def exists(self) -> bool: ...

    def done_chunks(self) -> set[str]: ...

    def save_chunk(self, name: str, grid: Grid, data: np.ndarray | None, valid: np.ndarray | None,
                   form: BandForm, levels: int) -> None: ...

    def assemble(self, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]], form: BandForm) -> str:
        """The product from every chunk; returns its location, as catalog items name it."""
        ...

    def remove(self) -> None: ...


def _profile(grid: Grid, count: int, dtype: str, nodata: float | None, block: int) -> dict:
    """A chunk file's: compressed fast (ZSTD level 1), as it lives only until the COG is made."""
    profile: dict = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": count, "dtype": dtype,
        "crs": rasterio.crs.CRS.from_user_input(grid.crs), "transform": grid.transform,
        "compress": "zstd", "zstd_level": 1, "BIGTIFF": "IF_SAFER",
        "tiled": True, "blockxsize": block, "blockysize": block,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    return profile


class ProductFolder:
    """A job's working folder (``<products>/.work/<name>``) and its product (``<products>/<name>.tif``)."""

    def __init__(self, root: Path, name: str, deflate_level: int = DEFLATE_LEVEL) -> None:
        self.root = root
        self.name = name
        self.deflate_level = deflate_level  # the product's: the assembly's compression is most of its time
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

    def exists(self) -> bool:
        return self.product.exists()

    def done_chunks(self) -> set[str]:
        """The chunks a run of this job wrote already."""
        return {p.stem for p in (self.work / "chunks").glob("*.tif") if not p.name.startswith(".tmp-")}

    def save_chunk(self, name: str, grid: Grid, data: np.ndarray | None, valid: np.ndarray | None,
                   form: BandForm, levels: int) -> None:
        write_chunk(self.chunk_path(name), grid, data, valid, form.dtype, form.count, form.nodata, levels)

    def assemble(self, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]], form: BandForm) -> str:
        return str(assemble_cog(self, grid, chunk_windows, form.dtype, form.count, form.nodata, form.names))

    def remove(self) -> None:
        """Forget the job's chunks (after the product is in place, or when it is discarded)."""
        shutil.rmtree(self.work, ignore_errors=True)


def overview_levels(width: int, height: int) -> int:
    """The product's overview levels (factors 2, 4, ... 2**levels): down to about one COG block."""
    return max(0, math.ceil(math.log2(max(width, height) / COG_BLOCK)))


def overview_factors(levels: int) -> list[int]:
    return [2**k for k in range(1, levels + 1)]


def write_chunk(path: Path, grid: Grid, data: np.ndarray | None, valid: np.ndarray | None, dtype: str,
                count: int, nodata: float | None, levels: int) -> None:
    """A chunk's values (None: nothing there) as a GeoTIFF with its share of the product's
    ``levels`` overview levels (averaged, as the COG's), visible only once complete."""
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
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(tmp, "w", **profile) as out:
            out.write(data)
            if nodata is None:
                out.write_mask(valid.astype(np.uint8) * 255)
            if levels:
                out.build_overviews(overview_factors(levels), Resampling.average)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


GDAL_TYPES = {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
              "int32": "Int32", "float32": "Float32", "float64": "Float64"}


def mosaic_vrt(folder: ProductFolder, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]],
               dtype: str, count: int, nodata: float | None, names: tuple[str, ...], levels: int) -> Path:
    """A VRT placing every chunk file at its window of the product's grid (and their masks, for a
    product without nodata), with one VRT per overview level placing the chunks' own overviews:
    the COG is copied from it, with no full-size intermediate file and no second reduction."""
    for level, factor in enumerate(overview_factors(levels)):
        _level_vrt(grid, chunk_windows, dtype, count, nodata, names, factor, level,
                   folder.work / f"mosaic-{factor}.vrt", 0)
    path = folder.work / "mosaic.vrt"
    _level_vrt(grid, chunk_windows, dtype, count, nodata, names, 1, None, path, levels)
    return path


def _level_vrt(grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]], dtype: str, count: int,
               nodata: float | None, names: tuple[str, ...], factor: int, level: int | None, path: Path,
               levels: int) -> None:
    """The product's mosaic at 1/``factor`` of its resolution, from the chunks' overview ``level``
    (None: their full resolution); ``levels`` names the overview VRTs written beside it."""
    width, height = -(-grid.width // factor), -(-grid.height // factor)
    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    ET.SubElement(root, "SRS").text = rasterio.crs.CRS.from_user_input(grid.crs).to_wkt()
    t = grid.transform @ Affine.scale(factor)
    ET.SubElement(root, "GeoTransform").text = ", ".join(repr(float(v)) for v in (t.c, t.a, t.b, t.f, t.d, t.e))

    def sources(band: ET.Element, source_band: str) -> None:
        for name, (row0, row1, col0, col1) in chunk_windows.items():
            source = ET.SubElement(band, "SimpleSource")
            ET.SubElement(source, "SourceFilename", relativeToVRT="1").text = f"chunks/{name}.tif"
            if level is not None:
                options = ET.SubElement(source, "OpenOptions")
                ET.SubElement(options, "OOI", key="OVERVIEW_LEVEL").text = str(level)
            ET.SubElement(source, "SourceBand").text = source_band
            w, h = str(-(-(col1 - col0) // factor)), str(-(-(row1 - row0) // factor))
            ET.SubElement(source, "SrcRect", xOff="0", yOff="0", xSize=w, ySize=h)
            ET.SubElement(source, "DstRect", xOff=str(col0 // factor), yOff=str(row0 // factor), xSize=w, ySize=h)

    def overviews(band: ET.Element, source_band: str) -> None:
        for factor in overview_factors(levels):
            overview = ET.SubElement(band, "Overview")
            ET.SubElement(overview, "SourceFilename", relativeToVRT="1").text = f"mosaic-{factor}.vrt"
            ET.SubElement(overview, "SourceBand").text = source_band

    for b in range(1, count + 1):
        band = ET.SubElement(root, "VRTRasterBand", dataType=GDAL_TYPES[dtype], band=str(b))
        if nodata is not None:
            ET.SubElement(band, "NoDataValue").text = "nan" if math.isnan(nodata) else repr(nodata)
        if b <= len(names) and names[b - 1]:
            ET.SubElement(band, "Description").text = names[b - 1]
        sources(band, str(b))
        overviews(band, str(b))
    if nodata is None:
        mask = ET.SubElement(ET.SubElement(root, "MaskBand"), "VRTRasterBand", dataType="Byte")
        sources(mask, "mask,1")
        overviews(mask, "mask,1")
    ET.ElementTree(root).write(path, encoding="utf-8")


def assemble_cog(folder: ProductFolder, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]],
                 dtype: str, count: int, nodata: float | None, names: tuple[str, ...]) -> Path:
    """Every chunk into one COG at ``folder.product`` (replacing it), with overviews down to
    about one block and the bands named."""
    levels = overview_levels(grid.width, grid.height)
    mosaic = mosaic_vrt(folder, grid, chunk_windows, dtype, count, nodata, names, levels)
    tmp = folder.root / f".tmp-{uuid.uuid4().hex}.tif"
    try:
        with roomy_heap(), rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_TIFF_INTERNAL_MASK=True):
            rasterio.shutil.copy(mosaic, tmp, driver="COG", compress="DEFLATE", level=folder.deflate_level,
                                 predictor="FLOATING_POINT" if np.dtype(dtype).kind == "f" else "YES",
                                 blocksize=COG_BLOCK, overviews="AUTO" if levels else "NONE",
                                 overview_resampling="AVERAGE", bigtiff="IF_SAFER")
        os.replace(tmp, folder.product)
    finally:
        tmp.unlink(missing_ok=True)
        for vrt in folder.work.glob("mosaic*.vrt"):
            vrt.unlink()
    return folder.product


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
