"""A PNG writer for 8-bit grey, grey+alpha, RGB and RGBA pictures: the hot path of every tile.

Pillow chooses a filter for every row by trying all five, which is most of its encoding time.
Here every row uses the Up filter (the difference to the row above, computed by numpy in one
pass), which on imagery compresses about as well: a 256 px aerial tile encodes in 2.7 ms and 94
KiB against Pillow's 6.4 ms and 101 KiB at the same zlib settings (see the README's
performance notes). The output is a plain non-interlaced PNG (ISO/IEC 15948) any decoder reads.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ogcserver.model.budget import check_deadline

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type: grey, grey+alpha, RGB, RGBA
UP = 2  # PNG filter type 2: each byte minus the byte above it
ROWS_BYTES = 4 << 20  # filtered bytes made and compressed at once, between deadline checks


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def encode_png(pixels: np.ndarray, level: int, strategy: int) -> bytes:
    """PNG bytes of a (rows, cols) or (rows, cols, channels) uint8 array; zlib ``level`` and ``strategy``."""
    if pixels.dtype != np.uint8:
        raise ValueError("PNG pictures here are 8-bit")
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, channels = pixels.shape
    if channels not in COLOR_TYPES or not height or not width:
        raise ValueError(f"cannot write a PNG of shape {pixels.shape}")
    rows = pixels.reshape(height, width * channels)
    compressor = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS, 8, strategy)
    rows_at_once = max(1, ROWS_BYTES // (width * channels + 1))
    parts = []
    for r0 in range(0, height, rows_at_once):  # in strips: no filtered copy of the whole picture
        check_deadline()  # between strips: the request's deadline
        r1 = min(height, r0 + rows_at_once)
        filtered = np.empty((r1 - r0, width * channels + 1), dtype=np.uint8)
        filtered[:, 0] = UP
        above = rows[r0 - 1:r1 - 1] if r0 else np.vstack((np.zeros_like(rows[:1]), rows[:r1 - 1]))
        np.subtract(rows[r0:r1], above, out=filtered[:, 1:])  # uint8 arithmetic wraps modulo 256, as PNG's
        parts.append(compressor.compress(filtered.data))
    data = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPES[channels], 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
