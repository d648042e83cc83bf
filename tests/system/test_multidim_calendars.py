"""Time axes in calendars other than the Gregorian one: a day only the layer's calendar has
(30 February of a 360-day year) is listed in the capabilities and descriptions and picks its step
on WMS TIME, WMTS {Time} and KVP TIME, WCS SUBSET=time(...) and WCS 1.0.0 TIME; a day the layer's
calendar lacks (31 January of a 360-day year, 29 February of a noleap one) is an
InvalidDimensionValue (WCS 1.0.0: InvalidParameterValue). KML places such steps on Google Earth's
time slider by their place in their year."""

from __future__ import annotations

import io
import re

import cftime
import numpy as np
import pytest
import rasterio
import yaml
from lxml import etree

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support import cubes
from tests.support.reference import decode
from tests.support.schemas import assert_valid, schema
from tests.system.test_wcs_documents import wcs_schema

DAYS = (0, 29, 59, 89)  # in a 360-day year from 2001-01-01: 1 Jan, 30 Jan, 30 Feb, 30 Mar
STEPS = ("2001-01-01T00:00:00Z", "2001-01-30T00:00:00Z", "2001-02-30T00:00:00Z", "2001-03-30T00:00:00Z")
MAP = ("/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS={layer}&STYLES=&CRS=CRS:84&BBOX=-180,-90,180,90"
       "&WIDTH=72&HEIGHT=36&FORMAT=image/png&ELEVATION=500&TIME={time}")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calendars")
    cubes.four_d(folder / "days360.nc", calendar="360_day", days=DAYS)
    cubes.four_d(folder / "noleap.nc", calendar="noleap", days=(0, 30, 58, 59))  # 28 Feb, 1 Mar
    return folder


@pytest.fixture(scope="module")
def client(folder):
    config = folder / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(folder / "state")}, "services": [
        {"name": "cubes", "layers": [
            {"name": "ta", "source": str(folder / "days360.nc"), "variable": "ta", "value_range": [200, 300]},
            {"name": "nl", "source": str(folder / "noleap.nc"), "variable": "ta", "value_range": [200, 300]}]}]}))
    return create_app(load_settings(config)).test_client()


def picture(client, url: str) -> np.ndarray:
    r = client.get(url)
    assert r.status_code == 200, r.data[:400]
    return decode(r.data)


def test_capabilities_list_the_steps_in_the_layers_calendar(client):
    wms = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").data.decode()
    assert re.search(r'<Dimension name="time"[^>]*>' + ",".join(STEPS) + "</Dimension>", wms)
    wmts = client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities").data.decode()
    assert "".join(f"<Value>{s}</Value>" for s in STEPS) in wmts


def test_wcs_reads_the_step_of_a_day_only_the_layers_calendar_has(client, folder):
    r = client.get('/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&FORMAT=image/tiff&COVERAGEID=ta'
                   '&SUBSET=time("2001-02-30")&SUBSET=elevation(500)')
    assert r.status_code == 200, r.data[:400]
    with rasterio.open(io.BytesIO(r.data)) as ds:
        band, name = ds.read(1), ds.descriptions[0]
    truth = cubes.decoded(folder / "days360.nc", "ta").isel(time=2, level=0)
    assert str(truth.time.values) == "2001-02-30 00:00:00" and "time=2001-02-30T00:00:00Z" in name
    np.testing.assert_array_equal(band, truth.values)


def test_wms_and_wmts_draw_the_step_of_a_day_only_the_layers_calendar_has(client):
    by_day = picture(client, MAP.format(layer="ta", time="2001-02-30"))
    assert (by_day != picture(client, MAP.format(layer="ta", time="2001-03-30"))).any()
    assert (by_day != picture(client, MAP.format(layer="ta", time="2001-01-30"))).any()
    np.testing.assert_array_equal(by_day, picture(client, MAP.format(layer="ta", time="2001-02-30T00:00:00Z")))
    rest = picture(client, "/wmts/1.0.0/ta/default/2001-02-30T00:00:00Z/WorldCRS84Quad/0/0/0.png?Elevation=500")
    kvp = picture(client, "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=ta&STYLE=default"
                          "&TILEMATRIXSET=WorldCRS84Quad&TILEMATRIX=0&TILEROW=0&TILECOL=0&FORMAT=image/png"
                          "&TIME=2001-02-30&ELEVATION=500")
    np.testing.assert_array_equal(rest, kvp)
    other = picture(client, "/wmts/1.0.0/ta/default/2001-03-30T00:00:00Z/WorldCRS84Quad/0/0/0.png?Elevation=500")
    assert (rest != other).any()


@pytest.mark.parametrize("layer, day, calendar", [
    ("ta", "2001-01-31", "360_day"), ("ta", "2001-01-31/2001-02-30", "360_day"), ("nl", "2001-02-29", "noleap")])
def test_a_day_the_layers_calendar_lacks_is_an_invalid_dimension_value(client, layer, day, calendar):
    message = f"is not a date of this layer's {calendar} calendar".encode()
    r = client.get(MAP.format(layer=layer, time=day))
    assert r.status_code == 400 and b'code="InvalidDimensionValue"' in r.data and message in r.data
    r = client.get(f"/wmts/1.0.0/{layer}/default/{day.split('/')[0]}/WorldCRS84Quad/0/0/0.png")
    assert r.status_code == 400 and message in r.data, r.data[:400]
    r = client.get(f'/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID={layer}'
                   f'&SUBSET=time("{day.split("/")[0]}")')
    assert r.status_code == 404 and b"InvalidSubsetting" in r.data and message in r.data


