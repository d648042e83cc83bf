"""Where a TIFF file keeps its images' tiles: each IFD's kind, size, encoding and the positions of
its tile offset and byte count arrays, read from the file's own structure (classic TIFF and
BigTIFF, either byte order).

GDAL reads and writes pixels; this reads the layout GDAL wrote, so that compressed tiles can be
moved between files without decoding them (``cog_stitch.py``)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

NEW_SUBFILE_TYPE, IMAGE_WIDTH, IMAGE_LENGTH, BITS_PER_SAMPLE, COMPRESSION = 254, 256, 257, 258, 259
SAMPLES_PER_PIXEL, PLANAR_CONFIG, PREDICTOR = 277, 284, 317
TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_BYTE_COUNTS, SAMPLE_FORMAT = 322, 323, 324, 325, 339
# bytes of one value of each TIFF field type: BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE, UNDEFINED,
# SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD, (14, 15 unused), LONG8, SLONG8, IFD8
INTEGER_FORMATS = {1: "B", 3: "H", 4: "I", 16: "Q"}
MAX_IFDS = 64  # more than any COG's levels and masks: a loop in the IFD chain is not followed forever


class NotATiledTiff(ValueError):
    """The file is not a tiled TIFF this module can read."""


@dataclass(frozen=True)
class TileArray:
    """One of an IFD's two tile arrays: where its values lie in the file and how they are stored."""

    position: int
    field_type: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class Image:
    """One IFD: a full-resolution image, an overview or a mask, and its tiles."""

    subfile_type: int  # 0 the image, 1 an overview, 4 its mask, 5 an overview's mask
    width: int
    height: int
    encoding: tuple  # everything a tile's bytes depend on besides its pixels
    tile_width: int
    tile_height: int
    offsets: TileArray
    byte_counts: TileArray

    @property
    def tiles_across(self) -> int:
        return -(-self.width // self.tile_width)

    @property
    def tiles_down(self) -> int:
        return -(-self.height // self.tile_height)


@dataclass(frozen=True)
class TiffLayout:
    byte_order: str  # "<" or ">"
    big: bool
    images: tuple[Image, ...]


def read_layout(file: BinaryIO) -> TiffLayout:
    """The IFDs of an open TIFF file, in file order."""
    file.seek(0)
    head = file.read(16)
    if head[:2] not in (b"II", b"MM"):
        raise NotATiledTiff("not a TIFF file")
    order = "<" if head[:2] == b"II" else ">"
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 42:
        big, first = False, struct.unpack(order + "I", head[4:8])[0]
    elif magic == 43:
        big, first = True, struct.unpack(order + "Q", head[8:16])[0]
    else:
        raise NotATiledTiff("not a TIFF file")
    images: list[Image] = []
    position = first
    while position and len(images) < MAX_IFDS:
        image, position = _read_ifd(file, order, big, position)
        images.append(image)
    return TiffLayout(order, big, tuple(images))


def _read_ifd(file: BinaryIO, order: str, big: bool, position: int) -> tuple[Image, int]:
    count_format, entry_format, entry_size, next_format = ("Q", "HHQ8s", 20, "Q") if big else ("H", "HHI4s", 12, "I")
    file.seek(position)
    (count,) = struct.unpack(order + count_format, file.read(struct.calcsize(count_format)))
    raw = file.read(count * entry_size + struct.calcsize(next_format))
    fields: dict[int, TileArray] = {}
    for i in range(count):
        tag, field_type, n, value = struct.unpack_from(order + entry_format, raw, i * entry_size)
        value_position = position + struct.calcsize(count_format) + i * entry_size + (12 if big else 8)
        fields[tag] = _field(file, order, big, field_type, n, value, value_position)
    (following,) = struct.unpack_from(order + next_format, raw, count * entry_size)
    if TILE_OFFSETS not in fields or TILE_BYTE_COUNTS not in fields:
        raise NotATiledTiff("an image of the file is not tiled")

    def one(tag: int, default: int) -> int:
        return fields[tag].values[0] if tag in fields and fields[tag].values else default

    encoding = (one(COMPRESSION, 1), one(PREDICTOR, 1), one(PLANAR_CONFIG, 1), one(SAMPLES_PER_PIXEL, 1),
                fields[BITS_PER_SAMPLE].values if BITS_PER_SAMPLE in fields else (1,),
                fields[SAMPLE_FORMAT].values if SAMPLE_FORMAT in fields else (1,))
    image = Image(one(NEW_SUBFILE_TYPE, 0), one(IMAGE_WIDTH, 0), one(IMAGE_LENGTH, 0), encoding,
                  one(TILE_WIDTH, 0), one(TILE_LENGTH, 0), fields[TILE_OFFSETS], fields[TILE_BYTE_COUNTS])
    return image, following


def _field(file: BinaryIO, order: str, big: bool, field_type: int, n: int, value: bytes,
           value_position: int) -> TileArray:
    """A field's integer values (other types are kept as empty: only integers are needed here)."""
    if field_type not in INTEGER_FORMATS:
        return TileArray(value_position, field_type, ())
    size = struct.calcsize(order + INTEGER_FORMATS[field_type]) * n
    if size <= len(value):
        data, position = value[:size], value_position
    else:
        (position,) = struct.unpack(order + ("Q" if big else "I"), value)
        file.seek(position)
        data = file.read(size)
    return TileArray(position, field_type, struct.unpack(f"{order}{n}{INTEGER_FORMATS[field_type]}", data))
