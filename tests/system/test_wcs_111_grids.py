"""WCS 1.1.1 grids as GDAL's WCS 1.1 driver, MapServer and GeoServer read them: BoundingBox and
GridOrigin are pixel centres in the CRS's axis order, GridOffsets the pixel steps in that order
(2dSimpleGrid) or one offset vector per grid axis (2dGridIn2dCrs, as GDAL sends them: the column
axis first, ``0,dlon,dlat,0`` in EPSG:4326). The whole grid as described comes back bit for bit,
and Debian's GDAL 3.6 opens every coverage with its native size, CRS and origin."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pyproj
import pytest
import rasterio

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.conftest import running_server
from tests.support.axes import HAVE_GDAL_BIN, LAYERS, SHAPE, system_gdal, write_axis_config
from tests.support.wcs import multipart, read_coverage

NS = {"w": "http://www.opengis.net/wcs/1.1", "ows": "http://www.opengis.net/ows/1.1"}
IN_CRS = "urn:ogc:def:method:WCS:1.1:2dGridIn2dCrs"


@pytest.fixture(scope="module")
def axis_config(tmp_path_factory):
    return write_axis_config(tmp_path_factory.mktemp("wcs11-axes"))


@pytest.fixture(scope="module")
def client(axis_config):
    return create_app(load_settings(axis_config)).test_client()


def described(client, name: str) -> dict[str, str]:
    """BoundingBox (in the GridBaseCRS), GridOrigin and GridOffsets as DescribeCoverage 1.1.1 writes them."""
    doc = ET.fromstring(client.get(f"/wcs?SERVICE=WCS&VERSION=1.1.1&REQUEST=DescribeCoverage&IDENTIFIERS={name}").data)
    grid = doc.find(".//w:GridCRS", NS)
    base = grid.find("w:GridBaseCRS", NS).text
    box = next(b for b in doc.iterfind(".//ows:BoundingBox", NS) if b.get("crs") == base)
    return {"crs": base, "lower": box.find("ows:LowerCorner", NS).text, "upper": box.find("ows:UpperCorner", NS).text,
            "origin": grid.find("w:GridOrigin", NS).text, "offsets": grid.find("w:GridOffsets", NS).text}


def coverage(client, name: str, **kw: str):
    q = {"SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": name, "FORMAT": "image/tiff",
         **{k.upper(): v for k, v in kw.items()}}
    response = client.get("/wcs", query_string=q)
    assert response.status_code == 200, response.data[:400]
    (_, _xml), (_, tiff) = multipart(response.headers["Content-Type"], response.data)
    return read_coverage(tiff)


def gdal_offsets(code: int, res: float) -> str:
    """GridOffsets of the native grid as GDAL's WCS 1.1 driver sends them (wcsdataset110.cpp)."""
    north_first = pyproj.CRS.from_epsg(code).axis_info[0].direction == "north"
    return f"0,{res},{-res},0" if north_first else f"{res},0,0,{-res}"


@pytest.mark.parametrize("code", LAYERS)
def test_the_whole_grid_as_described_comes_back_bit_for_bit(client, axis_config, code):
    name = f"epsg{code}"
    d = described(client, name)
    with rasterio.open(axis_config.parent / f"{name}.tif") as src:
        source, transform = src.read(), src.transform
    box = ",".join(d["lower"].split() + d["upper"].split() + [d["crs"]])
    origin = ",".join(d["origin"].split())
    grids = [
        {},  # the box alone: the coverage's own grid points inside it
        {"GridBaseCRS": d["crs"], "GridOrigin": origin, "GridOffsets": ",".join(d["offsets"].split())},
        {"GridBaseCRS": d["crs"], "GridType": IN_CRS, "GridOrigin": origin,
         "GridOffsets": gdal_offsets(code, LAYERS[code][2])},
    ]
    for grid in grids:
        got = coverage(client, name, BoundingBox=box, **grid)
        assert got.data.shape == (3, *SHAPE), grid
        assert got.transform.almost_equals(transform, precision=1e-9 * abs(transform.a)), grid
        np.testing.assert_array_equal(got.data, source)


@pytest.mark.parametrize("code", [4326, 3035, 32632])
def test_a_window_on_the_native_lattice(client, axis_config, code):
    """GDAL's request for a window: a box of pixel centres, the origin at its top-left centre."""
    name, (x0, y0, res) = f"epsg{code}", LAYERS[code]
    north_first = pyproj.CRS.from_epsg(code).axis_info[0].direction == "north"
    left, top = x0 + 130.5 * res, y0 - 70.5 * res  # centre of column 130, row 70
    right, bottom = left + 149 * res, top - 99 * res
    order = (lambda x, y: f"{y},{x}") if north_first else (lambda x, y: f"{x},{y}")
    got = coverage(client, name, BoundingBox=f"{order(left, bottom)},{order(right, top)},urn:ogc:def:crs:EPSG::{code}",
                   GridBaseCRS=f"urn:ogc:def:crs:EPSG::{code}", GridType=IN_CRS, GridOrigin=order(left, top),
                   GridOffsets=gdal_offsets(code, res))
    with rasterio.open(axis_config.parent / f"{name}.tif") as src:
        np.testing.assert_array_equal(got.data, src.read(window=((70, 170), (130, 280))))


@pytest.mark.parametrize("offsets, message", [("1,1,0,-1", b"rotated or sheared"), ("1,0,1,-1", b"rotated or sheared"),
                                              ("0,0,0,-1", b"must not be zero")])
def test_rotated_grids_are_refused(client, offsets, message):
    response = client.get("/wcs", query_string={
        "SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": "epsg32632",
        "FORMAT": "image/tiff", "BOUNDINGBOX": "500025,5699000,501000,5699975,urn:ogc:def:crs:EPSG::32632",
        "GRIDTYPE": IN_CRS, "GRIDOFFSETS": offsets})
    assert response.status_code == 400 and message in response.data and b"InvalidParameterValue" in response.data


@pytest.mark.skipif(not HAVE_GDAL_BIN, reason="Debian's gdal-bin is not installed")
def test_gdal_wcs_111_driver_opens_and_reads_every_coverage(axis_config, tmp_path):
    with running_server(axis_config, workers=1) as url:
        for code, (x0, y0, res) in LAYERS.items():
            name = f"epsg{code}"
            source = f"WCS:{url}/wcs?version=1.1.1&coverage={name}"
            cache = f"CACHE={tmp_path / name}"
            info = json.loads(system_gdal("gdalinfo", "-json", "-oo", cache, source))
            assert info["size"] == [SHAPE[1], SHAPE[0]], name
            assert info["geoTransform"] == pytest.approx([x0, res, 0, y0, 0, -res], abs=res * 1e-6), name
            assert pyproj.CRS.from_wkt(info["coordinateSystem"]["wkt"]).to_epsg() == code
            out = tmp_path / f"{name}.tif"
            system_gdal("gdal_translate", "-q", "-oo", cache, "-srcwin", "130", "70", "150", "100", source, str(out))
            with rasterio.open(out) as got, rasterio.open(axis_config.parent / f"{name}.tif") as src:
                np.testing.assert_array_equal(got.read(), src.read(window=((70, 170), (130, 280))))
                assert got.transform.almost_equals(src.window_transform(((70, 170), (130, 280))), precision=res * 1e-6)