def test_a_noleap_axis_takes_its_days_either_side_of_the_missing_one(client):
    assert (picture(client, MAP.format(layer="nl", time="2001-02-28"))
            != picture(client, MAP.format(layer="nl", time="2001-03-01"))).any()


WCS10 = ("/wcs?SERVICE=WCS&VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE={layer}&CRS=EPSG:4326&BBOX=-180,-90,180,90"
         "&WIDTH=72&HEIGHT=36&FORMAT=GeoTIFF&ELEVATION=500&TIME={time}")


def test_wcs_1_0_0_time_reads_the_step_of_a_day_only_the_layers_calendar_has(client, folder):
    r = client.get(WCS10.format(layer="ta", time="2001-02-30"))
    assert r.status_code == 200, r.data[:400]
    with rasterio.open(io.BytesIO(r.data)) as ds:
        band = ds.read(1)
    truth = cubes.decoded(folder / "days360.nc", "ta").sel(time=cftime.Datetime360Day(2001, 2, 30), level=500)
    np.testing.assert_array_equal(band, truth.values)


def test_wcs_1_0_0_time_of_a_day_the_layers_calendar_lacks_is_refused_naming_it(client):
    r = client.get(WCS10.format(layer="nl", time="2001-02-29"))
    assert r.status_code == 400 and b'code="InvalidParameterValue"' in r.data and b'locator="TIME"' in r.data
    assert b"is not a date of this layer's noleap calendar" in r.data


def test_wcs_1_0_0_descriptions_list_the_steps_validly(client, ogc_schemas):
    """A noleap axis's days are all Gregorian days, listed as times. A 360-day axis's 30 February
    has no xsd:dateTime: its whole days are listed as dates, which gml:timePosition holds (its
    anyURI member) and TIME takes back. Both descriptions are valid."""
    gml = "{http://www.opengis.net/gml}"
    noleap = client.get("/wcs?SERVICE=WCS&VERSION=1.0.0&REQUEST=DescribeCoverage&COVERAGE=nl")
    assert noleap.status_code == 200, noleap.data[:400]
    assert_valid(wcs_schema(ogc_schemas, "1.0.0"), noleap.data)
    assert [e.text for e in etree.fromstring(noleap.data).iter(f"{gml}timePosition")] == [
        "2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z", "2001-02-28T00:00:00Z", "2001-03-01T00:00:00Z"]
    days360 = client.get("/wcs?SERVICE=WCS&VERSION=1.0.0&REQUEST=DescribeCoverage&COVERAGE=ta")
    assert_valid(wcs_schema(ogc_schemas, "1.0.0"), days360.data)
    listed = [e.text for e in etree.fromstring(days360.data).iter(f"{gml}timePosition")]
    assert listed == [s.removesuffix("T00:00:00Z") for s in STEPS] and "2001-02-30" in listed
    for day in listed:  # each listed position is a TIME the layer answers
        assert client.get(WCS10.format(layer="ta", time=day)).status_code == 200, day


def test_kml_places_a_360_day_series_on_the_slider_by_its_place_in_the_year(client, ogc_schemas):
    """xsd:dateTime has no 30 February: each step's TimeSpan is its place in the 360-day year
    on the real year (valid KML 2.2, in order, evenly spaced); each overlay keeps the step's own
    date in its name and its image is that step's map."""
    kml_ns = "http://www.opengis.net/kml/2.2"
    r = client.get("/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=ta&STYLES=&CRS=CRS:84"
                   "&BBOX=-180,-90,180,90&WIDTH=72&HEIGHT=36&ELEVATION=500&FORMAT=application/vnd.google-earth.kml%2Bxml")
    assert r.status_code == 200, r.data[:300]
    assert_valid(schema(ogc_schemas, (kml_ns, "http://schemas.opengis.net/kml/2.2.0/ogckml22.xsd")), r.data)
    overlays = etree.fromstring(r.data).findall(f".//{{{kml_ns}}}GroundOverlay")
    assert [o.findtext(f"{{{kml_ns}}}name") for o in overlays] == [f"ta {s}" for s in STEPS]
    begins = [o.findtext(f"{{{kml_ns}}}TimeSpan/{{{kml_ns}}}begin") for o in overlays]
    # days 0, 29, 59 and 89 of 360 are days 0, 29.4, 59.8 and 90.2 of 365
    assert begins == ["2001-01-01T00:00:00Z", "2001-01-30T09:40:00Z", "2001-03-01T19:40:00Z",
                      "2001-04-01T05:40:00Z"]
    href = overlays[2].findtext(f"{{{kml_ns}}}Icon/{{{kml_ns}}}href")
    assert "TIME=2001-02-30T00%3A00%3A00Z" in href
    step = href[href.index("/wms"):]
    same = MAP.format(layer="ta", time="2001-02-30") + "&TRANSPARENT=TRUE"
    np.testing.assert_array_equal(picture(client, step), picture(client, same))


def test_kml_keeps_the_days_of_a_noleap_series(client, ogc_schemas):
    kml_ns = "http://www.opengis.net/kml/2.2"
    r = client.get("/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=nl&STYLES=&CRS=CRS:84"
                   "&BBOX=-180,-90,180,90&WIDTH=72&HEIGHT=36&FORMAT=application/vnd.google-earth.kml%2Bxml")
    assert_valid(schema(ogc_schemas, (kml_ns, "http://schemas.opengis.net/kml/2.2.0/ogckml22.xsd")), r.data)
    spans = etree.fromstring(r.data).findall(f".//{{{kml_ns}}}TimeSpan")
    assert [s.findtext(f"{{{kml_ns}}}begin") for s in spans] == [
        "2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z", "2001-02-28T00:00:00Z", "2001-03-01T00:00:00Z"]
