"""Fuzzing the endpoints (hypothesis, through the Flask test client): valid requests of every
main operation with a few parameters replaced by hostile values never answer a 500, never
show a traceback, and never leave an exception uncaught."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import hostile_requests as hostile
from tests.support import rasters

X0, Y0 = rasters.ORIGIN
BOX = f"{X0},{Y0 - 2000},{X0 + 2000},{Y0}"
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
WMS = {"SERVICE": "WMS", "VERSION": "1.3.0", "CRS": "EPSG:32632", "BBOX": BOX, "WIDTH": "16", "HEIGHT": "16",
       "FORMAT": "image/png", "STYLES": ""}
WMTS = {"SERVICE": "WMTS", "VERSION": "1.0.0", "LAYER": "newest", "STYLE": "default",
        "TILEMATRIXSET": "newest_native", "TILEMATRIX": "1", "TILEROW": "0", "TILECOL": "0", "FORMAT": "image/png"}
MOSAIC = {"TIME": "2020", "FILTER": "datetime > TIMESTAMP('2019-01-01T00:00:00Z')", "MOSAICORDER": "newest",
          "MOSAICOPERATOR": "first"}
# operation -> (path, a valid query)
REQUESTS = {
    "WMS GetMap": ("/services/ordered/wms", {**WMS, **MOSAIC, "REQUEST": "GetMap", "LAYERS": "newest",
                                             "TRANSPARENT": "TRUE", "BGCOLOR": "0xFFFFFF", "RESAMPLING": "nearest",
                                             "EXCEPTIONS": "XML"}),
    "WMS GetMap processed": ("/services/demo/wms", {**WMS, "REQUEST": "GetMap", "LAYERS": "dem",
                                                    "RENDERINGRULE": '{"chain": [{"function": "hillshade"}]}'}),
    "WMS GetFeatureInfo": ("/services/ordered/wms", {**WMS, **MOSAIC, "REQUEST": "GetFeatureInfo", "LAYERS": "newest",
                                                     "QUERY_LAYERS": "newest", "I": "5", "J": "5",
                                                     "INFO_FORMAT": "application/json", "FEATURE_COUNT": "3"}),
    "WMS GetLegendGraphic": ("/wms", {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic",
                                      "LAYER": "dem", "STYLE": "shade", "FORMAT": "image/png", "WIDTH": "20",
                                      "HEIGHT": "40"}),
    "WMTS GetTile": ("/wmts", {**WMTS, **MOSAIC, "REQUEST": "GetTile"}),
    "WMTS GetFeatureInfo": ("/wmts", {**WMTS, **MOSAIC, "REQUEST": "GetFeatureInfo", "I": "3", "J": "3",
                                      "INFOFORMAT": "application/json"}),
    "WCS 1.0 GetCoverage": ("/services/demo/wcs", {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage",
                                                   "COVERAGE": "dem", "CRS": "EPSG:32632", "BBOX": BOX, "WIDTH": "8",
                                                   "HEIGHT": "8", "FORMAT": "GeoTIFF", "BANDS": "1",
                                                   "INTERPOLATION": "nearest neighbor", "RESPONSE_CRS": "EPSG:4326"}),
    "WCS 1.1 GetCoverage": ("/services/demo/wcs", {"SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage",
                                                   "IDENTIFIER": "dem", "FORMAT": "image/tiff",
                                                   "BOUNDINGBOX": f"{BOX},urn:ogc:def:crs:EPSG::32632",
                                                   "GRIDBASECRS": "urn:ogc:def:crs:EPSG::32632",
                                                   "GRIDOFFSETS": "100,-100", "RANGESUBSET": "elevation"}),
    "WCS 2.0 GetCoverage": ("/services/demo/wcs", {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                                   "COVERAGEID": "dem", "SUBSET": f"E({X0},{X0 + 500})",
                                                   "SCALEFACTOR": "2", "INTERPOLATION": "nearest",
                                                   "RANGESUBSET": "elevation", "OUTPUTCRS": "EPSG:32632",
                                                   "FORMAT": "image/tiff", "GEOTIFF:TILEWIDTH": "16"}),
    "catalog items": ("/catalog/newest/items", {"bbox": "8,46,10,48", "datetime": "2020/..", "limit": "5",
                                                "offset": "0", "sortby": "-datetime", "filter": "id <> 'x'"}),
}
PATHS = {  # a path with hostile segments: (template, number of segments)
    "XYZ tile": ("/tiles/newest/WebMercatorQuad/{}/{}/{}.png", 3),
    "MVT footprints": ("/tiles/newest/WebMercatorQuad/{}/{}/{}.mvt", 3),
    "REST tile with {Time}": ("/wmts/1.0.0/newest/default/{}/newest_native/{}/{}/{}.png", 4),
    "REST feature info": ("/wmts/1.0.0/newest/default/newest_native/{}/{}/{}/{}/{}.json", 5),
    "KML tile": ("/kml/newest/{}/{}/{}.kml", 3),
    "catalog item": ("/catalog/newest/items/{}", 1),
}


@pytest.fixture(scope="module")
def fuzz_client(processing_app):
    logger = logging.getLogger("ogcserver")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # the expected refusals, not the noise
    yield processing_app.test_client()
    logger.setLevel(level)  # later tests read these logs


def check(response) -> None:
    unsupported = response.status_code == 501 and b"NotSupported" in response.data  # e.g. REQUEST=0
    assert response.status_code < 500 or unsupported, (response.status_code, response.data[:400])
    assert b"Traceback" not in response.data and b"NoApplicableCode" not in response.data, response.data[:400]


def values_for(key: str):
    special = {"FILTER": hostile.cql2, "filter": hostile.cql2, "RENDERINGRULE": hostile.chain_rule,
               "TIME": st.one_of(hostile.times, hostile.ranges), "datetime": st.one_of(hostile.times, hostile.ranges)}
    return st.one_of(special[key], hostile.any_value) if key in special else hostile.any_value


@st.composite
def hostile_request(draw, name: str) -> tuple[str, dict]:
    path, query = REQUESTS[name]
    keys = draw(st.lists(st.sampled_from([*query, "RENDERINGRULE", "FILTER", "TIME"]), min_size=1, max_size=3,
                         unique=True))
    changed = dict(query)
    for key in keys:
        changed[key] = draw(values_for(key))
    return path, changed


@pytest.mark.parametrize("name", list(REQUESTS))
def test_operations_never_fail_on_hostile_values(fuzz_client, name):
    @FUZZ
    @given(hostile_request(name))
    def run(request):
        path, query = request
        check(fuzz_client.get(path, query_string=query))

    run()


@pytest.mark.parametrize("name", list(PATHS))
def test_paths_never_fail_on_hostile_segments(fuzz_client, name):
    template, count = PATHS[name]
    segment = st.one_of(hostile.numbers, hostile.times).map(lambda v: v.replace("/", "%2F").replace("?", "%3F")
                                                           .replace("#", "%23") or "0")

    @FUZZ
    @given(st.lists(segment, min_size=count, max_size=count))
    def run(segments):
        check(fuzz_client.get(template.format(*segments)))

    run()
