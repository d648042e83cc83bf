"""The xarray reader: netCDF, HDF5 and Zarr variables decoded as CF says, on a north-up grid,
checked against xarray's own decoding of the same files (tests/support/cubes.py)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import xarray as xr

from ogcserver.model.dimensions import Slice
from ogcserver.model.errors import SourceRefused
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid
from ogcserver.settings import settings_from_paths
from ogcserver.storage.readers.xarray_reader import XarrayReader
from tests.support import cubes


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    return cubes.four_d(tmp_path_factory.mktemp("cube") / "cube.nc")


def native_grid(info) -> Grid:
    return Grid.from_bbox(info.bounds, info.width, info.height)


def test_the_4d_noleap_cube_is_described_with_its_axes(cube):
    info = XarrayReader().describe(str(cube), variable="ta")
    assert (info.crs, info.width, info.height, info.count) == ("EPSG:4326", 72, 36, 1)
    assert info.bounds.as_tuple() == (-180.0, -90.0, 180.0, 90.0)  # 0..360 rolled, south-up flipped
    time, level = info.dimensions
    assert (time.name, time.units, time.calendar) == ("time", "ISO8601", "noleap")
    # day 60 of a noleap year is 2 March; the default is the latest step
    assert time.values == ("2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z", "2001-03-02T00:00:00Z",
                           "2001-04-01T00:00:00Z")
    assert time.default_value == "2001-04-01T00:00:00Z"
    # levels stored top-down; the default is the one nearest the surface: the highest pressure
    assert (level.name, level.units, level.values, level.default_value) == ("elevation", "hPa",
                                                                            ("500", "850", "1000"), "1000")
    assert info.units == "K" and info.attributes["long_name"] == "Air temperature"


@pytest.mark.parametrize("step", [(0, 0), (2, 1), (3, 2)])
def test_native_grid_values_equal_xarray_decoding_bit_for_bit(cube, step):
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    t, z = step
    raster = reader.read(replace(info, slice=Slice((("time", t), ("level", z)))), native_grid(info), [1],
                         Resampling.NEAREST)
    truth = cubes.decoded(cube, "ta").isel(time=t, level=z).values
    assert raster.data.shape == (1, 36, 72)
    np.testing.assert_array_equal(raster.data[0], truth)  # NaN where xarray has NaN, equal elsewhere
    assert (~raster.valid).sum() == 2  # the _FillValue hole and the value beyond valid_range


def test_a_window_reads_only_its_part_and_places_it(cube):
    """A view of 20x10 degrees around the antimeridian of the rolled grid: columns from both ends
    of the file's 0..360 longitudes."""
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    grid = Grid.from_bbox(BBox(-10, 20, 10, 30, "EPSG:4326"), 4, 2)
    raster = reader.read(info, grid, [1], Resampling.NEAREST)
    truth = cubes.decoded(cube, "ta").isel(time=3, level=2).sel(lon=slice(-10, 10), lat=slice(30, 20)).values
    np.testing.assert_array_equal(raster.data[0], truth)


def test_sample_gives_the_decoded_value_of_the_step(cube):
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    truth = cubes.decoded(cube, "ta")
    for t in range(cubes.TIMES):
        value = reader.sample(replace(info, slice=Slice((("time", t),))), 12.4, -41.2, "EPSG:4326")
        assert value == [float(truth.isel(time=t, level=2).sel(lon=12.5, lat=-42.5).values)]
    hole_lon, hole_lat = float(cubes.LONS[5]), float(cubes.LATS[3])
    assert reader.sample(info, hole_lon, hole_lat, "EPSG:4326") is None


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_stores_of_both_formats(tmp_path, zarr_format):
    store = cubes.zarr_store(tmp_path / f"v{zarr_format}.zarr", zarr_format)
    reader = XarrayReader()
    info = reader.describe(str(store))  # its only variable
    assert info.variable == "tas" and info.dimensions[0].values[-1] == "2020-01-03T00:00:00Z"
    raster = reader.read(replace(info, slice=Slice((("time", 1),))), native_grid(info), [1], Resampling.NEAREST)
    np.testing.assert_array_equal(raster.data[0], cubes.decoded(store, "tas").isel(time=1).values)


