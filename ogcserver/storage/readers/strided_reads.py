"""Strided reads of an HDF5 dataset (a zoomed-out view keeps every n-th cell of its window).

HDF5 copies a strided selection cell by cell, a hundred times slower than a whole one, so the
window is read whole and then strided. Into a new array each time, a global step is megabytes
that the process maps afresh for every request (arrays from 1 MiB get pages of their own,
``process_memory.py``): touching those pages cost as much as the read itself. The window is
read instead into a buffer each thread keeps (up to ``max_bytes``), and only the cells kept
are copied out; a bigger window is read as before.
"""

from __future__ import annotations

import math
import threading

import h5py
import numpy as np

READ_BUFFER_BYTES = 8 << 20  # a thread's buffer at most: a global 0.25 degree float64 step fits


class ReadBuffers:
    """One reusable read buffer per thread, at most ``max_bytes`` each (grown as reads need)."""

    def __init__(self, max_bytes: int = READ_BUFFER_BYTES) -> None:
        self.max_bytes = max_bytes
        self._local = threading.local()

    def array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
        """A C-contiguous array of ``shape`` on this thread's buffer; None beyond ``max_bytes``."""
        size = math.prod(shape) * dtype.itemsize
        if size > self.max_bytes:
            return None
        buffer: np.ndarray | None = getattr(self._local, "buffer", None)
        if buffer is None or buffer.size < size:
            buffer = self._local.buffer = np.empty(size, np.uint8)
        return buffer[:size].view(dtype).reshape(shape)


def read_strided(dataset: h5py.Dataset, whole: tuple[int | slice, ...], strides: tuple[slice, ...],
                 buffers: ReadBuffers | None = None) -> np.ndarray:
    """``dataset[whole][strides]`` as a new array: ``whole`` an index or a step-less slice per
    dimension, ``strides`` a step-only slice per sliced dimension."""
    if buffers is None or all(s.step in (None, 1) for s in strides):
        return dataset[whole][strides]
    shape = tuple(len(range(*k.indices(size))) for k, size in zip(whole, dataset.shape, strict=True)
                  if isinstance(k, slice))
    target = buffers.array(shape, dataset.dtype) if 0 not in shape else None
    if target is None:
        return dataset[whole][strides]
    dataset.read_direct(target, whole)
    return target[strides].copy()
