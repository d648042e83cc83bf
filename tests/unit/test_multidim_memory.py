"""The netCDF/HDF5/Zarr variables a worker keeps open, and their chunk caches, stay within a
part of its memory share however many compressed files a folder holds."""

from __future__ import annotations

import gc
from pathlib import Path

import h5py
import numpy as np
import pydantic
import pytest
import xarray as xr

from ogcserver.composition import raster_reader
from ogcserver.settings import ServerConfig, SourcesConfig, settings_from_paths
from ogcserver.storage.readers.open_variables import chunks_under, to_close
from ogcserver.storage.readers.xarray_reader import XarrayReader

MIB = 1 << 20
SIDE = 512  # a 512 x 512 float32 chunk: 1 MiB inflated in the chunk cache


def test_the_bound_is_an_eighth_of_the_share_with_the_settings_as_maxima():
    default = ServerConfig()
    assert default.multidim_memory == 32 * MIB
    assert default.multidim_open(128) == 32  # a MiB a variable, besides its cache
    assert default.multidim_chunk_cache(16 * MIB) == 16 * MIB
    roomy = ServerConfig(workers=1, memory_mb=2048)
    assert (roomy.multidim_open(128), roomy.multidim_chunk_cache(16 * MIB)) == (128, 16 * MIB)
    small = ServerConfig(workers=2, memory_mb=128)  # 64 MiB a worker
    assert (small.multidim_memory, small.multidim_open(128), small.multidim_chunk_cache(16 * MIB)) == (
        8 * MIB, 8, 4 * MIB)


def test_the_reader_is_built_with_the_derived_bounds(tmp_path):
    settings = settings_from_paths([tmp_path]).model_copy(update={
        "server": ServerConfig(workers=2, memory_mb=128, data_dir=tmp_path / "state"),
        "sources": SourcesConfig(multidim_max_open=100, multidim_chunk_cache_mb=10)})
    cubes = raster_reader(settings).cubes
    assert (cubes.max_open, cubes.chunk_cache, cubes.memory) == (8, 4 * MIB, 8 * MIB)


def test_chunks_under_a_selection():
    shape, chunks = (3, 18, 36), (1, 9, 18)
    assert chunks_under(shape, chunks, (0, slice(0, 1), slice(0, 1))) == 1
    assert chunks_under(shape, chunks, (np.int64(2), slice(8, 10), slice(17, 19))) == 4
    assert chunks_under(shape, chunks, (slice(None), slice(None), slice(None))) == 12
    assert chunks_under(shape, chunks, (0, slice(5, 5), slice(None))) == 0


def test_the_least_recent_are_closed_first_and_the_last_used_stays():
    costs = [("a", 3), ("b", 3), ("c", 3), ("d", 5)]
    assert to_close(costs, max_open=10, memory=14) == []
    assert to_close(costs, max_open=10, memory=10) == ["a", "b"]
    assert to_close(costs, max_open=2, memory=100) == ["a", "b"]
    assert to_close(costs, max_open=10, memory=1) == ["a", "b", "c"]  # the one in use stays


def compressed_day(path: Path, day: int) -> Path:
    """One day of a noisy field in one zlib chunk of 1 MiB inflated."""
    rng = np.random.default_rng(day)
    xr.Dataset({"v": (("time", "lat", "lon"), rng.normal(280, 5, (1, SIDE, SIDE)).astype("float32"))},
               coords={"time": ("time", [day], {"units": "days since 2001-01-01", "calendar": "standard"}),
                       "lat": ("lat", np.linspace(89.9, -89.9, SIDE), {"units": "degrees_north"}),
                       "lon": ("lon", np.linspace(-179.9, 179.9, SIDE), {"units": "degrees_east"})}).to_netcdf(
        path, engine="netcdf4", encoding={"v": {"zlib": True, "complevel": 1, "chunksizes": (1, SIDE, SIDE)}})
    return path


def resident_bytes() -> int:
    gc.collect()
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def test_a_point_over_many_compressed_files_stays_within_the_bound(tmp_path):
    """Each file's point inflates its 1 MiB chunk into its cache: 48 files would keep 48 MiB of
    caches and 48 handles; within an 8 MiB bound at most 8 variables stay open, and the
    process grows by about that much."""
    paths = [str(compressed_day(tmp_path / f"day{d:02d}.nc", d)) for d in range(48)]
    reader = XarrayReader(max_open=128, chunk_cache=16 * MIB, memory=8 * MIB)
    first = reader.describe(paths[0], variable="v")
    assert reader.sample(first, 10.0, 10.0, "EPSG:4326") is not None  # libraries warmed up
    before = resident_bytes()
    for path in paths[1:]:
        info = reader.describe(path, variable="v")
        value = reader.sample(info, 10.0, 10.0, "EPSG:4326")
        truth = xr.open_dataset(path).v.sel(lat=10.0, lon=10.0, method="nearest").item()
        assert value == [truth]
        open_files = h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE)
        assert len(reader._open) <= 8 and len(open_files) <= 8
        assert sum(o.cost for o in reader._open.values()) <= 8 * MIB
    assert (resident_bytes() - before) < 20 * MIB  # unbounded: 47 caches of 1 MiB and 47 handles


def test_a_variable_dropped_from_the_pool_stays_open_for_a_read_still_holding_it(tmp_path):
    """Another thread's open may push a variable out of the pool while a read holds it: the read
    still reads it, and its file closes once the read lets it go."""
    paths = [str(compressed_day(tmp_path / f"day{d}.nc", d)) for d in range(3)]
    reader = XarrayReader(max_open=1, chunk_cache=MIB, memory=8 * MIB)
    held = reader._opened(paths[0], "v")  # as a read in progress holds it
    reader._opened(paths[1], "v")  # one variable at most: the first leaves the pool
    assert (paths[0], "v") not in {k[1:] for k in reader._open}
    truth = xr.open_dataset(paths[0]).v.isel(time=0, lat=3, lon=4).item()
    assert held.read({"time": 0, "lat": 3, "lon": 4}).item() == truth
    file_id = held.dataset.encoding["hdf5"].id
    assert file_id.valid
    del held
    gc.collect()
    assert not file_id.valid  # closed


def test_the_read_buffer_is_a_setting_within_the_share(tmp_path):
    """``sources.multidim_read_buffer_mb``: each thread's buffer for strided reads, the threads'
    together within a quarter of the open variables' memory."""
    for wrong in (-1, 257, "lots"):
        with pytest.raises(pydantic.ValidationError):
            SourcesConfig(multidim_read_buffer_mb=wrong)
    assert ServerConfig().multidim_read_buffer(8 * MIB) == 8 * MIB
    assert ServerConfig(workers=1, memory_mb=256, threads=4).multidim_read_buffer(8 * MIB) == 2 * MIB
    settings = settings_from_paths([tmp_path]).model_copy(update={
        "server": ServerConfig(workers=1, memory_mb=2048, data_dir=tmp_path / "state"),
        "sources": SourcesConfig(multidim_read_buffer_mb=3)})
    assert raster_reader(settings).cubes.buffers.max_bytes == 3 * MIB
