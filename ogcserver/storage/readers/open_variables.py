"""Which of the netCDF/HDF5/Zarr variables a worker keeps open must be closed to stay within
its memory budget.

Opening a variable costs up to 0.25 s (xarray decodes its coordinates), so a series over a
folder of daily files keeps each file open for the next request. But an open variable holds
HDF5's metadata and xarray's coordinates (about 0.65 MiB for a global 1 degree file), plus its
chunk cache, which the chunks read fill up to its size: a folder of hundreds of compressed
files would otherwise take a worker past its share.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

HANDLE_BYTES = 1 << 20  # an open variable's own cost besides its chunk cache (0.65 MiB measured, rounded up)

K = TypeVar("K", bound=Hashable)


def chunks_under(shape: Sequence[int], chunks: Sequence[int], keys: Sequence[int | slice]) -> int:
    """How many stored chunks a selection (an index or a slice per dimension) touches: what a
    read leaves in the chunk cache, at most."""
    count = 1
    for size, chunk, key in zip(shape, chunks, keys, strict=True):
        start, stop = key.indices(size)[:2] if isinstance(key, slice) else (int(key), int(key) + 1)
        if stop <= start:
            return 0
        count *= (stop - 1) // chunk - start // chunk + 1
    return count


def to_close(costs: Sequence[tuple[K, int]], max_open: int, memory: int) -> list[K]:
    """The keys to close, least recently used first, so that at most ``max_open`` variables stay
    open and their costs sum to at most ``memory``. ``costs`` are in the order of use, the one
    in use last (it always stays, counted at its full cost: the read about to be made may fill
    its cache)."""
    total, count = sum(cost for _, cost in costs), len(costs)
    closing: list[K] = []
    for key, cost in costs[:-1]:
        if count <= max_open and total <= memory:
            break
        closing.append(key)
        count, total = count - 1, total - cost
    return closing
