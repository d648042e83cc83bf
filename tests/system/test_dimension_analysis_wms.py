"""Analysis over dimensions through WMS: AGGREGATE with a TIME or ELEVATION range draws the
statistic in the layer's style, a processing template over the dimensions is a style, a
GetFeatureInfo over a range answers the pixel's series (JSON and CSV, with units and steps), and
bad requests get the standard exceptions."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from lxml import etree
from rasterio.transform import from_origin

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support import cubes
from tests.support.reference import decode, default_stretch, opacity

RANGE = (200.0, 300.0)
OGC = "{http://www.opengis.net/ogc}"


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("analysis")
    cube = cubes.four_d(folder / "cube.nc")
    flat = folder / "flat.tif"
    with rasterio.open(flat, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(0, 8, 1, 1)) as ds:
        ds.write(np.ones((1, 8, 8), "float32"))
    processing = [{"name": "warming", "title": "Change since the first month",
                   "over": {"operation": "anomaly", "reference": {"time": "2001-01-01"}},
                   "chain": [{"function": "expression", "expression": "b1 + 100"}]},
                  {"name": "spring_max", "over": {"statistic": "max", "steps": {"time": "2001-01-31/2001-04-01"}}}]
    layers = [{"name": "ta", "source": str(cube), "variable": "ta", "value_range": list(RANGE),
               "styles": ["warming", "spring_max"]},
              {"name": "flat", "source": str(flat)}]
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump({"server": {"data_dir": str(folder / "state")}, "limits": {"max_steps": 3},
                                    "processing": processing, "services": [{"name": "s", "layers": layers}]}))
    return path


@pytest.fixture(scope="module")
def client(config):
    return create_app(load_settings(config)).test_client()


def getmap(client, layer: str = "ta", **extra):
    query = {"SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "LAYERS": layer, "STYLES": "",
             "CRS": "EPSG:4326", "BBOX": "-90,-180,90,180", "WIDTH": 72, "HEIGHT": 36, "FORMAT": "image/png",
             "TRANSPARENT": "TRUE", **extra}
    return client.get("/wms", query_string=query)


def feature_info(client, info_format: str, **extra):
    return client.get("/wms", query_string={
        "SERVICE": "WMS", "REQUEST": "GetFeatureInfo", "VERSION": "1.3.0", "LAYERS": "ta", "QUERY_LAYERS": "ta",
        "STYLES": "", "CRS": "EPSG:4326", "BBOX": "-90,-180,90,180", "WIDTH": 72, "HEIGHT": 36, "I": 40, "J": 10,
        "INFO_FORMAT": info_format, **extra})


def exception(body: bytes) -> tuple[str, str]:
    node = etree.fromstring(body).find(f"{OGC}ServiceException")
    return node.get("code"), node.get("locator")


@pytest.mark.parametrize("statistic", ["mean", "max"])
def test_aggregate_draws_the_statistic_in_the_layers_style(client, config, statistic):
    r = getmap(client, TIME="2001-01-31/2001-04-01", ELEVATION="850", AGGREGATE=statistic)
    assert r.status_code == 200, r.data[:300]
    values = getattr(cubes.decoded(config.parent / "cube.nc", "ta").sel(level=850.0).isel(time=slice(1, 4)),
                     statistic)("time").values
    expected = np.where(np.isfinite(values), default_stretch(np.nan_to_num(values), *RANGE), 0)
    picture = decode(r.data)
    grey = np.where(opacity(picture) > 0, picture[..., 0], 0)
    assert np.abs(grey.astype(int) - expected).max() <= 1  # float32 vs float64 mean rounding
    assert (opacity(picture) == 0).sum() == 2


def test_a_template_over_the_dimensions_is_a_style(client, config):
    """The anomaly of the latest step against the first, plus 100, drawn as a chain's float output
    is: stretched over the view's 2nd to 98th percentile."""
    r = getmap(client, STYLES="warming")
    assert r.status_code == 200, r.data[:300]
    ta = cubes.decoded(config.parent / "cube.nc", "ta").sel(level=1000.0)
    values = (ta.isel(time=3).values.astype("float32") - ta.isel(time=0).values.astype("float32")) + np.float32(100)
    valid = np.isfinite(values)
    low, high = np.percentile(values[valid], [2, 98])
    expected = np.where(valid, default_stretch(np.nan_to_num(values), low, high), 0)
    picture = decode(r.data)
    assert (opacity(picture) > 0).tolist() == valid.tolist()
    assert np.abs(np.where(valid, picture[..., 0], 0).astype(int) - expected).max() <= 1


