"""What a read will cost before it is made, and giving memory back after a request.

GDAL inflates a whole tile or strip to read any pixel of it, so a file may declare blocks that
inflate to gigabytes from a few kilobytes (a DEFLATE bomb, a bogus strip size): such a source is
unreadable at any request size. The input window is what a read touches at the chosen overview
level; it depends on the request, so it is the request that is refused when it is too big.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import rasterio
from rasterio.enums import Interleaving

from ogcserver.model.budget import check_deadline, current_budget
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.geo import transform_bbox
from ogcserver.model.image import Grid
from ogcserver.storage.readers import remote
from ogcserver.storage.readers.georeferencing import window_size

CHUNK_PIXELS = 1 << 22  # output pixels read at once; the deadline is checked between chunks
BIG_BLOCK_BYTES = 4 << 20  # handles with blocks above this are closed after each request


def block_bytes(ds: rasterio.DatasetReader) -> tuple[int, tuple[int, int]]:
    """Bytes GDAL inflates to read any pixel of one block (all bands when pixel-interleaved), and
    the block's shape. GDAL shows a big strip as one-row blocks and decodes it from its start up
    to the row wanted, which costs the whole strip in time: the strip's true shape counts."""
    rows, cols = ds.block_shapes[0]
    if rows == 1 and ds.height > 1 and ds.driver == "GTiff":
        with rasterio.Env(GDAL_ENABLE_TIFF_SPLIT="NO"), remote.reachable(ds.name) as name, \
                rasterio.open(name, **ds.options) as whole:
            rows, cols = whole.block_shapes[0]
    bands = ds.count if ds.interleaving is Interleaving.pixel else 1
    return rows * cols * bands * np.dtype(ds.dtypes[0]).itemsize, (rows, cols)


def check_blocks(ds: rasterio.DatasetReader, name: str, default_limit: int) -> None:
    """Refuse a source whose blocks inflate past what a request may hold (no pixel is read)."""
    budget = current_budget()
    limit = budget.max_bytes if budget is not None else default_limit
    size, (rows, cols) = block_bytes(ds)
    if size > limit:
        raise SourceUnavailable(f"source '{name}' cannot be read: its {cols}x{rows} blocks inflate to "
                                f"{size >> 20} MiB each, more than the {limit >> 20} MiB a request may hold")


def window_bytes(ds: rasterio.DatasetReader, grid: Grid, crs: str, bands: int, modelled: bool = False) -> int:
    """Bytes of the source window under ``grid``, at the resolution of ``ds`` (an overview level);
    ``modelled``: ``ds`` is placed by GCPs or RPCs, so the window comes from their transform."""
    try:
        box = transform_bbox(grid.bbox, crs)
    except Exception:  # noqa: BLE001 - not expressible in the source's CRS: count the whole source
        box = None
    b = ds.bounds
    if box is None or not box.is_valid():
        width, height = ds.width, ds.height
    elif modelled:
        width, height = window_size(ds, box)
    else:
        width = max(0.0, min(box.maxx, b.right) - max(box.minx, b.left)) / abs(ds.transform.a) + 1
        height = max(0.0, min(box.maxy, b.top) - max(box.miny, b.bottom)) / abs(ds.transform.e) + 1
        width, height = min(width, ds.width), min(height, ds.height)
    return math.ceil(width) * math.ceil(height) * bands * np.dtype(ds.dtypes[0]).itemsize


def check_window(ds: rasterio.DatasetReader, grid: Grid, crs: str, bands: int, name: str,
                 modelled: bool = False) -> None:
    """Refuse a read whose input window does not fit what is left of the request's budget."""
    budget = current_budget()
    if budget is not None:
        budget.check_read(f"source '{name}' at this scale", window_bytes(ds, grid, crs, bands, modelled))


def strips(height: int, width: int) -> Iterator[tuple[int, int]]:
    """Row ranges of an output read a chunk at a time."""
    rows = max(1, CHUNK_PIXELS // max(width, 1))
    for r0 in range(0, height, rows):
        yield r0, min(height, r0 + rows)


def in_strips(height: int, width: int, read_rows: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """An output of ``height`` x ``width`` pixels (last two axes) read by row ranges, checking the
    deadline before each; a small output is one read, into no extra array."""
    ranges = list(strips(height, width))
    check_deadline()
    if len(ranges) == 1:
        return read_rows(0, height)
    out: np.ndarray | None = None
    for r0, r1 in ranges:
        check_deadline()
        part = read_rows(r0, r1)
        if out is None:
            out = np.empty((*part.shape[:-2], height, width), dtype=part.dtype)
        out[..., r0:r1, :] = part
    assert out is not None, "more than one range was read"
    return out
