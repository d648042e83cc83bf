"""Multidimensional layers over WMS: the dimensions in both versions' capabilities (valid against
the official schemas), TIME, ELEVATION and DIM_<NAME> picking the step a map and GetFeatureInfo
show, the standard exceptions for values naming no step, maps equal to gdalwarp of the GDAL
subdataset, and OWSLib against a live server."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import rasterio
import yaml
from lxml import etree
from owslib.wms import WebMapService

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.conftest import SHARED, serving
from tests.support import cubes
from tests.support.clients import gdal, has_gdal_tools
from tests.support.reference import decode, default_stretch, opacity
from tests.support.schemas import assert_valid, assert_valid_dtd, schema

WMS = "{http://www.opengis.net/wms}"
RANGE = (200.0, 300.0)  # the configured colour range: maps are the values stretched over it


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("multidim")
    cube = cubes.four_d(folder / "cube.nc")
    store = cubes.zarr_store(folder / "obs.zarr")
    layers = [{"name": "ta", "source": str(cube), "variable": "ta", "value_range": list(RANGE)},
              {"name": "ta_upper", "source": str(cube), "variable": "ta", "value_range": list(RANGE),
               "dimensions": {"elevation": "500", "time": "2001-01-31"}},
              {"name": "tas", "source": str(store), "value_range": [270, 290]}]
    ncep = SHARED / "data" / "netcdf-ncep-air" / "air_temperature_small.nc"
    if ncep.exists():
        layers.append({"name": "air", "source": str(ncep), "variable": "air", "value_range": list(RANGE)})
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump({"server": {"data_dir": str(folder / "state")},
                                    "services": [{"name": "cubes", "layers": layers}]}))
    return path


@pytest.fixture(scope="module")
def client(config):
    return create_app(load_settings(config)).test_client()


def getmap(client, layer: str, bbox="-90,-180,90,180", crs="EPSG:4326", size=(72, 36), **extra) -> tuple[int, bytes]:
    query = {"SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "LAYERS": layer, "STYLES": "",
             "CRS": crs, "BBOX": bbox, "WIDTH": size[0], "HEIGHT": size[1], "FORMAT": "image/png",
             "TRANSPARENT": "TRUE", **extra}
    r = client.get("/wms", query_string=query)
    return r.status_code, r.data


def dimensions(document: bytes, layer: str, version: str) -> dict[str, dict]:
    root = etree.fromstring(document)
    ns = WMS if version == "1.3.0" else ""
    for node in root.iter(f"{ns}Layer"):
        if node.findtext(f"{ns}Name") == layer:
            tag = "Dimension" if version == "1.3.0" else "Extent"
            return {d.get("name"): {**d.attrib, "values": d.text} for d in node.findall(f"{ns}{tag}")}
    raise AssertionError(f"{layer} not listed")


def test_capabilities_list_each_dimension_and_are_valid(client, ogc_schemas):
    r13 = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")
    assert_valid(schema(ogc_schemas, ("http://www.opengis.net/wms", "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd"),
                        ("http://www.opengis.net/sld", "http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd")), r13.data)
    dims = dimensions(r13.data, "ta", "1.3.0")
    assert dims["time"] == {"name": "time", "units": "ISO8601", "default": "2001-04-01T00:00:00Z", "nearestValue": "0",
                            "values": "2001-01-01T00:00:00Z,2001-01-31T00:00:00Z,2001-03-02T00:00:00Z,2001-04-01T00:00:00Z"}
    assert dims["elevation"] == {"name": "elevation", "units": "hPa", "default": "1000", "nearestValue": "0",
                                 "values": "500,850,1000"}
    configured = dimensions(r13.data, "ta_upper", "1.3.0")  # the configured defaults
    assert (configured["time"]["default"], configured["elevation"]["default"]) == ("2001-01-31T00:00:00Z", "500")
    r11 = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1")
    assert_valid_dtd(ogc_schemas / "ogc/wms/1.1.1/WMS_MS_Capabilities.dtd", r11.data)
    extents = dimensions(r11.data, "ta", "1.1.1")
    assert extents["elevation"]["values"] == "500,850,1000" and extents["time"]["default"] == "2001-04-01T00:00:00Z"
    title = next(n for n in etree.fromstring(r13.data).iter(f"{WMS}Layer") if n.findtext(f"{WMS}Name") == "tas")
    assert title.findtext(f"{WMS}Title") == "Near-surface air temperature"  # the variable's long_name


def expected_map(cube, t: int, z: int) -> np.ndarray:
    """The grey a map on the native grid shows: xarray's decoded values stretched over RANGE."""
    values = cubes.decoded(cube, "ta").isel(time=t, level=z).values
    return np.where(np.isfinite(values), default_stretch(np.nan_to_num(values), *RANGE), 0)


