"""A layer the caller may not discover answers exactly like one that does not exist, on every
route and operation, with valid parameters and with invalid ones: the policy is asked before
any parameter is checked against the layer (its tile matrices, bands, styles, axes, items)."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support import rasters
from tests.support.tiles import tile_at

X0, Y0 = rasters.ORIGIN
BOX = f"{X0},{Y0 - 2000},{X0 + 2000},{Y0}"
ADMIN = {"X-API-Key": "hidden-test-key"}
BAD_TIME = "2020-13-45"
BAD_FILTER = "eo:cloud_cover <<< 3"


@pytest.fixture(scope="module")
def secured(data_dir, tmp_path_factory):
    """Two mosaics of dated items: ``shown`` is open to everyone, ``hidden`` to admins only."""
    folder = tmp_path_factory.mktemp("hidden")
    order = str(data_dir / "order")
    config = {
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "processing": [{"name": "shade", "chain": [{"function": "hillshade"}]}],
        "services": [{"name": "s", "allow_download": True, "layers": [
            {"name": "shown", "source": order, "styles": ["shade"]},
            {"name": "hidden", "source": order, "styles": ["shade"]},
        ]}],
        "access": {
            "api_keys": [{"name": "admin", "key_sha256": hashlib.sha256(ADMIN["X-API-Key"].encode()).hexdigest(),
                          "groups": ["admins"]}],
            "grants": [
                {"to": "anonymous", "service": "s", "layers": ["shown"],
                 "actions": ["discover", "view", "query", "download"]},
                {"to": "group:admins", "service": "s", "actions": ["discover", "view", "query", "download"]},
            ],
        },
    }
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    return create_app(load_settings(path)).test_client()


def wms(request: str, **extra: str) -> dict:
    base = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": request, "CRS": "EPSG:32632", "BBOX": BOX,
            "WIDTH": "20", "HEIGHT": "20", "FORMAT": "image/png", "STYLES": ""}
    return {**base, **extra}


def wmts(request: str, layer: str, **extra: str) -> dict:
    base = {"SERVICE": "WMTS", "VERSION": "1.0.0", "REQUEST": request, "LAYER": layer, "STYLE": "default",
            "TILEMATRIXSET": f"{layer}_native", "TILEMATRIX": "1", "TILEROW": "0", "TILECOL": "0",
            "FORMAT": "image/png"}
    if request == "GetFeatureInfo":
        base.update(I="3", J="3", INFOFORMAT="application/json")
    return {**base, **extra}


def wcs10(request: str, layer: str, **extra: str) -> dict:
    base = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": request, "COVERAGE": layer}
    if request == "GetCoverage":
        base.update(CRS="EPSG:32632", BBOX=BOX, WIDTH="8", HEIGHT="8", FORMAT="GeoTIFF")
    return {**base, **extra}


def wcs11(request: str, layer: str, **extra: str) -> dict:
    base = {"SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": request, "IDENTIFIERS": layer, "IDENTIFIER": layer}
    if request == "GetCoverage":
        base.update(FORMAT="image/tiff", BOUNDINGBOX=f"{BOX},urn:ogc:def:crs:EPSG::32632")
        del base["IDENTIFIERS"]
    return {**base, **extra}


def wcs20(request: str, layer: str, **extra: str) -> dict:
    return {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": request, "COVERAGEID": layer, **extra}


X16, Y16 = tile_at(16)
# name -> (request for a layer: (path, query), whether the parameters are wrong for the layer
# itself, so that a caller who may see it gets a different answer than for a missing layer)
CASES = {
    "WMS GetMap": (lambda n: ("/wms", wms("GetMap", LAYERS=n)), False),
    "WMS GetMap bad style": (lambda n: ("/wms", wms("GetMap", LAYERS=n, STYLES="nostyle")), True),
    "WMS GetMap bad TIME": (lambda n: ("/wms", wms("GetMap", LAYERS=n, TIME=BAD_TIME)), False),
    "WMS GetMap bad FILTER": (lambda n: ("/wms", wms("GetMap", LAYERS=n, FILTER=BAD_FILTER)), False),
    "WMS GetMap KML": (lambda n: ("/wms", wms("GetMap", LAYERS=n, FORMAT="application/vnd.google-earth.kml+xml")),
                       False),
    "WMS GetFeatureInfo": (lambda n: ("/wms", wms("GetFeatureInfo", LAYERS=n, QUERY_LAYERS=n, I="5", J="5")), False),
    "WMS GetFeatureInfo point out of range": (
        lambda n: ("/wms", wms("GetFeatureInfo", LAYERS=n, QUERY_LAYERS=n, I="50", J="5")), False),
    "WMS GetFeatureInfo bad TIME": (
        lambda n: ("/wms", wms("GetFeatureInfo", LAYERS=n, QUERY_LAYERS=n, I="5", J="5", TIME=BAD_TIME)), False),
    "WMS GetLegendGraphic": (lambda n: ("/wms", wms("GetLegendGraphic", LAYER=n)), False),
    "WMS GetLegendGraphic bad style": (lambda n: ("/wms", wms("GetLegendGraphic", LAYER=n, STYLE="nostyle")), True),
    "WMS DescribeLayer": (lambda n: ("/wms", wms("DescribeLayer", LAYERS=n)), False),
    "WMTS GetTile": (lambda n: ("/wmts", wmts("GetTile", n)), False),
    "WMTS GetTile tile out of range": (lambda n: ("/wmts", wmts("GetTile", n, TILEROW="999")), True),
    "WMTS GetTile zoom out of range": (lambda n: ("/wmts", wmts("GetTile", n, TILEMATRIX="60")), True),
    "WMTS GetTile bad style": (lambda n: ("/wmts", wmts("GetTile", n, STYLE="nostyle")), True),
    "WMTS GetTile bad matrix set": (lambda n: ("/wmts", wmts("GetTile", n, TILEMATRIXSET="nosuchset")), True),
    "WMTS GetTile bad TIME": (lambda n: ("/wmts", wmts("GetTile", n, TIME=BAD_TIME)), False),
    "WMTS GetTile bad FILTER": (lambda n: ("/wmts", wmts("GetTile", n, FILTER=BAD_FILTER)), False),
    "WMTS GetFeatureInfo": (lambda n: ("/wmts", wmts("GetFeatureInfo", n)), False),
    "WMTS GetFeatureInfo tile out of range": (lambda n: ("/wmts", wmts("GetFeatureInfo", n, TILECOL="999")), True),
    "WMTS GetFeatureInfo zoom out of range": (lambda n: ("/wmts", wmts("GetFeatureInfo", n, TILEMATRIX="60")), True),
    "WMTS GetFeatureInfo point out of range": (lambda n: ("/wmts", wmts("GetFeatureInfo", n, I="999")), True),
    "WMTS GetFeatureInfo bad matrix set": (
        lambda n: ("/wmts", wmts("GetFeatureInfo", n, TILEMATRIXSET="nosuchset")), True),
    "WMTS GetFeatureInfo bad TIME": (lambda n: ("/wmts", wmts("GetFeatureInfo", n, TIME=BAD_TIME)), False),
    "WMTS GetFeatureInfo bad FILTER": (lambda n: ("/wmts", wmts("GetFeatureInfo", n, FILTER=BAD_FILTER)), False),
    "REST tile": (lambda n: (f"/wmts/1.0.0/{n}/default/{n}_native/1/0/0.png", {}), False),
    "REST tile out of range": (lambda n: (f"/wmts/1.0.0/{n}/default/{n}_native/1/999/0.png", {}), True),
    "REST tile bad style": (lambda n: (f"/wmts/1.0.0/{n}/nostyle/{n}_native/1/0/0.png", {}), True),
    "REST tile bad {Time}": (lambda n: (f"/wmts/1.0.0/{n}/default/{BAD_TIME}/{n}_native/1/0/0.png", {}), False),
    "REST feature info": (lambda n: (f"/wmts/1.0.0/{n}/default/{n}_native/1/0/0/3/3.json", {}), False),
    "REST feature info tile out of range": (lambda n: (f"/wmts/1.0.0/{n}/default/{n}_native/1/0/999/3/3.json", {}),
                                            True),
    "REST feature info zoom out of range": (lambda n: (f"/wmts/1.0.0/{n}/default/{n}_native/60/0/0/3/3.json", {}),
                                            True),
    "REST feature info point out of range": (lambda n: (f"/wmts/1.0.0/{n}/default/{n}_native/1/0/0/3/999.json", {}),
                                             True),
    "REST feature info bad FILTER": (lambda n: (f"/wmts/1.0.0/{n}/default/{n}_native/1/0/0/3/3.json",
                                                {"FILTER": BAD_FILTER}), False),
    "XYZ tile": (lambda n: (f"/tiles/{n}/WebMercatorQuad/16/{X16}/{Y16}.png", {}), False),
    "XYZ tile out of range": (lambda n: (f"/tiles/{n}/WebMercatorQuad/2/99/0.png", {}), True),
    "XYZ tile zoom out of range": (lambda n: (f"/tiles/{n}/WebMercatorQuad/40/0/0.png", {}), True),
    "XYZ tile bad matrix set": (lambda n: (f"/tiles/{n}/NoSuchSet/1/0/0.png", {}), True),
    "XYZ tile bad TIME": (lambda n: (f"/tiles/{n}/WebMercatorQuad/16/{X16}/{Y16}.png", {"TIME": BAD_TIME}), False),
    "XYZ tile bad FILTER": (lambda n: (f"/tiles/{n}/WebMercatorQuad/16/{X16}/{Y16}.png", {"FILTER": BAD_FILTER}),
                            False),
    "TileJSON": (lambda n: (f"/tiles/{n}/WebMercatorQuad/tilejson.json", {}), False),
    "TileJSON bad matrix set": (lambda n: (f"/tiles/{n}/NoSuchSet/tilejson.json", {}), True),
    "MVT footprints": (lambda n: (f"/tiles/{n}/WebMercatorQuad/16/{X16}/{Y16}.mvt", {}), False),
    "MVT footprints out of range": (lambda n: (f"/tiles/{n}/WebMercatorQuad/2/99/0.mvt", {}), True),
    "MVT footprints bad FILTER": (lambda n: (f"/tiles/{n}/WebMercatorQuad/16/{X16}/{Y16}.mvt",
                                             {"FILTER": BAD_FILTER}), False),
    "WCS 1.0 DescribeCoverage": (lambda n: ("/wcs", wcs10("DescribeCoverage", n)), False),
    "WCS 1.0 GetCoverage": (lambda n: ("/wcs", wcs10("GetCoverage", n)), False),
    "WCS 1.0 GetCoverage bad band": (lambda n: ("/wcs", wcs10("GetCoverage", n, BANDS="9")), True),
    "WCS 1.0 GetCoverage bad TIME": (lambda n: ("/wcs", wcs10("GetCoverage", n, TIME=BAD_TIME)), False),
    "WCS 1.0 GetCoverage bad FILTER": (lambda n: ("/wcs", wcs10("GetCoverage", n, FILTER=BAD_FILTER)), False),
    "WCS 1.1 DescribeCoverage": (lambda n: ("/wcs", wcs11("DescribeCoverage", n)), False),
    "WCS 1.1 GetCoverage": (lambda n: ("/wcs", wcs11("GetCoverage", n)), False),
    "WCS 1.1 GetCoverage bad field": (lambda n: ("/wcs", wcs11("GetCoverage", n, RANGESUBSET="nosuchfield")), True),
    "WCS 2.0 DescribeCoverage": (lambda n: ("/wcs", wcs20("DescribeCoverage", n)), False),
    "WCS 2.0 GetCoverage": (lambda n: ("/wcs", wcs20("GetCoverage", n, SUBSET=f"E({X0},{X0 + 500})")), False),
    "WCS 2.0 GetCoverage bad axis": (lambda n: ("/wcs", wcs20("GetCoverage", n, SUBSET="Q(1,2)")), True),
    "WCS 2.0 GetCoverage bad field": (lambda n: ("/wcs", wcs20("GetCoverage", n, RANGESUBSET="nosuchfield")), True),
    "WCS 2.0 GetCoverage bad TIME": (lambda n: ("/wcs", wcs20("GetCoverage", n, SUBSET=f'time("{BAD_TIME}")')), True),
    "WCS 2.0 GetCoverage bad FILTER": (lambda n: ("/wcs", wcs20("GetCoverage", n, FILTER=BAD_FILTER)), False),
    "KML super-overlay": (lambda n: (f"/kml/{n}.kml", {}), False),
    "KMZ super-overlay": (lambda n: (f"/kml/{n}.kmz", {}), False),
    "KML super-overlay bad style": (lambda n: (f"/kml/{n}.kml", {"style": "nostyle"}), True),
    "KML super-overlay bad TIME": (lambda n: (f"/kml/{n}.kml", {"TIME": BAD_TIME}), False),
    "KML tile": (lambda n: (f"/kml/{n}/0/1/0.kml", {}), False),
    "KML tile out of range": (lambda n: (f"/kml/{n}/0/7/0.kml", {}), True),
    "KML footprints": (lambda n: (f"/kml/{n}/footprints.kml", {}), False),
    "KML footprints bad TIME": (lambda n: (f"/kml/{n}/footprints.kml", {"TIME": BAD_TIME}), False),
    "KML footprints bad FILTER": (lambda n: (f"/kml/{n}/footprints.kml", {"FILTER": BAD_FILTER}), False),
    "preview page": (lambda n: (f"/preview/{n}", {}), False),
    "catalog collection": (lambda n: (f"/catalog/{n}", {}), False),
    "catalog items": (lambda n: (f"/catalog/{n}/items", {}), False),
    "catalog items bad datetime": (lambda n: (f"/catalog/{n}/items", {"datetime": BAD_TIME}), False),
    "catalog items bad filter": (lambda n: (f"/catalog/{n}/items", {"filter": BAD_FILTER}), False),
    "catalog items bad sortby": (lambda n: (f"/catalog/{n}/items", {"sortby": "-no such"}), False),
    "catalog item": (lambda n: (f"/catalog/{n}/items/old", {}), False),
    "catalog missing item": (lambda n: (f"/catalog/{n}/items/nosuchitem", {}), True),
    "catalog download": (lambda n: (f"/catalog/{n}/items/old/download", {}), False),
}


def answer(client, case: str, layer: str, headers: dict | None = None):
    path, query = CASES[case][0](layer)
    r = client.get(path, query_string=query, headers=headers or {})
    return r.status_code, r.headers.get("Content-Type"), r.data.replace(layer.encode(), b"LAYER")


@pytest.mark.parametrize("case", list(CASES))
def test_a_hidden_layer_answers_like_a_missing_one(secured, case):
    hidden = answer(secured, case, "hidden")
    missing = answer(secured, case, "nosuch")
    assert 400 <= hidden[0] < 500 or (case == "WMS DescribeLayer" and hidden[0] == 501), (case, hidden[:2])
    assert hidden == missing, (case, hidden[0], missing[0], hidden[2][:300], missing[2][:300])


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_requests_reach_the_layer_for_a_caller_who_may_see_it(secured, case):
    """The control: the hidden layer exists, and each wrong parameter is wrong for the layer."""
    seen = answer(secured, case, "hidden", ADMIN)
    missing = answer(secured, case, "nosuch", ADMIN)
    if CASES[case][1]:
        assert seen[0] >= 400 and seen != missing, (case, seen[0], seen[2][:300])
    elif any(word in case for word in ("bad", "out of range", "missing", "DescribeLayer")):
        assert seen[0] >= 400, (case, seen[0])  # wrong for any layer
    else:
        assert seen[0] == 200, (case, seen[0], seen[2][:300])
    assert answer(secured, case, "shown")[0] == seen[0], case  # the open layer answers the same to anyone