def test_the_real_files_keep_their_decoded_values(shared_data):
    reader = XarrayReader()
    for name, variable in (("netcdf-ncep-air/air_temperature_small.nc", "air"),
                           ("netcdf-merra2/M2T1NXSLV_temporal.nc4", "PS"),
                           ("netcdf-above-albers/ABoVE_TVPRM_bbox.nc4", "NEE")):
        path = shared_data / name
        info = reader.describe(str(path), variable=variable)
        last = info.dimensions[0].default
        raster = reader.read(info, native_grid(info), [1], Resampling.NEAREST)
        with xr.open_dataset(path) as ds:
            truth = ds[variable].isel(time=last).load()
        if "lon" in truth.dims:
            truth = truth.assign_coords(lon=((truth.lon + 180) % 360) - 180).sortby("lon")
            truth = truth.sortby("lat", ascending=False)
        else:
            truth = truth.sortby("y", ascending=False)
        np.testing.assert_array_equal(raster.data[0], truth.values.astype(raster.data.dtype), err_msg=name)
    merra = reader.describe(str(shared_data / "netcdf-merra2/M2T1NXSLV_temporal.nc4"), variable="PS")
    assert merra.bounds.as_tuple() == (-180.3125, -90.25, 179.6875, 90.25)  # cell centres on the poles and -180
    outline = reader.footprint(merra)["coordinates"][0]
    assert min(p[1] for p in outline) == -90 and max(p[0] for p in outline) == 179.6875
    above = reader.describe(str(shared_data / "netcdf-above-albers/ABoVE_TVPRM_bbox.nc4"), variable="NEE")
    assert "Albers" in above.crs and above.bounds.as_tuple() == (-2290020.0, 3830000.0, -1690020.0, 4430000.0)


def test_zero_configuration_publishes_each_variable(tmp_path, cube):
    store = cubes.zarr_store(tmp_path / "obs.zarr")
    two = tmp_path / "two.nc"
    ds = xr.open_dataset(cube).load()
    ds["tb"] = ds["ta"] * 2
    ds.to_netcdf(two)
    layers = settings_from_paths([cube, store, two]).services[0].layers
    assert [(layer.name, layer.variable) for layer in layers] == [
        ("cube_ta", "ta"), ("obs_tas", "tas"), ("two_ta", "ta"), ("two_tb", "tb")]
    folder = settings_from_paths([tmp_path]).services[0].layers  # a folder of cubes only: no empty mosaic
    assert {layer.name for layer in folder} == {"obs_tas", "two_ta", "two_tb"}


def hostile_store(tmp_path, name: str, change) -> str:
    store = cubes.zarr_store(tmp_path / name)
    change(store)
    return str(store)


def test_zarr_stores_that_could_run_code_or_read_other_files_are_refused(tmp_path):
    reader = XarrayReader()

    def pickle_codec(store):
        meta = store / "tas" / ".zarray"
        document = json.loads(meta.read_text())
        document["compressor"] = {"id": "pickle", "protocol": 4}
        meta.write_text(json.dumps(document))

    def link(store):
        chunk = next(p for p in (store / "tas").iterdir() if not p.name.startswith("."))
        chunk.unlink()
        chunk.symlink_to("/etc/passwd")

    for name, change, reason in (("pickled.zarr", pickle_codec, "codec 'pickle' is not accepted"),
                                 ("linked.zarr", link, "symbolic links")):
        with pytest.raises(SourceRefused) as refused:
            reader.describe(hostile_store(tmp_path, name, change))
        assert reason in refused.value.reason
    fake = tmp_path / "fake.nc"
    fake.write_bytes(b"II*\x00" + bytes(100))
    with pytest.raises(SourceRefused, match="not accepted") as refused:
        reader.describe(str(fake))
    assert refused.value.reason == "its content is GeoTIFF, not the netCDF its extension '.nc' says"
    for path in ("/vsicurl/http://127.0.0.1:9/a.nc", "NETCDF:a.nc:air"):
        with pytest.raises(SourceRefused):
            reader.vet(path)