@pytest.mark.parametrize("asked, step", [
    ({}, (3, 2)),  # the latest time, the level nearest the surface
    ({"TIME": "2001-01-01T00:00:00Z"}, (0, 2)),
    ({"TIME": "2001-03-02", "ELEVATION": "850"}, (2, 1)),  # a day names the step on that day
    ({"TIME": "2001-01-01/2001-02-15", "ELEVATION": "500"}, (1, 0)),  # a range: its last step
    ({"TIME": "2001-01-31T00:00Z"}, (1, 2)),
])
def test_each_step_is_its_own_map(client, config, asked, step):
    status, body = getmap(client, "ta", **asked)
    assert status == 200, body[:300]
    picture = decode(body)
    grey = np.where(opacity(picture) > 0, picture[..., 0], 0)
    np.testing.assert_array_equal(grey, expected_map(config.parent / "cube.nc", *step))
    assert (opacity(picture) == 0).sum() == 2  # the fill value and the value beyond valid_range


def test_configured_defaults_pick_the_step(client, config):
    picture = decode(getmap(client, "ta_upper")[1])
    np.testing.assert_array_equal(np.where(opacity(picture) > 0, picture[..., 0], 0),
                                  expected_map(config.parent / "cube.nc", 1, 0))


def test_feature_info_answers_the_steps_decoded_value(client, config):
    truth = cubes.decoded(config.parent / "cube.nc", "ta")
    for time, level in (("2001-01-01", "1000"), ("2001-04-01T00:00:00Z", "850")):
        r = client.get("/wms", query_string={
            "SERVICE": "WMS", "REQUEST": "GetFeatureInfo", "VERSION": "1.3.0", "LAYERS": "ta", "QUERY_LAYERS": "ta",
            "STYLES": "", "CRS": "EPSG:4326", "BBOX": "-90,-180,90,180", "WIDTH": 72, "HEIGHT": 36, "I": 40, "J": 10,
            "INFO_FORMAT": "application/json", "TIME": time, "ELEVATION": level})
        value = json.loads(r.data)["layers"][0]["features"][0]["values"]["ta"]
        expected = truth.sel(time=truth.time.values[[t.isoformat().startswith(time[:10]) for t in truth.time.values]][0],
                             level=float(level)).isel(lat=10, lon=40)
        assert value == float(expected)


@pytest.mark.parametrize("asked, locator", [
    ({"TIME": "1999-01-01"}, "TIME"),  # outside the extent
    ({"TIME": "2001-02-01T00:00:00Z"}, "TIME"),  # between steps (nearestValue="0")
    ({"TIME": "2001-01-01/2000-01-01"}, "TIME"),  # a range that ends before it starts
    ({"TIME": "2001-01/2001-02/PT1H/x"}, "TIME"),  # malformed
    ({"ELEVATION": "700"}, "ELEVATION"),
    ({"ELEVATION": "high"}, "ELEVATION"),
])
def test_values_naming_no_step_are_invalid_dimension_values(client, asked, locator):
    status, body = getmap(client, "ta", **asked)
    assert status == 400
    report = etree.fromstring(body)
    exception = report.find("{http://www.opengis.net/ogc}ServiceException")
    assert exception.get("code") == "InvalidDimensionValue" and exception.get("locator") == locator, body


