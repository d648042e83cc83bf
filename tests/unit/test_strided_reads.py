"""Strided HDF5 reads through a thread's reusable buffer: the same values as h5py's own
selection, results that do not change with the next read, no window-sized array per read."""

from __future__ import annotations

import threading
import tracemalloc
from dataclasses import replace

import h5py
import numpy as np
import pytest

from ogcserver.model.dimensions import Slice
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid
from ogcserver.storage.readers.strided_reads import ReadBuffers, read_strided
from ogcserver.storage.readers.xarray_reader import XarrayReader
from tests.support import cubes


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


def counting_reads(monkeypatch) -> list:
    """Every window h5py reads through ``read_direct`` from now on."""
    reads: list = []
    original = h5py.Dataset.read_direct

    def read_direct(self, dest, source_sel=None, dest_sel=None):
        reads.append(source_sel)
        return original(self, dest, source_sel, dest_sel)

    monkeypatch.setattr(h5py.Dataset, "read_direct", read_direct)
    return reads


def test_the_same_window_again_is_taken_from_the_buffer(steps, monkeypatch):
    path, values = steps
    reads = counting_reads(monkeypatch)
    buffers = ReadBuffers()
    whole, strides = (1, slice(0, 300), slice(0, 400)), (slice(None, None, 2), slice(None, None, 5))
    with h5py.File(path, "r") as f:
        dataset = f["v"]  # one handle, as an open variable keeps it
        first = read_strided(dataset, whole, strides, buffers)
        again = read_strided(dataset, whole, strides, buffers)
        assert len(reads) == 1
        other_strides = read_strided(dataset, whole, (slice(None, None, 3), slice(None, None, 3)), buffers)
        assert len(reads) == 1  # the same window, kept otherwise
        np.testing.assert_array_equal(other_strides, values[1, ::3, ::3])
        other_step = read_strided(dataset, (2, slice(0, 300), slice(0, 400)), strides, buffers)
        assert len(reads) == 2
    np.testing.assert_array_equal(first, values[1, ::2, ::5])
    np.testing.assert_array_equal(again, values[1, ::2, ::5])
    np.testing.assert_array_equal(other_step, values[2, ::2, ::5])


def test_another_handle_of_the_dataset_reads_the_file(steps, monkeypatch):
    """A variable closed and opened again (a file replaced, or evicted from the open variables)
    is a new handle: its windows are read afresh, never taken from what the old one left."""
    path, values = steps
    buffers = ReadBuffers()
    whole, strides = (0, slice(0, 300), slice(0, 400)), (slice(None, None, 4), slice(None, None, 4))
    with h5py.File(path, "r") as f:
        read_strided(f["v"], whole, strides, buffers)
    changed = path.with_name("changed.h5")
    with h5py.File(changed, "w") as f:
        f.create_dataset("v", data=values[::-1], chunks=(1, 300, 400))
    reads = counting_reads(monkeypatch)
    with h5py.File(changed, "r") as f:
        got = read_strided(f["v"], whole, strides, buffers)
    assert len(reads) == 1
    np.testing.assert_array_equal(got, values[2, ::4, ::4])


def test_the_readers_maps_follow_the_step_and_the_reopened_file(tmp_path):
    """Zoomed-out nearest maps of one step, another, the first again, and the first once the
    file is opened again are each the step's own cells (the block middles)."""
    cube = cubes.four_d(tmp_path / "cube.nc")
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    world = Grid.from_bbox(BBox(-180, -90, 180, 90, "EPSG:4326"), 18, 9)
    truth = cubes.decoded(cube, "ta")
    for time in (3, 1, 3):
        raster = reader.read(replace(info, slice=Slice((("time", time), ("level", 0)))), world, [1],
                             Resampling.NEAREST)
        np.testing.assert_array_equal(raster.data[0], truth.isel(time=time, level=0).values[2::4, 2::4])
    reader.forget_path(str(cube))
    raster = reader.read(replace(info, slice=Slice((("time", 3), ("level", 0)))), world, [1], Resampling.NEAREST)
    np.testing.assert_array_equal(raster.data[0], truth.isel(time=3, level=0).values[2::4, 2::4])
