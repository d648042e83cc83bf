"""One core error, each protocol's own answer: a request over more mosaic items than allowed is
told so with the locator of the request's own area parameter, in its own report format."""

from __future__ import annotations

import pytest
from lxml import etree

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.conftest import write_config
from tests.support import rasters

X0, Y0 = rasters.ORIGIN
BOX = (X0 - 500, Y0 - 3500, X0 + 3500, Y0 + 500)  # over both items of the "order" folder
WMS = {"SERVICE": "WMS", "REQUEST": "GetFeatureInfo", "LAYERS": "newest", "QUERY_LAYERS": "newest",
       "BBOX": ",".join(map(str, BOX)), "WIDTH": "10", "HEIGHT": "10", "FORMAT": "image/png"}


@pytest.fixture(scope="module")
def capped(data_dir, tmp_path_factory):
    """The test server with one mosaic item per request in the service "ordered"."""
    config = write_config(data_dir, tmp_path_factory.mktemp("capped") / "c.yaml")
    config.write_text(config.read_text().replace("limits:\n    max_width: 2048", "limits:\n    max_items: 1"))
    return create_app(load_settings(config)).test_client()


def _exception(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    return next(root.iter("{*}ServiceException", "{*}Exception", "ServiceException"))


CASES = {
    "WMS 1.3.0": ({**WMS, "VERSION": "1.3.0", "CRS": "EPSG:32632", "I": "5", "J": "5"},
                  "code", "InvalidParameterValue", "BBOX"),
    "WMS 1.1.1": ({**WMS, "VERSION": "1.1.1", "SRS": "EPSG:32632", "X": "5", "Y": "5"},
                  "code", "InvalidParameterValue", None),  # 1.1.1 reports carry no locator
    "WCS 1.0.0": ({"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "newest",
                   "CRS": "EPSG:32632", "BBOX": ",".join(map(str, BOX)), "WIDTH": "10", "HEIGHT": "10",
                   "FORMAT": "GeoTIFF"}, "code", "InvalidParameterValue", "BBOX"),
    "WCS 1.1.1": ({"SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": "newest",
                   "FORMAT": "image/tiff",
                   "BOUNDINGBOX": f"{BOX[0]},{BOX[1]},{BOX[2]},{BOX[3]},urn:ogc:def:crs:EPSG::32632"},
                  "exceptionCode", "InvalidParameterValue", "BoundingBox"),
    "WCS 2.0.1": ({"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": "newest"},
                  "exceptionCode", "InvalidParameterValue", "SUBSET"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_too_many_items_in_each_protocols_words(capped, case):
    query, attribute, code, locator = CASES[case]
    r = capped.get("/services/ordered/ows", query_string=query)
    assert r.status_code == 400, r.data[:300]
    node = _exception(r.data)
    assert (node.get(attribute), node.get("locator")) == (code, locator), r.data[:400]
    assert b"zoom in" in r.data and b"LAYERS" not in r.data
