"""GeoTIFFs that GDAL opens but cannot read (or must not read), made by editing a valid file's
TIFF directory: broken tile offsets, a truncated file, corrupt JPEG tables, a DEFLATE bomb, a
bogus strip size. Classic little-endian TIFF, as GDAL writes small files."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from tests.support import rasters

WIDTH, HEIGHT = 256, 4
LONG, TYPE_SIZES = 4, {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 12: 8, 16: 8}
TILE_OFFSETS, TILE_BYTE_COUNTS, JPEG_TABLES = 324, 325, 347
STRIP_OFFSETS, STRIP_BYTE_COUNTS, ROWS_PER_STRIP = 273, 279, 278
TILE_WIDTH, TILE_LENGTH = 322, 323
IMAGE_WIDTH, IMAGE_LENGTH = 256, 257


def _entries(data: bytes) -> dict[int, tuple[int, int, int, int]]:
    """The first IFD's entries: tag -> (entry offset, type, count, value or offset)."""
    assert data[:4] == b"II*\0", "classic little-endian TIFF expected"
    ifd = struct.unpack_from("<I", data, 4)[0]
    n = struct.unpack_from("<H", data, ifd)[0]
    out = {}
    for i in range(n):
        at = ifd + 2 + 12 * i
        tag, kind, count, value = struct.unpack_from("<HHII", data, at)
        out[tag] = (at, kind, count, value)
    return out


def _values(data: bytes, entry: tuple[int, int, int, int]) -> tuple[int, list[int], str]:
    """Where an entry's values are, the values, and their struct code."""
    at, kind, count, value = entry
    code = {3: "H", 4: "I", 16: "Q"}[kind]
    where = at + 8 if TYPE_SIZES[kind] * count <= 4 else value
    return where, list(struct.unpack_from(f"<{count}{code}", data, where)), code


def _set_long(data: bytearray, tag: int, value: int) -> None:
    """Make a one-value tag a LONG holding ``value``."""
    at = _entries(bytes(data))[tag][0]
    struct.pack_into("<HHII", data, at, tag, LONG, 1, value)


def _write(path: Path, shape: tuple[int, int], count: int = 1, **options) -> Path:
    rows, cols = shape
    data = rasters.texture((rows, cols), count, seed=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=count, dtype="uint8",
                       crs=rasters.UTM, transform=from_origin(*rasters.ORIGIN, 10, 10), **options) as dst:
        dst.write(data)
    return path


def _tiled_with_tag(path: Path, count: int, tag: int, values: Callable[[list[int], int], list[int]]) -> Path:
    """A tiled DEFLATE file whose ``tag`` (one value per tile) is rewritten by ``values``."""
    _write(path, (512, 512), count, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    data = bytearray(path.read_bytes())
    where, old, code = _values(bytes(data), _entries(bytes(data))[tag])
    struct.pack_into(f"<{len(old)}{code}", data, where, *values(old, len(data)))
    path.write_bytes(bytes(data))
    return path


def bad_tile_offsets(path: Path, count: int = 1) -> Path:
    """A tiled file whose tile offsets point past its end."""
    return _tiled_with_tag(path, count, TILE_OFFSETS, lambda offsets, size: [size + 10_000_000 + o for o in offsets])


def bad_byte_counts(path: Path, count: int = 1) -> Path:
    """A tiled DEFLATE file whose tile byte counts say 3 bytes: each tile is a cut stream."""
    return _tiled_with_tag(path, count, TILE_BYTE_COUNTS, lambda counts, _size: [3] * len(counts))


def truncated(path: Path) -> Path:
    """A tiled file cut after its directory and first tile."""
    _write(path, (512, 512), tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    data = path.read_bytes()
    _, offsets, _ = _values(data, _entries(data)[TILE_OFFSETS])
    path.write_bytes(data[: sorted(offsets)[1] + 10])
    return path


def corrupt_jpeg(path: Path) -> Path:
    """JPEG-in-TIFF whose shared Huffman tables are garbage."""
    _write(path, (512, 512), count=3, tiled=True, blockxsize=256, blockysize=256, compress="jpeg", photometric="ycbcr")
    data = bytearray(path.read_bytes())
    at, kind, count, value = _entries(bytes(data))[JPEG_TABLES]
    rng = np.random.default_rng(1)
    data[value + 4 : value + count - 2] = rng.integers(0, 256, count - 6, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def one_block_file(path: Path, width: int, height: int, block: bytes, tiled: bool) -> Path:
    """``width`` x ``height`` uint8 DEFLATE pixels in one tile (or strip) holding the given
    compressed bytes: a 16 x 16 file whose directory is edited, which GDAL opens without
    looking at the data."""
    _write(path, (16, 16), compress="deflate", **({"tiled": True, "blockxsize": 16, "blockysize": 16}
                                                   if tiled else {"blockysize": 16}))
    data = bytearray(path.read_bytes())
    sizes = ((TILE_WIDTH, width), (TILE_LENGTH, height)) if tiled else ((ROWS_PER_STRIP, height),)
    offsets, counts = (TILE_OFFSETS, TILE_BYTE_COUNTS) if tiled else (STRIP_OFFSETS, STRIP_BYTE_COUNTS)
    for tag, value in ((IMAGE_WIDTH, width), (IMAGE_LENGTH, height), *sizes, (offsets, len(data)),
                       (counts, len(block))):
        _set_long(data, tag, value)
    path.write_bytes(bytes(data) + block)
    return path


def zeros_deflated(size: int) -> bytes:
    """A zlib stream of ``size`` zero bytes (a multiple of 1 MiB), built from one compressed MiB
    repeated: each copy ends with a full flush, so none refers to the one before."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = packer.compress(bytes(1 << 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    adler = ((size % 65521) << 16) | 1  # Adler-32 of zeros: A stays 1, B adds 1 per byte
    return b"\x78\x01" + chunk * (size >> 20) + b"\x03\x00" + struct.pack(">I", adler)


def deflate_bomb(path: Path, side: int = 32768, tiled: bool = True) -> Path:
    """About a megabyte that inflates to ``side`` x ``side`` bytes (1 GiB by default) in one block."""
    return one_block_file(path, side, side, zeros_deflated(side * side), tiled)


def bogus_strip(path: Path) -> Path:
    """A 1 kB file declaring 10^6 x 10^6 pixels in one strip."""
    return one_block_file(path, 1_000_000, 1_000_000, zlib.compress(bytes(1000)), tiled=False)


def open_ok(path: Path) -> bool:
    """Whether GDAL opens the file (these all do: they fail only when read)."""
    with rasterio.open(path) as ds:
        return ds.count > 0
