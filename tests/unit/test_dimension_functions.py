"""Functions over a layer's dimensions (aggregate, anomaly, change) through the read primitive,
and point series, checked against xarray's own reduction of the same files; the step limit
refuses before anything is read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
import yaml
from rasterio.transform import from_origin

from ogcserver.composition import build_core
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.core.query import EVERY_ITEM, PointQuery
from ogcserver.core.read import ReadRequest, ViewReader
from ogcserver.model.access import ANONYMOUS, Action
from ogcserver.model.budget import Budget, current_budget
from ogcserver.model.dimensions import Slice, slices_for
from ogcserver.model.errors import InvalidDimensionValue, RenderTimeout
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid
from ogcserver.model.reduction import Running, StepReduction
from ogcserver.settings import load_settings
from ogcserver.storage.readers import xarray_reader
from ogcserver.storage.readers.xarray_reader import XarrayReader, step_blocks
from tests.conftest import SHARED
from tests.support import cubes

NCEP = SHARED / "data" / "netcdf-ncep-air" / "air_temperature_small.nc"


def configure(folder: Path, layers: list[dict], max_steps: int = 400) -> Path:
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump({"server": {"data_dir": str(folder / "state")}, "limits": {"max_steps": max_steps},
                                    "services": [{"name": "s", "layers": layers}]}))
    return path


@pytest.fixture(scope="module")
def cube(tmp_path_factory) -> Path:
    return cubes.four_d(tmp_path_factory.mktemp("cube") / "cube.nc")


@pytest.fixture(scope="module")
def core(cube):
    flat = cube.parent / "flat.tif"
    with rasterio.open(flat, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(0, 8, 1, 1)) as ds:
        ds.write(np.ones((1, 8, 8), "float32"))
    layers = [{"name": "ta", "source": str(cube), "variable": "ta"}, {"name": "flat", "source": str(flat)}]
    if NCEP.exists():
        layers.append({"name": "air", "source": str(NCEP), "variable": "air"})
    return build_core(load_settings(configure(cube.parent, layers)))


def layer_of(core, name: str):
    return core.engine.resolve(name, "", None, ANONYMOUS, Action.DOWNLOAD, "coverage")[0]


def native(layer) -> Grid:
    (rx, ry), box = layer.info.resolution, layer.info.bounds
    return Grid.from_bbox(box, round(box.width / rx), round(box.height / ry))


def over(core, name: str, rule: dict, asked: dict[str, str] | None = None,
         views: ViewReader | None = None) -> np.ndarray:
    """The rule's values on the layer's native grid (NaN where it has none), through the read primitive."""
    layer = layer_of(core, name)
    template = ProcessingTemplate.model_validate({**rule, "name": "t"})
    request = ReadRequest(layer, native(layer), (1,), Resampling.NEAREST, 64, dimensions=asked or {},
                          template=template, exact=True, max_steps=core.engine.limits(None).max_steps)
    raster = (views or core.engine.views).read_values(request)
    assert raster is not None
    return np.where(raster.valid, raster.data[0], np.nan)


def truth(cube: Path) -> xr.DataArray:
    return cubes.decoded(cube, "ta")


@pytest.mark.parametrize("statistic", ["mean", "min", "max", "sum", "std"])
def test_an_aggregate_equals_xarray_reducing_the_same_steps(core, cube, statistic):
    """The first three steps of the 850 hPa level (a NaN hole and a value beyond valid_range in
    every step: no value there, as xarray's skipna leaves none)."""
    got = over(core, "ta", {"over": {"statistic": statistic, "steps": {"time": "2001-01/2001-03"}}},
               {"elevation": "850"})
    steps = truth(cube).sel(level=850.0).isel(time=slice(0, 3))
    expected = getattr(steps, statistic)("time", skipna=True, **({"min_count": 1} if statistic == "sum" else {}))
    np.testing.assert_allclose(got, expected.values.astype("float32"), rtol=2e-6, atol=1e-4)
    assert np.isnan(got).sum() == 2 == np.isnan(expected.values).sum()


def test_the_request_names_the_steps_when_the_template_does_not(core, cube):
    got = over(core, "ta", {"over": {"statistic": "max"}}, {"time": "2001-01-31/2001-04-01", "elevation": "500"})
    expected = truth(cube).sel(level=500.0).isel(time=slice(1, 4)).max("time")
    np.testing.assert_array_equal(got, expected.values.astype("float32"))


def test_an_elevation_range_is_aggregated_like_time(core, cube):
    got = over(core, "ta", {"over": {"statistic": "mean"}}, {"time": "2001-03-02", "elevation": "500/1000"})
    expected = truth(cube).isel(time=2).mean("level")
    np.testing.assert_allclose(got, expected.values.astype("float32"), rtol=2e-6)


def test_the_chain_runs_on_the_aggregate(core, cube):
    got = over(core, "ta", {"over": {"steps": {"time": "2001"}},
                            "chain": [{"function": "expression", "expression": "b1 - 273.15"}]})
    expected = truth(cube).sel(level=1000.0).mean("time") - 273.15
    np.testing.assert_allclose(got, expected.values.astype("float32"), rtol=1e-5, atol=1e-4)


def test_an_anomaly_is_the_period_mean_minus_the_reference_mean(core, cube):
    got = over(core, "ta", {"over": {"operation": "anomaly", "steps": {"time": "2001-03/2001-04"},
                                     "reference": {"time": "2001-01/2001-02"}}})
    ta = truth(cube).sel(level=1000.0)
    expected = ta.isel(time=slice(2, 4)).mean("time") - ta.isel(time=slice(0, 2)).mean("time")
    np.testing.assert_allclose(got, expected.values.astype("float32"), rtol=1e-5, atol=1e-4)


def test_a_change_is_one_step_minus_another(core, cube):
    got = over(core, "ta", {"over": {"operation": "change", "reference": {"time": "2001-01-01"}}},
               {"time": "2001-04-01", "elevation": "850"})
    ta = truth(cube).sel(level=850.0)
    expected = ta.isel(time=3).values.astype("float32") - ta.isel(time=0).values.astype("float32")
    np.testing.assert_array_equal(got, expected)


def test_a_change_against_several_steps_is_refused(core):
    with pytest.raises(InvalidDimensionValue, match="compares two steps"):
        over(core, "ta", {"over": {"operation": "change", "reference": {"time": "2001-01/2001-02"}}})


class Refusing:
    """A reader that fails the test if anything is read."""

    def __getattr__(self, name):
        raise AssertionError(f"read {name} before refusing")


def test_more_steps_than_the_limit_are_refused_before_reading(cube, tmp_path):
    core = build_core(load_settings(configure(tmp_path, [{"name": "ta", "source": str(cube), "variable": "ta"}],
                                              max_steps=3)))
    views = ViewReader(core.engine.views.catalog, Refusing())
    with pytest.raises(InvalidDimensionValue, match="4 steps; at most 3") as caught:
        over(core, "ta", {"over": {"statistic": "mean"}}, {"time": "2001"}, views=views)
    assert caught.value.dimension == "time"
    with pytest.raises(InvalidDimensionValue, match="at most 3"):  # two with the reference's two
        over(core, "ta", {"over": {"operation": "anomaly", "steps": {"time": "2001-03/2001-04"},
                                   "reference": {"time": "2001-01/2001-02"}}}, views=views)


def test_a_layer_without_the_dimension_is_refused(core):
    with pytest.raises(InvalidDimensionValue, match="no dimension to aggregate") as caught:
        over(core, "flat", {"over": {"statistic": "mean"}}, {"time": "2001"})
    assert caught.value.dimension == "time"
    with pytest.raises(InvalidDimensionValue, match="no dimension 'depth'"):
        over(core, "ta", {"over": {"steps": {"depth": "0/10"}}})


def test_steps_are_read_in_blocks_and_reduced_as_they_are_read(core, cube, monkeypatch):
    """The steps are read a block at a time (a hyperslab of several steps, not a read a step), the
    block bounded by ``STEP_BLOCK_BYTES``, and a block is released before the next is read."""
    import weakref

    layer = layer_of(core, "ta")
    grid = native(layer)
    two_steps = 2 * grid.width * grid.height * np.dtype(layer.info.dtype).itemsize
    monkeypatch.setattr(xarray_reader, "STEP_BLOCK_BYTES", two_steps)
    alive: list[weakref.ref] = []
    shapes: list[tuple[int, ...]] = []
    original = XarrayReader._values

    def values(self, *args, **kwargs):
        assert sum(ref() is not None for ref in alive) == 0, "an earlier block is still held"
        found = original(self, *args, **kwargs)
        alive.append(weakref.ref(found))
        shapes.append(found.shape)
        return found

    monkeypatch.setattr(XarrayReader, "_values", values)
    over(core, "ta", {"over": {"statistic": "std"}}, {"time": "2001"})
    assert [shape[0] for shape in shapes] == [2, 2]  # the 4 steps of 2001, two a read


def test_a_reduction_reserves_its_block_of_steps(core, monkeypatch):
    """The block of steps read at once counts against the request's memory while it is read:
    four steps a block hold three steps' bytes more than one step a block."""
    layer = layer_of(core, "ta")
    grid = native(layer)
    template = ProcessingTemplate.model_validate({"name": "t", "over": {"statistic": "mean"}})
    reserved: list[int] = []
    original = XarrayReader._values

    def values(self, *args, **kwargs):
        reserved.append(current_budget().reserved)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(XarrayReader, "_values", values)
    for block in (1, 1 << 30):
        monkeypatch.setattr(xarray_reader, "STEP_BLOCK_BYTES", block)
        request = ReadRequest(layer, grid, (1,), Resampling.NEAREST, 64, dimensions={"time": "2001"},
                              template=template, exact=True, budget=Budget(deadline=1e9, max_bytes=1 << 30))
        core.engine.views.read_values(request)
    assert len(reserved) == 4 + 1
    assert reserved[-1] - reserved[0] == 3 * grid.width * grid.height * np.dtype(layer.info.dtype).itemsize


@pytest.mark.parametrize("resampling", [Resampling.NEAREST, Resampling.BILINEAR])
@pytest.mark.parametrize("statistic", ["mean", "std", "min"])
@pytest.mark.parametrize("view", ["native", "mercator", "coarse"])
def test_the_reader_reduction_equals_the_statistic_of_each_read_step(core, statistic, resampling, view):
    """``reduce`` (the steps read together, reduced on the source's cells, warped once where the
    warp only picks cells) gives the values of ``read`` of each step added to a Running on the
    view, bit for bit: on the source's own grid, warped to Web Mercator, and zoomed out."""
    layer = layer_of(core, "ta")
    (item,) = core.catalog.items_for(layer, layer.info.bounds, 10)
    grid = {"native": native(layer), "coarse": Grid.from_bbox(layer.info.bounds, 17, 9),
            "mercator": Grid.from_bbox(BBox(-15e6, -7e6, 15e6, 7e6, "EPSG:3857"), 61, 37)}[view]
    steps = slices_for(layer.info.dimensions, {"time": "2001-01/2001-04", "elevation": "850"}, 400, single=False)
    running = Running(statistic, grid)
    for step in steps:
        raster = core.reader.read(replace(item.source, slice=step), grid, (1,), resampling)
        if raster is not None:
            running.add(raster)
    expected = running.result()
    got = core.reader.reduce(item.source, grid, (1,), resampling, StepReduction(statistic, tuple(steps)))
    assert expected is not None and got is not None
    np.testing.assert_array_equal(got.valid, expected.valid)
    np.testing.assert_array_equal(np.where(got.valid, got.data, 0), np.where(expected.valid, expected.data, 0))


def test_a_raster_files_steps_are_all_its_one_read(core):
    layer = layer_of(core, "flat")
    (item,) = core.catalog.items_for(layer, layer.info.bounds, 10)
    grid = native(layer)
    got = core.reader.reduce(item.source, grid, (1,), Resampling.NEAREST, StepReduction("sum", (Slice(), Slice())))
    assert got is not None and got.valid.all()
    np.testing.assert_array_equal(got.data, np.full((1, 8, 8), 2.0, "float32"))


def test_consecutive_steps_are_grouped_into_blocks():
    steps = [{"time": t, "level": 1} for t in (0, 1, 2, 3, 5, 7)] + [{"time": 7, "level": 2}, {"time": 7, "level": 3}]
    assert step_blocks(steps, 3) == [{"time": slice(0, 3), "level": 1}, {"time": 3, "level": 1},
                                     {"time": 5, "level": 1}, {"time": 7, "level": slice(1, 4)}]
    assert step_blocks([{"time": 4}, {"time": 2}], 8) == [{"time": 4}, {"time": 2}]  # descending: one a read


def test_a_point_series_equals_xarray_at_the_nearest_cell(core, cube, monkeypatch):
    """A time range at one pixel: every step's value, read as one column (not a read per step)."""
    monkeypatch.setattr(XarrayReader, "_values", lambda *a: pytest.fail("a read per step"))
    layer = layer_of(core, "ta")
    grid = Grid.from_bbox(layer.info.bounds, 72, 36)
    ta = truth(cube)
    for (col, row), asked, axis in (((40, 10), {"time": "2001-01-01/2001-04-01", "elevation": "850"}, "time"),
                                    ((5, 30), {"time": "2001-03-02", "elevation": "500/1000"}, "level")):
        items = replace(EVERY_ITEM, dimensions=tuple(asked.items()))
        (features,) = core.engine.feature_info(PointQuery(("ta",), grid, col, row, items=items))
        (hit,) = features.hits
        lon, lat = grid.transform @ (col + 0.5, row + 0.5)
        fixed = {"level": 850.0} if axis == "time" else {"time": ta.time.values[2]}
        expected = ta.sel(fixed).sel(lat=lat, lon=lon, method="nearest")
        assert [p.value for p in hit.series] == pytest.approx(expected.values.tolist(), nan_ok=True)
        assert features.units == "K"
        assert [dict(p.step)["time" if axis == "time" else "elevation"] for p in hit.series] == (
            ["2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z", "2001-03-02T00:00:00Z", "2001-04-01T00:00:00Z"]
            if axis == "time" else ["500", "850", "1000"])


def test_a_series_longer_than_the_limit_is_refused(cube, tmp_path):
    core = build_core(load_settings(configure(tmp_path, [{"name": "ta", "source": str(cube), "variable": "ta"}],
                                              max_steps=2)))
    layer = layer_of(core, "ta")
    items = replace(EVERY_ITEM, dimensions=(("time", "2001-01/2001-03"),))
    with pytest.raises(InvalidDimensionValue, match="3 steps; at most 2"):
        core.engine.feature_info(PointQuery(("ta",), Grid.from_bbox(layer.info.bounds, 72, 36), 1, 1, items=items))


@pytest.mark.skipif(not NCEP.exists(), reason="the NCEP reanalysis sample is not present")
def test_the_real_ncep_file_mean_and_series_equal_xarray(core):
    with xr.open_dataset(NCEP) as ds:
        air = ds["air"].load()
    got = over(core, "air", {"over": {"statistic": "mean", "steps": {"time": "2014-02-24/2014-02-26"}}})
    expected = air.sel(time=slice("2014-02-24", "2014-02-26")).mean("time")
    expected = expected.sortby("lat", ascending=False)
    np.testing.assert_allclose(got, expected.values.astype("float32"), rtol=2e-6)
    layer = layer_of(core, "air")
    grid = native(layer)
    items = replace(EVERY_ITEM, dimensions=(("time", "2014-02-24/2014-02-28"),))
    (features,) = core.engine.feature_info(PointQuery(("air",), grid, 20, 7, items=items))
    lon, lat = grid.transform @ (20.5, 7.5)
    point = air.sel(time=slice("2014-02-24", "2014-02-28")).sel(lat=lat, lon=lon % 360, method="nearest")
    assert [p.value for p in features.hits[0].series] == pytest.approx(point.values.astype("float32").tolist())


def test_the_deadline_stops_a_reduction_between_blocks(core, monkeypatch):
    """Blocks of one step; a clock that passes the deadline after the second block's read: no
    further block is read."""
    reads: list[int] = []
    original = XarrayReader._values

    def values(self, *args, **kwargs):
        reads.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(XarrayReader, "_values", values)
    monkeypatch.setattr(xarray_reader, "STEP_BLOCK_BYTES", 1)
    layer = layer_of(core, "ta")
    template = ProcessingTemplate.model_validate({"name": "t", "over": {"statistic": "mean"}})
    budget = Budget(deadline=1.5, max_bytes=1 << 30, clock=lambda: float(len(reads)))
    request = ReadRequest(layer, native(layer), (1,), Resampling.NEAREST, 64, dimensions={"time": "2001"},
                          template=template, exact=True, budget=budget)
    with pytest.raises(RenderTimeout):
        core.engine.views.read_values(request)
    assert len(reads) == 2
