"""Coverage outputs: data values (not pictures), their encodings and the encoded result."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

STREAM_CHUNK = 1 << 20


class CoverageFormat(enum.Enum):
    GEOTIFF = "image/tiff"
    PNG = "image/png"
    JPEG = "image/jpeg"
    NETCDF = "application/netcdf"  # a multidimensional coverage as CF netCDF

    @property
    def extension(self) -> str:
        return {"image/tiff": "tif", "image/png": "png", "image/jpeg": "jpg", "application/netcdf": "nc"}[self.value]


class Compression(enum.Enum):
    """GeoTIFF compressions, by their GDAL creation-option names."""

    NONE = "NONE"
    DEFLATE = "DEFLATE"
    LZW = "LZW"
    PACKBITS = "PACKBITS"
    JPEG = "JPEG"


@dataclass(frozen=True)
class GeoTiffOptions:
    """How a GeoTIFF is laid out. Uncompressed by default: fastest to write and to read back."""

    compression: Compression = Compression.NONE
    predictor: int = 1           # 1 none, 2 horizontal differencing, 3 floating point
    jpeg_quality: int = 75
    tiled: bool | None = None             # None: tiled unless the output is small
    block: tuple[int, int] | None = None  # (width, height) of the tiles; None: 256 x 256
    band_interleaved: bool = False


@dataclass
class EncodedCoverage:
    """An encoded coverage: bytes in memory, or an open (already unlinked) temporary file."""

    content_type: str
    length: int
    filename: str
    body: bytes | None = None
    file: BinaryIO | None = None
    skipped: int = 0  # unreadable mosaic items left out

    def chunks(self) -> Iterator[bytes]:
        """The content in pieces of bounded size; closes the file when done or abandoned."""
        if self.file is None:
            yield self.body or b""
            return
        try:
            while piece := self.file.read(STREAM_CHUNK):
                yield piece
        finally:
            self.file.close()

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()

