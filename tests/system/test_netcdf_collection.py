"""A folder of netCDF files (one per day and per half of the globe) published as one layer: its
time axis spans the files, each step's map and coverage is the mosaic of that day's tiles, a
point's series crosses files, and WMS 1.3.0 advertises the daily steps as start/end/period."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import rasterio
import yaml
from lxml import etree

from ogcserver.app import create_app
from ogcserver.cli import main
from ogcserver.settings import load_settings, settings_from_paths
from tests.support import cubes
from tests.support.schemas import assert_valid, schema

WMS = "{http://www.opengis.net/wms}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("collection")
    truth = cubes.daily_tiles(root / "daily")
    layers = [{"name": "tas", "source": str(root / "daily"), "pattern": "*.nc", "variable": "tas",
               "value_range": [250, 310]}]
    (root / "ogcserver.yaml").write_text(yaml.safe_dump({
        "server": {"data_dir": str(root / "state")}, "services": [{"name": "cubes", "layers": layers}]}))
    return root, truth


@pytest.fixture(scope="module")
def client(folder):
    return create_app(load_settings(folder[0] / "ogcserver.yaml")).test_client()


def time_dimension(client) -> dict:
    r = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")
    layer = next(n for n in etree.fromstring(r.data).iter(f"{WMS}Layer") if n.findtext(f"{WMS}Name") == "tas")
    (node,) = [d for d in layer.findall(f"{WMS}Dimension") if d.get("name") == "time"]
    return {**node.attrib, "values": node.text, "document": r.data}


def test_the_time_axis_spans_the_files_as_a_daily_period(client, ogc_schemas):
    dim = time_dimension(client)
    assert_valid(schema(ogc_schemas, ("http://www.opengis.net/wms", "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd"),
                        ("http://www.opengis.net/sld", "http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd")),
                 dim.pop("document"))
    assert dim == {"name": "time", "units": "ISO8601", "default": "2020-03-04T00:00:00Z", "nearestValue": "0",
                   "values": "2020-03-01T00:00:00Z/2020-03-04T00:00:00Z/P1D"}


def coverage(client, subsets: str, layer: str = "tas"):
    r = client.get(f"/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&FORMAT=image/tiff&COVERAGEID={layer}{subsets}")
    assert r.status_code == 200, r.data[:400]
    with rasterio.open(io.BytesIO(r.data)) as ds:
        return ds.read(), ds.descriptions, ds.transform


@pytest.mark.parametrize("subsets, days", [
    ("", [3]),  # the latest day of the collection
    ('&SUBSET=time("2020-03-02")', [1]),
    ('&SUBSET=time("2020-03-01","2020-03-03")', [0, 1, 2]),  # a trim across files: a band per day
])
def test_each_step_is_the_mosaic_of_its_days_tiles_bit_for_bit(client, folder, subsets, days):
    truth = folder[1]
    data, names, transform = coverage(client, subsets)
    assert transform == rasterio.Affine(10, 0, -180, 0, -10, 90)
    assert len(data) == len(days)
    for band, day, name in zip(data, days, names):
        np.testing.assert_array_equal(band, truth.isel(time=day).values)  # both halves, the NaN hole kept
        assert name.endswith(f"time={cubes.COLLECTION_DAYS[day]}T00:00:00Z")


def test_a_points_series_crosses_the_files(client, folder):
    truth = folder[1]
    r = client.get("/wms", query_string={
        "SERVICE": "WMS", "REQUEST": "GetFeatureInfo", "VERSION": "1.3.0", "LAYERS": "tas", "QUERY_LAYERS": "tas",
        "STYLES": "", "CRS": "EPSG:4326", "BBOX": "-90,-180,90,180", "WIDTH": 36, "HEIGHT": 18, "I": 30, "J": 4,
        "INFO_FORMAT": "application/json", "TIME": "2020-03-01/2020-03-04"})
    assert r.status_code == 200, r.data[:300]
    (hit,) = json.loads(r.data)["layers"][0]["features"]
    assert [p["time"][:10] for p in hit["series"]] == list(cubes.COLLECTION_DAYS)
    assert [p["value"] for p in hit["series"]] == pytest.approx(truth.isel(lat=4, lon=30).values.tolist())


def test_a_mean_over_the_files_selects_the_items_once_and_equals_xarray(client, folder, monkeypatch):
    """A mean over the four days (eight files): the catalog is asked for the items once, not once
    a day, and each day's mosaic of its two halves is reduced as xarray reduces the cube."""
    from ogcserver.app import core_of
    from ogcserver.core.functions.templates import ProcessingTemplate
    from ogcserver.core.read import ReadRequest
    from ogcserver.model.access import ANONYMOUS, Action
    from ogcserver.model.formats import Resampling
    from ogcserver.model.image import Grid

    core = core_of(client.application)
    layer = core.engine.resolve("tas", "", None, ANONYMOUS, Action.DOWNLOAD, "coverage")[0]
    asked: list[int] = []
    items_for = core.catalog.items_for
    monkeypatch.setattr(core.catalog, "items_for", lambda *a, **k: asked.append(1) or items_for(*a, **k))
    template = ProcessingTemplate.model_validate({"name": "t", "over": {"statistic": "mean"}})
    request = ReadRequest(layer, Grid.from_bbox(layer.info.bounds, 36, 18), (1,), Resampling.NEAREST, 64,
                          dimensions={"time": "2020-03-01/2020-03-04"}, template=template, exact=True)
    raster = core.engine.views.read_values(request)
    assert raster is not None and len(asked) == 1
    expected = folder[1].mean("time").values
    np.testing.assert_allclose(np.where(raster.valid, raster.data[0], np.nan), expected, rtol=1e-6)


