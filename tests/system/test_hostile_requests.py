"""Times, numbers and sizes past what the calendar or a float can hold get the protocol's
exception on every route that takes them, never a 500."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from tests.support import rasters

X0, Y0 = rasters.ORIGIN
BOX = f"{X0},{Y0 - 2000},{X0 + 2000},{Y0}"
EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


def time_requests(t: str) -> dict[str, tuple[str, dict]]:
    """One request per route taking a time, on the mosaic of dated items."""
    wms = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "newest", "STYLES": "",
           "CRS": "EPSG:32632", "BBOX": BOX, "WIDTH": "16", "HEIGHT": "16", "FORMAT": "image/png"}
    return {
        "WMS GetMap": ("/services/ordered/wms", {**wms, "TIME": t}),
        "WMS MOSAICORDER": ("/services/ordered/wms", {**wms, "MOSAICORDER": f"closest:datetime:{t}"}),
        "WCS 1.0": ("/services/ordered/wcs", {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage",
                                              "COVERAGE": "newest", "CRS": "EPSG:32632", "BBOX": BOX, "WIDTH": "8",
                                              "HEIGHT": "8", "FORMAT": "GeoTIFF", "TIME": t}),
        "WCS 2.0": ("/services/ordered/wcs", {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                              "COVERAGEID": "newest", "SUBSET": f'time("{t}")'}),
        "catalog datetime": ("/catalog/newest/items", {"datetime": t}),
        "catalog range": ("/catalog/newest/items", {"datetime": f"{t}/.."}),
        "WMTS REST {Time}": (f"/wmts/1.0.0/newest/default/{t}/newest_native/0/0/0.png", {}),
        "XYZ TIME": ("/tiles/newest/WebMercatorQuad/5/16/11.png", {"TIME": t}),
        "KML footprints": ("/kml/newest/footprints.kml", {"TIME": t}),
    }


@pytest.mark.parametrize("t", EDGE_TIMES)
@pytest.mark.parametrize("route", list(time_requests("")))
def test_times_outside_the_calendar_in_utc_are_client_errors(client, route, t):
    path, query = time_requests(t)[route]
    r = client.get(path, query_string=query)
    assert 400 <= r.status_code < 500, (route, r.status_code, r.data[:300])
    assert b"NoApplicableCode" not in r.data and b"outside the years 1 to 9999" in r.data, r.data[:300]


WCS10 = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "dem", "CRS": "EPSG:32632",
         "BBOX": BOX, "WIDTH": "8", "HEIGHT": "8", "FORMAT": "GeoTIFF"}
WCS20 = {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": "dem"}
HUGE = "9" * 400


@pytest.mark.parametrize("path, query, code", [
    ("/wcs", {**WCS10, "WIDTH": HUGE}, "InvalidParameterValue"),
    ("/wcs", {**WCS10, "BBOX": "-1e308,-1e308,1e308,1e308", "RESX": "1e300", "RESY": "1e300", "WIDTH": None,
              "HEIGHT": None}, "InvalidParameterValue"),
    ("/wcs", {**WCS10, "BANDS": "\u00b2"}, "InvalidParameterValue"),
    ("/wcs", {**WCS20, "SCALESIZE": f"E({HUGE})"}, "InvalidScaleFactor"),
    ("/wcs", {**WCS20, "SCALESIZE": "E(\u00b2)"}, "InvalidScaleFactor"),
    ("/wcs", {**WCS20, "RANGESUBSET": "\u00b2"}, "NoSuchField"),
    ("/wcs", {**WCS20, "GEOTIFF:TILEWIDTH": "\u00b9\u2076"}, "TilingInvalid"),
    ("/wcs", {**WCS20, "GEOTIFF:JPEG_QUALITY": HUGE}, "JpegQualityInvalid"),
    ("/catalog/newest/items", {"offset": "99999999999999999999"}, "InvalidParameterValue"),
    ("/wcs", {"SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": "dem",
              "FORMAT": "image/tiff", "BOUNDINGBOX": f"{BOX},urn:ogc:def:crs:EPSG::32632",
              "GRIDOFFSETS": "1e-10,-1e-10", "GRIDORIGIN": "-1e308,1e308"}, "InvalidParameterValue"),
])
def test_numbers_past_any_bound_are_client_errors(client, path, query, code):
    r = client.get(path, query_string={k: v for k, v in query.items() if v is not None})
    assert 400 <= r.status_code < 500 and code.encode() in r.data, (r.status_code, r.data[:300])


@pytest.fixture(scope="module")
def processing(processing_app):
    return processing_app.test_client()


def _with_rendering_rule(client, service: str, rule: dict):
    """A small WMS GetMap or WCS 2.0 GetCoverage of the DEM with ``rule`` as its RENDERINGRULE."""
    if service == "WMS":
        query = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "dem", "STYLES": "",
                 "CRS": "EPSG:32632", "BBOX": BOX, "WIDTH": "16", "HEIGHT": "16", "FORMAT": "image/png"}
    else:
        query = {**WCS20, "FORMAT": "image/tiff"}
    return client.get(f"/services/demo/{service.lower()}", query_string={**query, "RENDERINGRULE": json.dumps(rule)})


@pytest.mark.parametrize("expression", ["1" + "0" * 400, "b1 * 1e400", "b1 ** 1e400", "-" * 400 + "b1"])
@pytest.mark.parametrize("service", ["WMS", "WCS"])
def test_rendering_rule_numbers_past_float32_are_invalid_parameter_values(processing, service, expression):
    r = _with_rendering_rule(processing, service, {"chain": [{"function": "expression", "expression": expression}]})
    assert r.status_code == 400 and b"InvalidParameterValue" in r.data, r.data[:300]
    assert b"RENDERINGRULE" in r.data


WMTS_KVP = {"SERVICE": "WMTS", "VERSION": "1.0.0", "LAYER": "newest", "STYLE": "default",
            "TILEMATRIXSET": "newest_native", "TILEMATRIX": "1", "TILEROW": "0", "TILECOL": "0", "FORMAT": "image/png"}


@pytest.mark.parametrize("request_name", ["GetTile", "GetFeatureInfo"])
@pytest.mark.parametrize("change", [{"TIME": "2020-13-45"}, {"FILTER": "a <<< 1"}, {"MOSAICORDER": "sideways"}])
def test_wmts_kvp_item_selection_errors_are_invalid_parameter_values(client, request_name, change):
    query = {**WMTS_KVP, "REQUEST": request_name, "I": "3", "J": "3", "INFOFORMAT": "application/json", **change}
    r = client.get("/services/ordered/wmts", query_string=query)
    assert r.status_code == 400 and b'exceptionCode="InvalidParameterValue"' in r.data, r.data[:300]


@pytest.mark.parametrize("path, query", [
    ("/services/demo/wms", {"SERVICE": "\x1b", "REQUEST": "GetMap"}),
    ("/wms", {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap\x01"}),
    ("/wms", {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "x\x02", "STYLES": "",
              "SRS": "EPSG:32632", "BBOX": BOX, "WIDTH": "8", "HEIGHT": "8", "FORMAT": "image/png"}),
    ("/wcs", {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "DescribeCoverage", "COVERAGEID": "\x1bdem"}),
    ("/wmts", {"SERVICE": "WMTS", "REQUEST": "\x7f\x1b"}),
])
def test_control_characters_quoted_back_still_give_an_exception_report(client, path, query):
    r = client.get(path, query_string=query)
    assert 400 <= r.status_code < 502 and b"NoApplicableCode" not in r.data, r.data[:300]
    assert etree.fromstring(r.data).tag.endswith("ExceptionReport")  # well-formed, the character replaced


@pytest.fixture(scope="module")
def null_island(tmp_path_factory):
    """A lon/lat raster across (0, 0), where a box can be narrower than any pixel a float can
    hold and still overlap the data."""
    from affine import Affine

    from ogcserver.app import create_app
    from ogcserver.settings import settings_from_document

    root = tmp_path_factory.mktemp("null-island")
    source = rasters.write(root / "island.tif", rasters.texture((64, 64), 3, seed=5),
                           Affine(0.5, 0, -16, 0, -0.5, 16), crs="EPSG:4326")
    document = {"server": {"data_dir": str(root / "state"), "index_refresh_seconds": 0},
                "services": [{"name": "demo", "layers": [{"name": "island", "source": str(source)}]}]}
    return create_app(settings_from_document(document, "test", root)).test_client()


TINY = "-1e-320,-1e-320,1e-320,1e-320"  # pixels of about 1e-322 degrees: subnormal
SMALL = "-1e-306,-1e-306,1e-306,1e-306"  # normal pixels, but the item's edge is 1e307 of them away


@pytest.mark.parametrize("box", [TINY, SMALL])
@pytest.mark.parametrize("width", ["64", "4096"])
def test_boxes_narrower_than_a_float_can_divide_are_client_errors(null_island, box, width):
    query = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "island", "STYLES": "",
             "CRS": "CRS:84", "BBOX": box, "WIDTH": width, "HEIGHT": "32", "FORMAT": "image/png"}
    r = null_island.get("/wms", query_string=query)
    assert r.status_code == 200 or (r.status_code == 400 and b'locator="BBOX"' in r.data), (r.status_code, r.data[:300])
    low, high = box.split(",")[0], box.split(",")[2]
    wcs = {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": "island",
           "FORMAT": "image/tiff", "SUBSET": [f"Lat({low},{high})", f"Long({low},{high})"],
           "SCALESIZE": f"Lat({width}),Long(32)"}
    r = null_island.get("/wcs", query_string=wcs)
    assert r.status_code in (200, 400, 404) and b"NoApplicableCode" not in r.data, (r.status_code, r.data[:300])


@pytest.mark.parametrize("service", ["WMS", "WCS"])
def test_a_clip_to_a_polygon_without_a_ring_is_an_invalid_parameter_value(processing, service):
    r = _with_rendering_rule(processing, service,
                             {"chain": [{"function": "clip", "geometry": {"type": "Polygon", "coordinates": []}}]})
    assert r.status_code == 400 and b"InvalidParameterValue" in r.data and b"RENDERINGRULE" in r.data, r.data[:300]
