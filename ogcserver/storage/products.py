"""Analysis products on disk (``ProductFolder``; ``object_products.py`` keeps them in a bucket): a job's chunk files, its manifest, and the finished COG.

Each chunk is written by a worker as its own small GeoTIFF under the job's folder, atomically (a
temporary name, then a rename), so a chunk file that exists is whole: a re-run counts it done.
The worker also builds the chunk's share of the product's overviews (chunks start on multiples of
512 px, so every overview factor up to 512 cuts them on the same pixel edges as the whole product),
and the assembly takes them as they are instead of reading every pixel again to reduce it.
Chunks are encoded exactly as the product's tiles (DEFLATE at ``analysis.deflate_level``, the
type's predictor, 512 px tiles), so when every chunk exists the cloud-optimized GeoTIFF (tiled,
compressed, with overviews, nodata or an internal mask, and the grid's exact georeferencing) is
stitched from their compressed tiles (``cog_stitch.py``) and renamed into place only when complete.
The manifest records the job's parameters digest; a folder with another digest is another job.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.enums import Resampling

from ogcserver.model.image import Grid
from ogcserver.storage.cog_stitch import Part, stitch_cog
from ogcserver.storage.gdal_types import GDAL_TYPES
from ogcserver.storage.product_claims import Claim
from ogcserver.storage.readers.process_memory import roomy_heap

COG_BLOCK = 512
# the fastest: encoding is most of a chunk's writing, and level 1 takes about half of zlib's
# default 6 for a file some 15% larger (hillshade of a DEM)
DEFLATE_LEVEL = 1
# past this many bytes of tiles the COG is a BigTIFF: classic TIFF offsets end at 4 GiB (kept clear of it)
CLASSIC_TIFF_BYTES = 2**32 - 2**28


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

    def claim(self, claim: Claim, expiry: float) -> None:
        """Reserve the product's name for the job, unless another job's claim is younger than
        ``expiry`` seconds (``ProductBusy`` then)."""
        ...

    def holder(self) -> Claim | None:
        """The claim on the product's name, live or expired; None when no job holds it."""
        ...

    def renew(self, claim: Claim) -> bool:
        """The claim's heartbeat; False when it is no longer this job's (it expired and was taken)."""
        ...

    def release(self, claim: Claim) -> None:
        """Give the name up, if the claim is still this job's."""
        ...

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


def _tile_encoding(dtype: str, deflate_level: int) -> dict:
    """How the product's tiles are encoded, in a chunk file and in a level encoded whole alike
    (``cog_stitch`` copies both into the product, so they must not differ)."""
    return {"tiled": True, "blockxsize": COG_BLOCK, "blockysize": COG_BLOCK, "compress": "deflate",
            "zlevel": deflate_level, "predictor": _predictor(dtype), "interleave": "pixel", "BIGTIFF": "IF_SAFER"}


def _profile(grid: Grid, count: int, dtype: str, nodata: float | None, deflate_level: int) -> dict:
    """A chunk file's: encoded exactly as the product's tiles (``cog_stitch`` copies them into it)."""
    profile: dict = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": count, "dtype": dtype,
        "crs": rasterio.crs.CRS.from_user_input(grid.crs), "transform": grid.transform,
        **_tile_encoding(dtype, deflate_level),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    return profile


def _predictor(dtype: str) -> int:
    """TIFF's predictor for the type: differences of floating point bytes, or of integers."""
    return 3 if np.dtype(dtype).kind == "f" else 2