@pytest.mark.parametrize("time", ["2020-02-28", "2020-03-02T12:00:00Z"])
def test_a_time_outside_or_between_the_files_steps_is_invalid(client, time):
    r = client.get("/wms", query_string={
        "SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "LAYERS": "tas", "STYLES": "", "CRS": "EPSG:4326",
        "BBOX": "-90,-180,90,180", "WIDTH": 36, "HEIGHT": 18, "FORMAT": "image/png", "TIME": time})
    assert r.status_code == 400
    exception = etree.fromstring(r.data).find("{http://www.opengis.net/ogc}ServiceException")
    assert (exception.get("code"), exception.get("locator")) == ("InvalidDimensionValue", "TIME"), r.data


def test_zero_configuration_publishes_a_folder_of_alike_files_as_one_layer_per_variable(folder, tmp_path):
    settings = settings_from_paths([folder[0] / "daily"], {"data_dir": str(tmp_path / "state")})
    (layer,) = settings.services[0].layers
    assert (layer.name, layer.variable, layer.pattern) == ("daily_tas", "tas", "*.nc")
    client = create_app(settings).test_client()
    data, _names, _transform = coverage(client, '&SUBSET=time("2020-03-02")', "daily_tas")
    np.testing.assert_array_equal(data[0], folder[1].isel(time=1).values)


def test_files_of_different_variables_stay_a_layer_per_file(tmp_path):
    cubes.four_d(tmp_path / "cube.nc")
    cubes.daily_tiles(tmp_path / "daily")
    (tmp_path / "daily" / "tas_2020-03-01_west.nc").rename(tmp_path / "tiles.nc")
    settings = settings_from_paths([tmp_path], {"data_dir": str(tmp_path / "state")})
    names = [layer.name for layer in settings.services[0].layers]
    assert "cube_ta" in names and "tiles_tas" in names and len(names) == 9  # the seven daily files, one each


def test_only_the_files_holding_the_step_count_against_max_items(folder, tmp_path):
    """Eight files, two per day: with max_items 2 a day's coverage reads its two tiles, and a
    trim over two days reads each day's two."""
    layers = [{"name": "tas", "source": str(folder[0] / "daily"), "pattern": "*.nc", "variable": "tas"}]
    config = tmp_path / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")},
                                      "limits": {"max_items": 2},
                                      "services": [{"name": "s", "layers": layers}]}))
    client = create_app(load_settings(config)).test_client()
    data, _names, _transform = coverage(client, '&SUBSET=time("2020-03-03")')
    np.testing.assert_array_equal(data[0], folder[1].isel(time=2).values)
    data, _names, _transform = coverage(client, '&SUBSET=time("2020-03-02","2020-03-03")')  # a read per day
    np.testing.assert_array_equal(data, folder[1].isel(time=[1, 2]).values)


def test_a_catalog_collection_of_netcdf_files_is_one_layer(folder, tmp_path):
    """``ogcserver catalog add --variable``: the files as items of a collection, one layer."""
    config = tmp_path / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")}, "services": [
        {"name": "s", "layers": [{"name": "tas", "collection": "runs"}]}]}))
    assert main(["catalog", "add", "runs", str(folder[0] / "daily"), "--pattern", "*.nc", "--variable", "tas",
                 "-c", str(config)]) == 0
    client = create_app(load_settings(config)).test_client()
    assert time_dimension(client)["values"] == "2020-03-01T00:00:00Z/2020-03-04T00:00:00Z/P1D"
    data, _names, _transform = coverage(client, '&SUBSET=time("2020-03-01")')
    np.testing.assert_array_equal(data[0], folder[1].isel(time=0).values)
