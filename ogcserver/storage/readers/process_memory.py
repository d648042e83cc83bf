"""What a worker process keeps between requests: GDAL's block cache and glibc's heap."""

from __future__ import annotations

import ctypes
import ctypes.util

import rasterio.env

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters
MMAP_THRESHOLD = 1 << 20  # arrays from this size get pages of their own, returned when freed
MALLOC_ARENAS = 2


def bound_process_memory(gdal_cache_bytes: int) -> None:
    """Bound what a process keeps between requests: GDAL's block cache (5% of the machine's RAM
    by default, in every process), and glibc's heap. glibc raises its mmap threshold after each
    big free (up to 32 MiB), after which rasters are carved from the heap and their memory
    stays with the process; one fixed threshold, and few arenas, keep it returning."""
    rasterio.env.set_gdal_config("GDAL_CACHEMAX", int(gdal_cache_bytes))
    mallopt = getattr(_libc, "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        mallopt(M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD)
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def gdal_cache_bytes() -> int:
    """GDAL's block cache size in this process."""
    return int(rasterio.env.get_gdal_config("GDAL_CACHEMAX"))


def trim_heap() -> None:
    """Hand freed heap pages back to the system (glibc keeps them for reuse otherwise)."""
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:
        trim(0)