def test_reads_are_bounded_by_the_request_budget(cube):
    from ogcserver.model.budget import Budget, request_budget
    from ogcserver.model.errors import ResourceLimitExceeded

    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    with request_budget(Budget(math.inf, 1000)), pytest.raises(ResourceLimitExceeded):
        reader.read(info, native_grid(info), [1], Resampling.NEAREST)


def test_a_global_grid_is_not_drawn_again_beyond_the_world(cube):
    """A Web Mercator view wider than the world: PROJ wraps the longitudes past +-20037508 m, so
    the warper would draw the globe there again; those pixels stay empty, as for image sources."""
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    grid = Grid.from_bbox(BBox(-25_000_000, -10_000_000, 25_000_000, 10_000_000, "EPSG:3857"), 100, 40)
    raster = reader.read(info, grid, [1], Resampling.NEAREST)
    columns = (np.arange(100) + 0.5) * 500_000 - 25_000_000
    inside = np.abs(columns) < 20_037_508
    assert not raster.valid[:, ~inside].any()
    assert raster.valid[:, inside].mean() > 0.99


def test_layer_options_are_validated(tmp_path, cube, caplog):
    """A colour range must be finite min < max; a configured dimension default must name a step,
    else the layer is left out with the reason, once."""
    import logging

    import pydantic
    import yaml

    from ogcserver.app import create_app
    from ogcserver.core.config import LayerConfig
    from ogcserver.settings import load_settings

    with pytest.raises(pydantic.ValidationError, match="value_range"):
        LayerConfig(name="a", source=cube, value_range=(5, 1))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "s")}, "services": [{"name": "s", "layers": [
        {"name": "good", "source": str(cube), "variable": "ta", "dimensions": {"elevation": "850"}},
        {"name": "bad", "source": str(cube), "variable": "ta", "dimensions": {"elevation": "700"}},
        {"name": "nope", "source": str(cube), "variable": "ta", "dimensions": {"depth": "1"}}]}]}))
    with caplog.at_level(logging.WARNING):
        client = create_app(load_settings(config)).test_client()
        body = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").data
    assert b"<Name>good</Name>" in body and b"<Name>bad</Name>" not in body and b"<Name>nope</Name>" not in body
    reasons = [r.reason for r in caplog.records if r.getMessage() == "layer left out"]
    assert any("'700' names no elevation step of this layer" in r for r in reasons)
    assert any("has no dimension 'depth'" in r for r in reasons)


def test_a_zoomed_out_view_is_warped_from_block_means(cube):
    """A world view of 4x4 source cells a pixel is read as the mean of each block's valid cells
    (as from an average overview), not resampled from the full grid."""
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    grid = Grid.from_bbox(BBox(-180, -90, 180, 90, "EPSG:4326"), 18, 9)
    raster = reader.read(info, grid, [1], Resampling.BILINEAR)
    truth = cubes.decoded(cube, "ta").isel(time=3, level=2).coarsen(lat=4, lon=4).mean().values
    np.testing.assert_allclose(raster.data[0], truth, rtol=1e-6)


def test_a_zoomed_out_nearest_view_keeps_source_values(cube):
    """Nearest resampling of a zoomed-out view gives cells of the source, the ones gdalwarp's
    nearest picks from the full grid (each block's middle cell)."""
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    grid = Grid.from_bbox(BBox(-180, -90, 180, 90, "EPSG:4326"), 18, 9)
    raster = reader.read(info, grid, [1], Resampling.NEAREST)
    truth = cubes.decoded(cube, "ta").isel(time=3, level=2).values[2::4, 2::4]
    np.testing.assert_array_equal(raster.data[0], truth)


def test_a_view_on_the_source_grid_is_copied_not_warped(cube, monkeypatch):
    import rasterio.warp

    def no_warp(*args, **kwargs):
        raise AssertionError("warped")

    monkeypatch.setattr(rasterio.warp, "reproject", no_warp)
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    grid = Grid.from_bbox(BBox(-100, -40, 50, 30, "EPSG:4326"), 30, 14)  # 5 degree cells, on the cells' edges
    raster = reader.read(info, grid, [1], Resampling.BILINEAR)
    truth = cubes.decoded(cube, "ta").isel(time=3, level=2).sel(lon=slice(-100, 50), lat=slice(30, -40)).values
    np.testing.assert_array_equal(raster.data[0], truth)


