"""Tile matrix sets in the axis order of their CRS: WMTS 1.0.0 writes TopLeftCorner in the CRS's
own order (lat lon for EPSG:4326, northing easting for EPSG:3035 and EPSG:31467, easting
northing for EPSG:21781 although its axes are abbreviated Y, X; lon lat for CRS84). GDAL's WMTS
driver reads every advertised set of layers in each kind of CRS, pixel for pixel."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pyproj
import pytest
import rasterio
import requests

from ogcserver.app import core_of, create_app
from ogcserver.core import tiling
from ogcserver.settings import load_settings
from tests.conftest import running_server
from tests.support.axes import HAVE_GDAL_BIN, LAYERS, SHAPE, system_gdal, write_axis_config
from tests.support.reference import assert_equal_but_at_edges, exact_nearest

NS = {"m": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}


@pytest.fixture(scope="module")
def axis_config(tmp_path_factory) -> Path:
    return write_axis_config(tmp_path_factory.mktemp("axes"))


@pytest.fixture(scope="module")
def axis_client(axis_config):
    return create_app(load_settings(axis_config)).test_client()


def corners(capabilities: bytes) -> dict[str, tuple[str, tuple[float, float]]]:
    """Per tile matrix set: its CRS and the TopLeftCorner of its first matrix, as written."""
    out = {}
    for tms in ET.fromstring(capabilities).iterfind(".//m:Contents/m:TileMatrixSet", NS):
        corner = tms.find("m:TileMatrix/m:TopLeftCorner", NS).text.split()
        out[tms.find("ows:Identifier", NS).text] = (tms.find("ows:SupportedCRS", NS).text,
                                                    (float(corner[0]), float(corner[1])))
    return out


def test_top_left_corners_are_in_the_crs_axis_order(axis_client):
    found = corners(axis_client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities").data)
    assert found["WorldCRS84Quad"] == ("urn:ogc:def:crs:OGC:1.3:CRS84", (-180.0, 90.0))
    assert found["WebMercatorQuad"][1] == pytest.approx((-20037508.3428, 20037508.3428))
    for code, (x0, y0, _) in LAYERS.items():
        crs, corner = found[f"epsg{code}_native"]
        assert crs == f"urn:ogc:def:crs:EPSG::{code}"
        first = pyproj.CRS.from_epsg(code).axis_info[0].direction
        assert corner == pytest.approx((y0, x0) if first == "north" else (x0, y0)), code


def test_layer_bounding_boxes_are_in_the_crs_axis_order(axis_client):
    """Each layer's extent in the CRS of its own set, as GDAL's WMTS driver reads it for that set."""
    doc = ET.fromstring(axis_client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities").data)
    for layer in doc.iterfind(".//m:Contents/m:Layer", NS):
        code = int(layer.find("ows:Identifier", NS).text.removeprefix("epsg"))
        x0, y0, res = LAYERS[code]
        x1, y1 = x0 + SHAPE[1] * res, y0 - SHAPE[0] * res
        box = next(b for b in layer.iterfind("ows:BoundingBox", NS) if b.get("crs") == f"urn:ogc:def:crs:EPSG::{code}")
        lower = [float(v) for v in box.find("ows:LowerCorner", NS).text.split()]
        upper = [float(v) for v in box.find("ows:UpperCorner", NS).text.split()]
        north_first = pyproj.CRS.from_epsg(code).axis_info[0].direction == "north"
        assert lower + upper == pytest.approx([y1, x0, y0, x1] if north_first else [x0, y1, x1, y0]), code


def test_tile_arithmetic_agrees_with_the_corner(axis_client):
    """A tile's box, the tiles over a box and the finest zoom agree whatever the axis order."""
    catalog = core_of(axis_client.application).engine.catalog
    for code in LAYERS:
        info = catalog.layer(f"epsg{code}").info
        tms = tiling.for_layer(info, f"epsg{code}_native")
        z = tiling.native_zoom(info, tms)
        assert z == tms.maxzoom
        first = tms.tile_bbox(z, 0, 0)
        assert (first.minx, first.maxy) == pytest.approx((info.bounds.minx, info.bounds.maxy))
        assert tms.tiles_over(info.bounds, z)[:2] == (0, 0)


def test_kvp_and_rest_tiles_and_feature_info_agree(axis_client, axis_config):
    for code in (4326, 3035, 31467):
        layer, tms_id = f"epsg{code}", f"epsg{code}_native"
        kvp = axis_client.get(f"/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}&STYLE=default"
                              f"&TILEMATRIXSET={tms_id}&TILEMATRIX=1&TILEROW=0&TILECOL=0&FORMAT=image/png")
        rest = axis_client.get(f"/wmts/1.0.0/{layer}/default/{tms_id}/1/0/0.png")
        assert kvp.status_code == rest.status_code == 200 and kvp.data == rest.data
        info = axis_client.get(f"/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER={layer}"
                               f"&STYLE=default&TILEMATRIXSET={tms_id}&TILEMATRIX=1&TILEROW=0&TILECOL=0&I=37&J=91"
                               "&INFOFORMAT=application/json&FORMAT=image/png").get_json()
        x0, y0, res = LAYERS[code]
        cell = 400 * res / 512  # zoom 1 of the native set: its square of 400 source pixels in 2 x 2 tiles
        with rasterio.open(axis_config.parent / f"epsg{code}.tif") as src:
            row, col = src.index(x0 + 37.5 * cell, y0 - 91.5 * cell)
            expected = [int(v) for v in src.read(window=((row, row + 1), (col, col + 1)))[:, 0, 0]]
        assert list(info["layers"][0]["features"][0]["values"].values()) == expected


@pytest.mark.skipif(not HAVE_GDAL_BIN, reason="Debian's gdal-bin is not installed")
def test_gdal_wmts_driver_reads_every_set(axis_config, tmp_path):
    """For each layer and each advertised set, at the zoom TileJSON names as the layer's finest:
    GDAL opens the set and a window across tile edges equals the exact warp of the source."""
    with running_server(axis_config, workers=1) as url:
        for code in (4326, 3035, 31467, 21781, 32632):
            layer = f"epsg{code}"
            for tms_id in (*tiling.WELL_KNOWN, f"{layer}_native"):
                zoom = requests.get(f"{url}/tiles/{layer}/{tms_id}/tilejson.json", timeout=10).json()["maxzoom"]
                source = (f"WMTS:{url}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities,layer={layer},"
                          f"tilematrixset={tms_id},zoom_level={zoom}")
                out = tmp_path / f"{layer}-{tms_id}.tif"
                info = json.loads(system_gdal("gdalinfo", "-json", source))
                size = info["size"]
                if tms_id.endswith("_native"):  # the set starts at the layer's top left corner
                    x0, y0, _ = LAYERS[code]
                    assert info["geoTransform"][0] == pytest.approx(x0) and info["geoTransform"][3] == pytest.approx(y0)
                system_gdal("gdal_translate", "-q", "-srcwin", str(size[0] // 2 - 150), str(size[1] // 2 - 100), "300", "200",
                     source, str(out))
                with rasterio.open(out) as got:
                    pixels, bounds, crs = got.read((1, 2, 3)), got.bounds, got.crs.to_wkt()
                    assert got.count == 4 and got.read(4).all(), (layer, tms_id)  # all data: alpha 255
                ref, valid, edge = exact_nearest(axis_config.parent / f"{layer}.tif", tuple(bounds), crs, (300, 200),
                                                 with_edges=True)
                assert valid.all(), (layer, tms_id)
                assert_equal_but_at_edges(pixels, ref, edge[None], 0.01)
