"""Strided reads of an HDF5 dataset (a zoomed-out view keeps every n-th cell of its window).

HDF5 copies a strided selection cell by cell, a hundred times slower than a whole one, so the
window is read whole and then strided. Into a new array each time, a global step is megabytes
that the process maps afresh for every request (arrays from 1 MiB get pages of their own,
``process_memory.py``): touching those pages cost as much as the read itself. The window is
read instead into a buffer each thread keeps (up to ``max_bytes``), and only the cells kept
are copied out; a bigger window is read as before.

The buffer still holds the window after the read: the next read of the same window of the same
open dataset (the next map of a step at that scale) takes it from there, as GDAL serves a
COG's overview from its block cache. Another window, another step, or the variable opened
again (a new dataset handle) reads the file.
"""

from __future__ import annotations

import math
import threading

import h5py
import numpy as np

READ_BUFFER_BYTES = 8 << 20  # a thread's buffer at most: a global 0.25 degree float64 step fits


class ReadBuffers:
    """One reusable read buffer per thread, at most ``max_bytes`` each (grown as reads need),
    and which window of which dataset it holds."""

    def __init__(self, max_bytes: int = READ_BUFFER_BYTES) -> None:
        self.max_bytes = max_bytes
        self._local = threading.local()

    def array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
        """A C-contiguous array of ``shape`` on this thread's buffer, which then holds no known
        window; None beyond ``max_bytes``."""
        size = math.prod(shape) * dtype.itemsize
        if size > self.max_bytes:
            return None
        self._local.holds = None
        buffer: np.ndarray | None = getattr(self._local, "buffer", None)
        if buffer is None or buffer.size < size:
            buffer = self._local.buffer = np.empty(size, np.uint8)
        return buffer[:size].view(dtype).reshape(shape)

    def holding(self, dataset: h5py.Dataset, whole: tuple[int | slice, ...]) -> np.ndarray | None:
        """The window ``whole`` of ``dataset`` when this thread's buffer holds it."""
        holds = getattr(self._local, "holds", None)
        if holds is None or holds[0] is not dataset or holds[1] != whole:
            return None
        return holds[2]

    def hold(self, dataset: h5py.Dataset, whole: tuple[int | slice, ...], window: np.ndarray) -> None:
        """Notes that ``window`` (on this thread's buffer) holds ``whole`` of ``dataset``; the
        dataset is kept by reference, so no other handle is ever taken for it."""
        self._local.holds = (dataset, whole, window)


def read_strided(dataset: h5py.Dataset, whole: tuple[int | slice, ...], strides: tuple[slice, ...],
                 buffers: ReadBuffers | None = None) -> np.ndarray:
    """``dataset[whole][strides]`` as a new array: ``whole`` an index or a step-less slice per
    dimension, ``strides`` a step-only slice per sliced dimension."""
    if buffers is None or all(s.step in (None, 1) for s in strides):
        return dataset[whole][strides]
    window = buffers.holding(dataset, whole)
    if window is None:
        shape = tuple(len(range(*k.indices(size))) for k, size in zip(whole, dataset.shape, strict=True)
                      if isinstance(k, slice))
        window = buffers.array(shape, dataset.dtype) if 0 not in shape else None
        if window is None:
            return dataset[whole][strides]
        dataset.read_direct(window, whole)
        buffers.hold(dataset, whole, window)
    return window[strides].copy()