def chunk_cache_of(reader: XarrayReader, path, variable: str) -> int:
    """The bytes of HDF5's chunk cache the file of an open variable was opened with."""
    return reader._opened(str(path), variable).dataset.encoding["chunk_cache"]


def test_the_chunk_cache_is_for_compressed_chunks_only(cube, tmp_path):
    """Compressed chunks get the configured cache (a step's tiles inflate its chunk once);
    uncompressed ones none, so HDF5 copies only the cells asked, not each chunk under them."""
    plain = tmp_path / "plain.nc"
    xr.Dataset({"v": (("time", "lat", "lon"), np.ones((3, 18, 36), "float32"))},
               coords={"lat": ("lat", np.arange(85, -90, -10.0), {"units": "degrees_north"}),
                       "lon": ("lon", np.arange(-175, 180, 10.0), {"units": "degrees_east"})}).to_netcdf(
        plain, engine="netcdf4", encoding={"v": {"chunksizes": (1, 9, 18), "zlib": False}})
    reader = XarrayReader(chunk_cache=3 << 20)
    assert chunk_cache_of(reader, cube, "ta") == 3 << 20
    assert chunk_cache_of(reader, plain, "v") == 0
    # read straight from HDF5 (the tests of decoded values above go through this path)
    assert reader._opened(str(cube), "ta").hdf5 is not None


def test_the_chunk_cache_setting_is_validated(tmp_path):
    import pydantic

    from ogcserver.composition import raster_reader
    from ogcserver.settings import SourcesConfig

    for wrong in (-1, 4096, "lots"):
        with pytest.raises(pydantic.ValidationError):
            SourcesConfig(multidim_chunk_cache_mb=wrong)
    settings = settings_from_paths([tmp_path]).model_copy(
        update={"sources": SourcesConfig(multidim_chunk_cache_mb=5)})
    assert raster_reader(settings).cubes.chunk_cache == 5 << 20


def test_open_variables_are_bounded_by_the_setting(tmp_path):
    """``sources.multidim_max_open`` bounds the variables a reader keeps open: past it, the least
    recently used is closed (its file handle with it); one used again stays open."""
    import pydantic

    from ogcserver.composition import raster_reader
    from ogcserver.settings import SourcesConfig

    for wrong in (0, 5000, "many"):
        with pytest.raises(pydantic.ValidationError):
            SourcesConfig(multidim_max_open=wrong)
    settings = settings_from_paths([tmp_path]).model_copy(update={"sources": SourcesConfig(multidim_max_open=2)})
    reader = raster_reader(settings).cubes
    paths = [str(cubes.four_d(tmp_path / f"cube{i}.nc")) for i in range(3)]
    handles = [reader._opened(path, "ta").dataset.encoding["hdf5"] for path in paths[:2]]
    reader._opened(paths[0], "ta")  # used again: the second is now the least recent
    reader._opened(paths[2], "ta")
    assert [key[1] for key in reader._open] == [paths[0], paths[2]]
    assert handles[0].id.valid and not handles[1].id.valid  # the second's file is closed


def test_block_middles_are_read_in_runs():
    from ogcserver.storage.readers.xarray_reader import middles, runs

    assert middles(0, 10, 1).tolist() == list(range(10))
    assert middles(3, 15, 4).tolist() == [5, 9, 13]
    assert middles(0, 11, 4).tolist() == [2, 6, 10]  # the last block (8..10) has its middle
    assert middles(0, 9, 4).tolist() == [2, 6, 8]  # the last block (8) is its own last index
    assert runs(np.array([2, 6, 10, 1, 5])) == [slice(2, 11, 4), slice(1, 6, 4)]  # a rolled grid wraps
    assert runs(np.array([2, 6, 8])) == [slice(2, 7, 4), slice(8, 9, 1)]
