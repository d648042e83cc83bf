"""Strided HDF5 reads through a thread's reusable buffer: the same values as h5py's own
selection, results that do not change with the next read, no window-sized array per read."""

from __future__ import annotations

import threading
import tracemalloc

import h5py
import numpy as np
import pytest

from ogcserver.storage.readers.strided_reads import ReadBuffers, read_strided


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """Three steps of 300 x 400 float32 cells, one uncompressed step per chunk, and the values."""
    values = np.random.default_rng(5).random((3, 300, 400)).astype(np.float32)
    path = tmp_path_factory.mktemp("h5") / "steps.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("v", data=values, chunks=(1, 300, 400))
        f.create_dataset("z", data=values, chunks=(1, 100, 100), compression="gzip")
    return path, values


@pytest.mark.parametrize("name", ["v", "z"])
@pytest.mark.parametrize("whole, strides", [
    ((2, slice(0, 300), slice(0, 400)), (slice(None, None, 2), slice(None, None, 5))),
    ((0, slice(17, 260), slice(3, 391)), (slice(None, None, 3), slice(None, None, 1))),
    ((slice(0, 3), slice(10, 20), slice(0, 400)), (slice(None), slice(None, None, 4), slice(None, None, 7))),
    ((1, slice(5, 6), slice(0, 400)), (slice(None), slice(None, None, 9))),
])
def test_the_values_are_h5pys_selection(steps, name, whole, strides):
    path, _ = steps
    with h5py.File(path, "r") as f:
        got = read_strided(f[name], whole, strides, ReadBuffers())
        np.testing.assert_array_equal(got, f[name][whole][strides])


def test_a_result_does_not_change_with_the_next_read(steps):
    path, values = steps
    buffers = ReadBuffers()
    with h5py.File(path, "r") as f:
        first = read_strided(f["v"], (0, slice(0, 300), slice(0, 400)), (slice(None, None, 2), slice(None, None, 2)),
                             buffers)
        read_strided(f["v"], (1, slice(0, 200), slice(0, 300)), (slice(None, None, 3), slice(None, None, 2)), buffers)
    np.testing.assert_array_equal(first, values[0, ::2, ::2])


def test_a_repeated_read_allocates_no_window(steps):
    """The window (300 x 400 cells) is read into the thread's buffer, not a new array: only the
    kept cells are allocated once the buffer exists."""
    path, _ = steps
    buffers = ReadBuffers()
    whole, strides = (2, slice(0, 300), slice(0, 400)), (slice(None, None, 4), slice(None, None, 4))
    with h5py.File(path, "r") as f:
        read_strided(f["v"], whole, strides, buffers)
        tracemalloc.start()
        try:
            read_strided(f["v"], whole, strides, buffers)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 300 * 400 * 4 // 4


def test_buffers_are_bounded_and_per_thread():
    buffers = ReadBuffers(max_bytes=1000)
    assert buffers.array((10, 26), np.dtype("float32")) is None  # 1040 bytes
    mine = buffers.array((10, 25), np.dtype("float32"))
    found = []
    thread = threading.Thread(target=lambda: found.append(buffers.array((10, 25), np.dtype("float32"))))
    thread.start()
    thread.join()
    assert mine is not None and found[0] is not None and not np.shares_memory(mine, found[0])


def test_a_window_beyond_the_buffer_is_read_as_before(steps):
    path, values = steps
    with h5py.File(path, "r") as f:
        got = read_strided(f["v"], (0, slice(0, 300), slice(0, 400)), (slice(None, None, 2), slice(None, None, 2)),
                           ReadBuffers(max_bytes=1024))
    np.testing.assert_array_equal(got, values[0, ::2, ::2])
