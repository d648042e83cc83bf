"""What a worker process keeps between requests: GDAL's block cache and glibc's heap.

A serving process bounds its heap and trims it after every request, so that its memory settles
low under a mixed load. A batch worker (a seeding or analysis worker process, short-lived and
under its own memory limit) keeps its freed heap for the next task instead: under the bounds
every array of a megabyte or more is mapped afresh, and zeroing those fresh pages was a tenth of
a metatile's time and a sixth of an analysis chunk's, the same memory traffic that slows two
workers on two cores down most (bench/results/batch-heap-20261208.md)."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from contextlib import contextmanager

import rasterio.env

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters
MMAP_THRESHOLD = 1 << 20  # arrays from this size get pages of their own, returned when freed
MALLOC_ARENAS = 2
ROOMY_MMAP_THRESHOLD = 32 << 20  # glibc's ceiling for it on 64-bit systems
_batch_worker = False


def bound_process_memory(gdal_cache_bytes: int) -> None:
    """Bound what a process keeps between requests: GDAL's block cache (5% of the machine's RAM
    by default, in every process), and glibc's heap. glibc raises its mmap threshold after each
    big free (up to 32 MiB), after which rasters are carved from the heap and their memory
    stays with the process; one fixed threshold, and few arenas, keep it returning."""
    rasterio.env.set_gdal_config("GDAL_CACHEMAX", int(gdal_cache_bytes))
    _thresholds(ROOMY_MMAP_THRESHOLD if _batch_worker else MMAP_THRESHOLD)
    mallopt = getattr(_libc, "mallopt", None)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def _thresholds(mmap_threshold: int) -> None:
    mallopt = getattr(_libc, "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        mallopt(M_TRIM_THRESHOLD, 4 * mmap_threshold)


def keep_heap_for_batch_work() -> None:
    """From now on this process is a batch worker: its heap is roomy and no longer trimmed (after
    ``bound_process_memory``, which building a core calls)."""
    global _batch_worker
    _batch_worker = True
    _thresholds(ROOMY_MMAP_THRESHOLD)


@contextmanager
def roomy_heap() -> Iterator[None]:
    """For one long GDAL copy (a COG assembled from a mosaic): its megabyte-sized buffers, each
    mapped and unmapped afresh under the bounded thresholds, made the copy four times slower;
    they come from the heap while the block runs, which is then bounded and trimmed again
    (a batch worker's heap stays roomy)."""
    if _batch_worker:
        yield
        return
    _thresholds(ROOMY_MMAP_THRESHOLD)
    try:
        yield
    finally:
        _thresholds(MMAP_THRESHOLD)
        trim_heap()


def gdal_cache_bytes() -> int:
    """GDAL's block cache size in this process."""
    return int(rasterio.env.get_gdal_config("GDAL_CACHEMAX"))


def trim_heap() -> None:
    """Hand freed heap pages back to the system (glibc keeps them for reuse otherwise), unless
    this process is a batch worker, whose next task reuses them."""
    if _batch_worker:
        return
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:
        trim(0)
