"""Write coverage values (not pictures) as GeoTIFF, or PNG/JPEG for 8-bit data, piece by piece.

Small outputs are written in GDAL's memory filesystem; larger ones go to a temporary file that is
streamed and then vanishes, so a worker's memory stays bounded whatever the output size. Outputs
over 1024 pixels on a side are tiled (256 x 256) and their pieces come in row order of whole tile
rows, so the GeoTIFF directory stays at the start and the tiles follow in order: the layout of a
cloud-optimized GeoTIFF, without overviews (up to 16384 pixels wide). Smaller ones are written in
strips, which is smaller and faster for them.

Pixels without data get the nodata value; when there is none, an internal mask band records them,
created at the first piece with a gap (pieces written before it are marked valid).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile
from rasterio.windows import Window

from ogcserver.model.coverage import Compression, CoverageFormat, EncodedCoverage, GeoTiffOptions
from ogcserver.model.image import Grid, alpha_of

IN_MEMORY_BYTES = 32 << 20  # outputs up to this size are encoded in memory
PIECE_PIXELS = 1 << 22      # pixels per band read and written at once
BLOCK = 256
SMALL = 1024               # outputs no larger than this on either side are written in strips
WIDEST_STRIPS = 1 << 16    # wider outputs are tiled even when strips are asked for (a strip is a row)

Window4 = tuple[int, int, int, int]  # row0, row1, col0, col1
Scaling = tuple[tuple[float, ...], tuple[float, ...]]  # each band's scale and offset; empty: none


def _profile(grid: Grid, count: int, dtype: str, nodata: float | None, options: GeoTiffOptions) -> dict:
    tiled = options.tiled if options.tiled is not None else max(grid.width, grid.height) > SMALL
    tiled = tiled or grid.width > WIDEST_STRIPS
    profile: dict = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": count, "dtype": dtype,
        "crs": rasterio.crs.CRS.from_user_input(grid.crs), "transform": grid.transform,
        "compress": options.compression.value, "interleave": "band" if options.band_interleaved else "pixel",
        "tiled": tiled, "BIGTIFF": "IF_SAFER",
    }
    if tiled:
        width, height = options.block or (BLOCK, BLOCK)
        profile.update(blockxsize=width, blockysize=height)
    if nodata is not None:
        profile["nodata"] = nodata
    if options.predictor != 1:
        profile["predictor"] = options.predictor
    if options.compression is Compression.JPEG:
        profile["jpeg_quality"] = options.jpeg_quality
    return profile


class CoverageWriter:
    """Accepts the pieces of one coverage and turns them into an EncodedCoverage."""

    def __init__(
        self,
        grid: Grid,
        count: int,
        dtype: str,
        nodata: float | None,
        band_names: tuple[str, ...],
        fmt: CoverageFormat,
        options: GeoTiffOptions,
        scaling: Scaling = ((), ()),
    ) -> None:
        self.grid = grid
        self.fmt = fmt
        self.nodata = nodata
        self.quality = options.jpeg_quality
        # PNG and JPEG are copied from an uncompressed GeoTIFF at the end
        layout = options if fmt is CoverageFormat.GEOTIFF else GeoTiffOptions()
        self.profile = _profile(grid, count, dtype, nodata, layout)
        self.in_memory = grid.width * grid.height * count * np.dtype(dtype).itemsize <= IN_MEMORY_BYTES
        self._memfiles: list[MemoryFile] = []
        self._paths: list[str] = []
        self._written: list[Window4] = []
        self._masked = False
        try:
            with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
                if self.in_memory:
                    self.dataset = self._memfile(".tif").open(**self.profile)
                else:
                    self.dataset = rasterio.open(self._path(".tif"), "w", **self.profile)
        except Exception:
            self._discard()
            raise
        for i, name in enumerate(band_names, start=1):
            if name:
                self.dataset.set_band_description(i, name)
        if scaling[0]:  # the bands' scale and offset, as GDAL keeps them (readers unscale with them)
            self.dataset.scales, self.dataset.offsets = scaling

    def _memfile(self, ext: str) -> MemoryFile:
        memfile = MemoryFile(ext=ext)
        self._memfiles.append(memfile)
        return memfile

    def _path(self, ext: str) -> str:
        fd, path = tempfile.mkstemp(prefix="ogcserver-coverage-", suffix=ext)
        os.close(fd)
        self._paths.append(path)
        return path

    def windows(self) -> Iterator[Window4]:
        """Pieces in row-major order, aligned to whole tile rows, of bounded size."""
        width, height = self.grid.width, self.grid.height
        block_w, block_h = self.profile.get("blockxsize", width), self.profile.get("blockysize", 1)
        if width * block_h <= PIECE_PIXELS:
            cols = width
        else:
            cols = max(block_w, PIECE_PIXELS // block_h // block_w * block_w)
        rows = max(block_h, PIECE_PIXELS // cols // block_h * block_h)
        for r0 in range(0, height, rows):
            for c0 in range(0, width, cols):
                yield r0, min(height, r0 + rows), c0, min(width, c0 + cols)

    def write(self, window: Window4, data: np.ndarray | None, valid: np.ndarray | None) -> None:
        """Write one piece; ``data`` None: nothing of the coverage lies there."""
        r0, r1, c0, c1 = window
        dtype = self.profile["dtype"]
        if data is None or valid is None:
            fill = self.nodata if self.nodata is not None else 0
            data = np.full((self.profile["count"], r1 - r0, c1 - c0), fill, dtype=dtype)
            valid = np.zeros((r1 - r0, c1 - c0), dtype=bool)
        elif self.nodata is not None and not valid.all():
            data = np.where(valid[None, :, :], data, np.asarray(self.nodata).astype(dtype))
        self.dataset.write(data.astype(dtype, copy=False), window=Window(c0, r0, c1 - c0, r1 - r0))
        if self.nodata is None and self.fmt is CoverageFormat.GEOTIFF:
            self._write_mask(window, valid)
        self._written.append(window)

    def _write_mask(self, window: Window4, valid: np.ndarray) -> None:
        if not self._masked and valid.all():
            return
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
            if not self._masked:
                self._masked = True
                for r0, r1, c0, c1 in self._written:  # the pieces before the first gap were full
                    full = np.full((r1 - r0, c1 - c0), 255, np.uint8)
                    self.dataset.write_mask(full, window=Window(c0, r0, c1 - c0, r1 - r0))
            r0, r1, c0, c1 = window
            mask = alpha_of(valid)
            self.dataset.write_mask(mask, window=Window(c0, r0, c1 - c0, r1 - r0))

    def finish(self) -> EncodedCoverage:
        """Close the GeoTIFF, convert it for PNG/JPEG, and hand over the bytes or the open file."""
        self.dataset.close()
        target = self._memfiles[-1].name if self.in_memory else self._paths[-1]
        if self.fmt is not CoverageFormat.GEOTIFF:
            ext = "." + self.fmt.extension
            source, target = target, (self._memfile(ext).name if self.in_memory else self._path(ext))
            if self.fmt is CoverageFormat.PNG:
                driver, options = "PNG", {"ZLEVEL": 6}
            else:
                driver, options = "JPEG", {"QUALITY": self.quality}
            with rasterio.Env(GDAL_PAM_ENABLED=False):  # no .aux.xml beside the output
                rasterio.shutil.copy(source, target, driver=driver, **options)
        filename = f"coverage-{uuid.uuid4().hex[:12]}.{self.fmt.extension}"
        if self.in_memory:
            body = self._memfiles[-1].read()
            self.close()
            return EncodedCoverage(self.fmt.value, len(body), filename, body=body)
        handle = open(target, "rb")  # noqa: SIM115 - EncodedCoverage closes it once streamed
        size = os.fstat(handle.fileno()).st_size
        self.close()  # removes the names; the open handle keeps the content until it is closed
        return EncodedCoverage(self.fmt.value, size, filename, file=handle)

    def close(self) -> None:
        """Release everything this writer made; safe to call again, and after a failure."""
        if not self.dataset.closed:
            self.dataset.close()
        self._discard()

    def _discard(self) -> None:
        for memfile in self._memfiles:
            memfile.close()
        for path in self._paths:
            if os.path.exists(path):
                os.unlink(path)
        self._memfiles, self._paths = [], []
