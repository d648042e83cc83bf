"""Hostile source files, the way attackers and unlucky publishers produce them.

GeoTIFFs are written byte by byte here (a classic TIFF with the three GeoTIFF tags), so a file
can declare what no writer would produce: a terapixel image in a kilobyte, a zero or NaN pixel
size, offsets past the end, one tile that inflates to hundreds of megabytes.
"""

from __future__ import annotations

import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import rasterio

from tests.support import rasters

SHORT, LONG, DOUBLE = 3, 4, 12
_PACK = {SHORT: "H", LONG: "I", DOUBLE: "d"}
SECRET = b"OGCSERVER-SECRET-7f3a9c41d2e85b06"  # content of a local file no response may show


def geotiff(width: int, height: int, blocks: list[bytes], *, tile: tuple[int, int] | None = None,
            rows_per_strip: int | None = None, bands: int = 1, deflate: bool = False,
            scale: tuple[float, float] = (1.0, 1.0), origin: tuple[float, float] = (10.0, 50.0),
            offsets: list[int] | None = None, counts: list[int] | None = None) -> bytes:
    """A little-endian GeoTIFF in EPSG:4326 with the given strips or tiles; ``offsets`` and
    ``counts`` replace the true ones (broken files)."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    true_offsets = []
    for block in blocks:
        true_offsets.append(len(out))
        out += block
    offsets = offsets if offsets is not None else true_offsets
    counts = counts if counts is not None else [len(b) for b in blocks]
    entries = [
        (256, LONG, [width]), (257, LONG, [height]), (258, SHORT, [8] * bands), (259, SHORT, [8 if deflate else 1]),
        (262, SHORT, [1]), (277, SHORT, [bands]), (284, SHORT, [1]),
        (33550, DOUBLE, [scale[0], scale[1], 0.0]), (33922, DOUBLE, [0.0, 0.0, 0.0, origin[0], origin[1], 0.0]),
        (34735, SHORT, [1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326]),
    ]
    if tile is not None:
        entries += [(322, LONG, [tile[0]]), (323, LONG, [tile[1]]), (324, LONG, offsets), (325, LONG, counts)]
    else:
        entries += [(273, LONG, offsets), (278, LONG, [rows_per_strip or height]), (279, LONG, counts)]
    entries.sort()
    if len(out) % 2:
        out += b"\x00"
    ifd = len(out)
    struct.pack_into("<I", out, 4, ifd)
    extra = ifd + 2 + 12 * len(entries) + 4
    table, data = bytearray(struct.pack("<H", len(entries))), bytearray()
    for tag, kind, values in entries:
        packed = struct.pack(f"<{len(values)}{_PACK[kind]}", *values)
        if len(packed) <= 4:
            table += struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\x00")
        else:
            table += struct.pack("<HHII", tag, kind, len(values), extra + len(data))
            data += packed
            if len(data) % 2:
                data += b"\x00"
    return bytes(out + table + b"\x00\x00\x00\x00" + data)


def deflated_zeros(chunks: int, chunk: int = 2**20) -> bytes:
    """``chunks`` x ``chunk`` zero bytes as one zlib stream, built without compressing them all:
    after a full flush the compressor restarts, so every further chunk compresses to the same
    bytes; only the checksum at the end covers the whole."""
    zeros = bytes(chunk)
    packer = zlib.compressobj(9)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    middle = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    last = packer.compress(zeros) + packer.flush()
    checksum = 1
    for _ in range(chunks):
        checksum = zlib.adler32(zeros, checksum)
    return first + middle * (chunks - 2) + last[:-4] + struct.pack(">I", checksum)


def raw_band_vrt(target: str, width: int = 16, height: int = 2) -> str:
    """A VRT whose band is the raw bytes of ``target``: any file read as pixels."""
    return f"""<VRTDataset rasterXSize="{width}" rasterYSize="{height}">
  <SRS>EPSG:4326</SRS>
  <GeoTransform>10, 0.001, 0, 50, 0, -0.001</GeoTransform>
  <VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">
    <SourceFilename relativeToVRT="0">{target}</SourceFilename>
    <ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset><LineOffset>{width}</LineOffset>
  </VRTRasterBand>