class ProductFolder:
    """A job's working folder (``<products>/.work/<name>``) and its product (``<products>/<name>.tif``)."""

    def __init__(self, root: Path, name: str, deflate_level: int = DEFLATE_LEVEL) -> None:
        self.root = root
        self.name = name
        self.deflate_level = deflate_level  # the product's: the assembly's compression is most of its time
        self.work = root / ".work" / name
        self.product = root / f"{name}.tif"
        self.claim_path = root / ".work" / f"{name}.claim"

    @contextmanager
    def _claim_lock(self) -> Iterator[None]:
        """Exclusive between processes (and machines sharing the folder over NFS) while a claim is
        read and replaced; a crashed holder's lock goes with its process."""
        self.claim_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.claim_path.with_name(f"{self.name}.claim.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def holder(self) -> Claim | None:
        try:
            return Claim.decode(self.claim_path.read_bytes())
        except OSError:
            return None

    def claim(self, claim: Claim, expiry: float) -> None:
        with self._claim_lock():
            holder = self.holder()
            if holder is not None and holder.blocks(claim.job, expiry):
                raise holder.busy(self.name)
            _write_atomic(self.claim_path, claim.encode())

    def renew(self, claim: Claim) -> bool:
        with self._claim_lock():
            holder = self.holder()
            if holder is None or holder.job != claim.job:
                return False
            _write_atomic(self.claim_path, claim.renewed().encode())
            return True

    def release(self, claim: Claim) -> None:
        with self._claim_lock():
            holder = self.holder()
            if holder is not None and holder.job == claim.job:
                self.claim_path.unlink(missing_ok=True)

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
        write_chunk(self.chunk_path(name), grid, data, valid, form.dtype, form.count, form.nodata, levels,
                    self.deflate_level)

    def assemble(self, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]], form: BandForm) -> str:
        return str(assemble_cog(self, grid, chunk_windows, form))

    def remove(self) -> None:
        """Forget the job's chunks (after the product is in place, or when it is discarded)."""
        shutil.rmtree(self.work, ignore_errors=True)


def overview_levels(width: int, height: int) -> int:
    """The product's overview levels (factors 2, 4, ... 2**levels): down to about one COG block."""
    return max(0, math.ceil(math.log2(max(width, height) / COG_BLOCK)))


def overview_factors(levels: int) -> list[int]:
    return [2**k for k in range(1, levels + 1)]


def write_chunk(path: Path, grid: Grid, data: np.ndarray | None, valid: np.ndarray | None, dtype: str,
                count: int, nodata: float | None, levels: int, deflate_level: int = DEFLATE_LEVEL) -> None:
    """A chunk's values (None: nothing there) as a GeoTIFF with its share of the product's
    ``levels`` overview levels (averaged, as the COG's), visible only once complete."""
    if data is None or valid is None:
        data = np.zeros((count, grid.height, grid.width), dtype=dtype)
        valid = np.zeros((grid.height, grid.width), dtype=bool)
    data = data.astype(dtype, copy=True)
    if nodata is not None:
        data[:, ~valid] = nodata
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.tif")
    try:
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), \
                rasterio.open(tmp, "w", **_profile(grid, count, dtype, nodata, deflate_level)) as out:
            out.write(data)
            if nodata is None:
                out.write_mask(valid.astype(np.uint8) * 255)
            if levels:
                out.build_overviews(overview_factors(levels), Resampling.average)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _level_vrt(grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]], form: BandForm, factor: int,
               level: int | None, path: Path, overviews: list[str]) -> None:
    """The product's mosaic at 1/``factor`` of its resolution, from the chunks' overview ``level``
    (None: their full resolution; no chunks: an empty product of the same form), listing the VRTs
    ``overviews`` (beside it) as its overviews."""
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

    def overview_list(band: ET.Element, source_band: str) -> None:
        for name in overviews:
            overview = ET.SubElement(band, "Overview")
            ET.SubElement(overview, "SourceFilename", relativeToVRT="1").text = name
            ET.SubElement(overview, "SourceBand").text = source_band

    for b in range(1, form.count + 1):
        band = ET.SubElement(root, "VRTRasterBand", dataType=GDAL_TYPES[form.dtype], band=str(b))
        if form.nodata is not None:
            ET.SubElement(band, "NoDataValue").text = "nan" if math.isnan(form.nodata) else repr(form.nodata)
        if b <= len(form.names) and form.names[b - 1]:
            ET.SubElement(band, "Description").text = form.names[b - 1]
        sources(band, str(b))
        overview_list(band, str(b))
    if form.nodata is None:
        mask = ET.SubElement(ET.SubElement(root, "MaskBand"), "VRTRasterBand", dataType="Byte")
        sources(mask, "mask,1")
        overview_list(mask, "mask,1")
    ET.ElementTree(root).write(path, encoding="utf-8")