def test_other_dimensions_are_dim_parameters(tmp_path):
    """An axis that is neither time nor vertical is DIM_<NAME>, named case-blind."""
    import xarray as xr

    path = tmp_path / "members.nc"
    data = np.stack([np.full((4, 8), float(m)) for m in range(3)])
    xr.Dataset({"v": (("member", "lat", "lon"), data)},
               coords={"member": ("member", [1, 2, 3]), "lat": ("lat", [35.0, 25, 15, 5], {"units": "degrees_north"}),
                       "lon": ("lon", np.arange(8) * 10.0 + 5, {"units": "degrees_east"})}).to_netcdf(path)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "s")}, "services": [
        {"name": "s", "layers": [{"name": "v", "source": str(path), "value_range": [0, 2]}]}]}))
    client = create_app(load_settings(config)).test_client()
    dims = dimensions(client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").data, "v", "1.3.0")
    assert dims["member"]["values"] == "1,2,3" and dims["member"]["default"] == "1"
    for asked, grey in (({}, 0), ({"DIM_MEMBER": "2"}, 127), ({"dim_member": "3"}, 255)):
        status, body = getmap(client, "v", bbox="0,0,40,80", size=(8, 4), **asked)
        assert status == 200 and set(np.unique(decode(body)[..., 0])) == {grey}, asked
    status, body = getmap(client, "v", bbox="0,0,40,80", size=(8, 4), DIM_MEMBER="9")
    assert status == 400 and b'locator="DIM_MEMBER"' in body


@pytest.mark.skipif(not has_gdal_tools(), reason="gdalwarp (gdal-bin) is not installed")
@pytest.mark.parametrize("crs, bbox, size", [
    ("EPSG:4326", (15.0, -160.0, 75.0, -30.0), (260, 120)),
    ("EPSG:3857", (-17800000.0, 1700000.0, -3400000.0, 12900000.0), (240, 187)),
])
def test_maps_equal_gdalwarp_of_the_subdataset(client, shared_data, tmp_path, crs, bbox, size):
    """Step 7 of the NCEP file: the map equals gdalwarp (nearest, exact) of the GDAL subdataset,
    band 8, unpacked, stretched over the colour range."""
    source = shared_data / "netcdf-ncep-air" / "air_temperature_small.nc"
    status, body = getmap(client, "air", bbox=",".join(map(str, bbox)), crs=crs, size=size, TIME="2014-02-25T18:00:00Z")
    assert status == 200, body[:300]
    picture = decode(body)
    west, south, east, north = (bbox[1], bbox[0], bbox[3], bbox[2]) if crs == "EPSG:4326" else bbox
    out, step = tmp_path / "reference.tif", tmp_path / "step.tif"
    gdal("gdal_translate", "-q", "-b", "8", f'NETCDF:"{source}":air', str(step))  # GDAL 3.6's gdalwarp has no -b
    gdal("gdalwarp", "-q", "-overwrite", "-r", "near", "-et", "0", "-dstnodata", "-32767", "-s_srs", "EPSG:4326",
         "-t_srs", crs, "-te", *map(repr, (west, south, east, north)), "-ts", *map(str, size), str(step), str(out))
    with rasterio.open(out) as ref:
        raw = ref.read(1)
        values = raw * ref.scales[0] + ref.offsets[0]
        valid = raw != -32767
    expected = np.where(valid, default_stretch(values, *RANGE), 0)
    got = np.where(opacity(picture) > 0, picture[..., 0], 0)
    assert (opacity(picture) > 0).tolist() == valid.tolist()
    assert np.abs(got.astype(int) - expected).max() <= 1  # float32 vs float64 stretch rounding


def test_owslib_sees_the_dimensions_and_fetches_two_steps(config):
    with serving(["-c", str(config)], config.parent, workers=1) as (url, _log):
        wms = WebMapService(url + "/wms", version="1.3.0")
        layer = wms["ta"]
        assert layer.timepositions == ["2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z", "2001-03-02T00:00:00Z",
                                       "2001-04-01T00:00:00Z"]
        assert layer.defaulttimeposition == "2001-04-01T00:00:00Z"
        assert layer.dimensions["elevation"]["values"] == ["500", "850", "1000"]
        pictures = [decode(wms.getmap(layers=["ta"], styles=[""], srs="EPSG:4326", bbox=(-180, -90, 180, 90),
                                      size=(72, 36), format="image/png", time=t).read())
                    for t in layer.timepositions[:2]]
        assert (pictures[0] != pictures[1]).any()


def test_kml_of_a_temporal_layer_is_a_time_series_for_the_time_slider(client, ogc_schemas):
    """GetMap as KML without TIME: one GroundOverlay per step with its TimeSpan (valid KML 2.2),
    each image the map of its step; with TIME, the one overlay."""
    kml_ns = "http://www.opengis.net/kml/2.2"
    query = ("/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=ta&STYLES=&CRS=CRS:84&BBOX=-180,-90,180,90"
             "&WIDTH=72&HEIGHT=36&FORMAT=application/vnd.google-earth.kml%2Bxml")
    r = client.get(query)
    assert r.status_code == 200, r.data[:300]
    assert_valid(schema(ogc_schemas, (kml_ns, "http://schemas.opengis.net/kml/2.2.0/ogckml22.xsd")), r.data)
    overlays = etree.fromstring(r.data).findall(f".//{{{kml_ns}}}GroundOverlay")
    spans = [(o.findtext(f"{{{kml_ns}}}TimeSpan/{{{kml_ns}}}begin"), o.findtext(f"{{{kml_ns}}}TimeSpan/{{{kml_ns}}}end"))
             for o in overlays]
    assert spans == [("2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z"), ("2001-01-31T00:00:00Z", "2001-03-02T00:00:00Z"),
                     ("2001-03-02T00:00:00Z", "2001-04-01T00:00:00Z"), ("2001-04-01T00:00:00Z", None)]
    pictures = []
    for overlay in overlays[:2]:
        href = urlparse(overlay.findtext(f"{{{kml_ns}}}Icon/{{{kml_ns}}}href"))
        pictures.append(decode(client.get(f"{href.path}?{href.query}").data))
    assert (pictures[0] != pictures[1]).any()
    one = etree.fromstring(client.get(query + "&TIME=2001-01-31").data)
    assert len(one.findall(f".//{{{kml_ns}}}GroundOverlay")) == 1