</VRTDataset>"""


def simple_vrt(source: str, width: int = 64, height: int = 64, relative: bool = False, extra: str = "") -> str:
    """A VRT with one plain source band (``extra``: more XML inside the band)."""
    return f"""<VRTDataset rasterXSize="{width}" rasterYSize="{height}">
  <SRS>EPSG:4326</SRS>
  <GeoTransform>10, 0.001, 0, 50, 0, -0.001</GeoTransform>
  <VRTRasterBand dataType="Byte" band="1">{extra}
    <SimpleSource>
      <SourceFilename relativeToVRT="{int(relative)}">{source}</SourceFilename>
      <SourceBand>1</SourceBand>
    </SimpleSource>
  </VRTRasterBand>
</VRTDataset>"""


def good_tiff(path: Path, seed: int = 1, compress: str = "deflate", size: int = 64) -> Path:
    """A small valid tiled GeoTIFF in EPSG:4326 at 10E 50N."""
    data = rasters.texture((size, size), 1, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="uint8", crs="EPSG:4326",
                       transform=rasters.from_origin(10, 50, 0.001, 0.001), tiled=True, blockxsize=16,
                       blockysize=16, compress=compress, nodata=0) as dst:
        dst.write(data)
    return path


def write_hostile_folder(folder: Path, canary_port: int) -> dict[str, Path]:
    """Every hostile case as a ``.tif`` in one folder, plus a good file and the secret text file."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder.parent / "secret.txt"
    secret.write_bytes(SECRET * 4)
    files = {"good": good_tiff(folder / "good.tif")}

    def put(name: str, content: bytes | str) -> None:
        files[name] = folder / f"{name}.tif"
        files[name].write_bytes(content.encode() if isinstance(content, str) else content)

    put("raw_vrt", raw_band_vrt(str(secret)))
    put("curl_vrt", simple_vrt(f"/vsicurl/http://127.0.0.1:{canary_port}/a.tif"))
    put("terapixel", geotiff(10**6, 10**6, [bytes(64)], counts=[2**32 - 1]))
    put("declared", geotiff(8000, 8000, [bytes(64)] * 500, rows_per_strip=16))
    put("bomb", geotiff(16384, 16384, [deflated_zeros(256)], tile=(16384, 16384), deflate=True))
    put("bands", geotiff(1, 1, [bytes(65535)], bands=65535))
    put("zero_pixel", geotiff(16, 16, [bytes(256)], scale=(0.0, 0.0)))
    put("nan_pixel", geotiff(16, 16, [bytes(256)], scale=(float("nan"), float("nan"))))
    good = (folder / "good.tif").read_bytes()
    put("truncated", good[: len(good) // 3])
    tiles = 16
    put("bad_offsets", geotiff(64, 64, [bytes(256)] * tiles, tile=(16, 16), offsets=[2**31] * tiles))
    put("bad_counts", geotiff(64, 64, [zlib.compress(bytes(256))] * tiles, tile=(16, 16), deflate=True,
                              counts=[2**31] * tiles))
    jpeg = good_tiff(folder.parent / "jpeg_source.tif", seed=2, compress="jpeg").read_bytes()
    at = jpeg.index(b"\xff\xc4")  # a Huffman table: fill it with nonsense
    put("bad_jpeg", jpeg[:at + 4] + b"\xff" * 200 + jpeg[at + 204:])
    return files


@contextmanager
def canary() -> Iterator[tuple[int, list[str]]]:
    """A local listening socket that records every connection made to it: (port, connections)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, address = server.accept()
            except OSError:
                continue
            seen.append(f"{address[0]}:{address[1]}")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(2)
        server.close()