def chunk_levels(grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]], levels: int) -> int:
    """How many of the product's levels (its full resolution first) are made of the chunks' own
    tiles: those at which every chunk starts on a tile's edge and ends on one or on the product's."""
    def on_tiles(window: tuple[int, int, int, int], k: int) -> bool:
        row0, row1, col0, col1 = window
        span = COG_BLOCK << k
        return (row0 % span == 0 and col0 % span == 0 and (row1 == grid.height or (row1 - row0) % span == 0)
                and (col1 == grid.width or (col1 - col0) % span == 0))

    k = 0
    while k <= levels and all(on_tiles(window, k) for window in chunk_windows.values()):
        k += 1
    return k


def assemble_cog(folder: ProductFolder, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]],
                 form: BandForm) -> Path:
    """Every chunk into one COG at ``folder.product`` (replacing it), with overviews down to
    about one block and the bands named. The levels made of the chunks' tiles are copied as they
    are; a coarser level, whose tiles span several chunks, is encoded from the chunks' overviews."""
    levels = overview_levels(grid.width, grid.height)
    copied = chunk_levels(grid, chunk_windows, levels)
    parts: list[list[Part]] = [
        [Part(folder.chunk_path(name), k, window[2] // (COG_BLOCK << k), window[0] // (COG_BLOCK << k))
         for name, window in chunk_windows.items()] for k in range(copied)]
    try:
        with roomy_heap(), rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_TIFF_INTERNAL_MASK=True):
            for k in range(copied, levels + 1):
                parts.append([Part(_encoded_level(folder, grid, chunk_windows, form, k), 0, 0, 0)])
            size = sum(path.stat().st_size for path in {part.path for level in parts for part in level})
            stitch_cog(_skeleton(folder, grid, form, levels, size), parts, folder.product)
    finally:
        for scratch in [*folder.work.glob("*.vrt"), *folder.work.glob("level-*.tif"), folder.work / "skeleton.tif"]:
            scratch.unlink(missing_ok=True)
    return folder.product


def _creation(form: BandForm, deflate_level: int) -> dict:
    return {"compress": "DEFLATE", "level": deflate_level, "blocksize": COG_BLOCK,
            "predictor": "FLOATING_POINT" if _predictor(form.dtype) == 3 else "STANDARD"}


def _encoded_level(folder: ProductFolder, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]],
                   form: BandForm, k: int) -> Path:
    """The product's level ``k`` (1/2**k of its resolution) as one tiled GeoTIFF encoded like the
    chunks, from the chunks' own overviews (a chunk's level k is its overview k - 1)."""
    vrt, path = folder.work / f"level-{k}.vrt", folder.work / f"level-{k}.tif"
    _level_vrt(grid, chunk_windows, form, 1 << k, k - 1 if k else None, vrt, [])
    rasterio.shutil.copy(vrt, path, driver="GTiff", **_tile_encoding(form.dtype, folder.deflate_level))
    return path


def _skeleton(folder: ProductFolder, grid: Grid, form: BandForm, levels: int, size: int) -> Path:
    """The product COG as GDAL writes it with no tiles: its georeferencing, bands, IFDs and layout."""
    factors = overview_factors(levels)
    for factor in factors:
        _level_vrt(grid, {}, form, factor, None, folder.work / f"empty-{factor}.vrt", [])
    empty, path = folder.work / "empty.vrt", folder.work / "skeleton.tif"
    _level_vrt(grid, {}, form, 1, None, empty, [f"empty-{factor}.vrt" for factor in factors])
    rasterio.shutil.copy(empty, path, driver="COG", sparse_ok=True, **_creation(form, folder.deflate_level),
                         overviews="FORCE_USE_EXISTING" if levels else "NONE",
                         bigtiff="YES" if size > CLASSIC_TIFF_BYTES else "IF_SAFER")
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