def test_a_template_without_a_chain_draws_its_aggregate_as_the_layer(client, config):
    r = getmap(client, STYLES="spring_max", ELEVATION="500")
    assert r.status_code == 200, r.data[:300]
    values = cubes.decoded(config.parent / "cube.nc", "ta").sel(level=500.0).isel(time=slice(1, 4)).max("time").values
    expected = np.where(np.isfinite(values), default_stretch(np.nan_to_num(values), *RANGE), 0)
    picture = decode(r.data)
    np.testing.assert_array_equal(np.where(opacity(picture) > 0, picture[..., 0], 0), expected)
    legend = client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetLegendGraphic", "VERSION": "1.3.0",
                                              "LAYER": "ta", "STYLE": "spring_max", "FORMAT": "image/png"})
    assert legend.status_code == 200 and legend.content_type == "image/png"


@pytest.mark.parametrize("extra, code, locator", [
    ({"AGGREGATE": "median", "TIME": "2001"}, "InvalidParameterValue", "AGGREGATE"),
    ({"AGGREGATE": "mean", "TIME": "2001"}, "InvalidDimensionValue", "TIME"),  # 4 steps; at most 3
    ({"AGGREGATE": "mean", "TIME": "1990/1991"}, "InvalidDimensionValue", "TIME"),
])
def test_bad_aggregates_get_the_standard_exceptions(client, extra, code, locator):
    r = getmap(client, **extra)
    assert r.status_code == 400 and exception(r.data) == (code, locator), r.data


def test_an_aggregate_on_a_layer_without_the_dimension_is_refused(client):
    r = getmap(client, "flat", BBOX="0,0,8,8", AGGREGATE="mean", TIME="2001")
    assert r.status_code == 400 and exception(r.data) == ("InvalidDimensionValue", "TIME"), r.data


def test_feature_info_over_a_time_range_is_the_series(client, config):
    ta = cubes.decoded(config.parent / "cube.nc", "ta").sel(level=500.0)
    expected = ta.sel(lat=37.5, lon=22.5, method="nearest").values[:3]  # the centre of I=40, J=10
    r = feature_info(client, "application/json", TIME="2001-01/2001-03", ELEVATION="500")
    assert r.status_code == 200, r.data[:300]
    (hit,) = json.loads(r.data)["layers"][0]["features"]
    assert hit["units"] == "K"
    assert [p["time"] for p in hit["series"]] == ["2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z",
                                                  "2001-03-02T00:00:00Z"]
    assert {p["elevation"] for p in hit["series"]} == {"500"}
    assert [p["value"] for p in hit["series"]] == pytest.approx(expected.tolist())
    r = feature_info(client, "text/csv", TIME="2001-01/2001-03", ELEVATION="500")
    assert r.status_code == 200 and r.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert [(row["time"], float(row["value"]), row["units"]) for row in rows] == [
        (p["time"], pytest.approx(v), "K") for p, v in zip(hit["series"], expected)]


def test_feature_info_over_an_elevation_range_is_the_profile(client, config):
    ta = cubes.decoded(config.parent / "cube.nc", "ta").isel(time=3)
    expected = ta.sel(lat=37.5, lon=22.5, method="nearest").values  # levels 500, 850, 1000
    r = feature_info(client, "text/csv", ELEVATION="500/1000")
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert [row["elevation"] for row in rows] == ["500", "850", "1000"]
    assert [float(row["value"]) for row in rows] == pytest.approx(expected.tolist())


def test_a_series_longer_than_the_limit_is_an_invalid_dimension_value(client):
    r = feature_info(client, "application/json", TIME="2001")
    assert r.status_code == 400 and exception(r.data) == ("InvalidDimensionValue", "TIME"), r.data


def test_csv_is_offered_and_answers_single_values_too(client):
    caps = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").data
    assert b"<Format>text/csv</Format>" in caps
    rows = list(csv.DictReader(io.StringIO(feature_info(client, "text/csv", TIME="2001-01-01").data.decode())))
    assert [(row["layer"], row["band"], row["units"]) for row in rows] == [("ta", "ta", "K")]
