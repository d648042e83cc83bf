"""Axis order beyond EPSG:4326: WMS 1.3.0 and WCS 1.1.1 write coordinates in the order the EPSG
database gives, WCS 2.0.1 names the axes. A geographic CRS other than EPSG:4326 (EPSG:4258),
north-first projected CRSs (EPSG:3035 with axes Y, X; Gauss-Krueger EPSG:31467 with X north,
Y east) and, as a control, EPSG:21781 (Y east, X north: east first although its first axis is
called Y) all give the exact warp of the source."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from ogcserver.app import create_app
from ogcserver.model.geo import BBox, transform_bbox
from ogcserver.settings import load_settings
from tests.support.axes import LAYERS, write_axis_config
from tests.support.reference import assert_equal_but_at_edges, decode, exact_nearest, params
from tests.support.wcs import multipart, read_coverage

EDGE = 0.01  # the server warps with a transform error below 1e-3 pixel
SIZE = (240, 180)  # output width, height
SOURCE = 32632  # the layer the views are taken of (easting, northing)
CRSS = {  # code: (first axis runs north, the axis labels of WCS 2.0 in the CRS's order)
    4258: (True, ("Lat", "Long")),
    3035: (True, ("Y", "X")),
    31467: (True, ("X", "Y")),
    21781: (False, ("Y", "X")),
}


@pytest.fixture(scope="module")
def axes(tmp_path_factory):
    config = write_axis_config(tmp_path_factory.mktemp("north-first"))
    return create_app(load_settings(config)).test_client(), config.parent / f"epsg{SOURCE}.tif"


def view_in(code: int) -> BBox:
    """Columns 100..300, rows 60..240 of the source, as a box in the CRS (x/y order)."""
    x0, y0, res = LAYERS[SOURCE]
    native = BBox(x0 + 100 * res, y0 - 240 * res, x0 + 300 * res, y0 - 60 * res, f"EPSG:{SOURCE}")
    return transform_bbox(native, f"EPSG:{code}")


def in_crs_order(code: int, x: float, y: float) -> list[float]:
    return [y, x] if CRSS[code][0] else [x, y]


def reference(path, code: int, box: BBox):
    return exact_nearest(path, box.as_tuple(), f"EPSG:{code}", SIZE, with_edges=True)


def test_the_crs_table_is_the_epsg_database():
    for code, (north_first, labels) in CRSS.items():
        axes = pyproj.CRS.from_epsg(code).axis_info
        assert (axes[0].direction == "north") == north_first
        assert tuple(a.abbrev for a in axes) == labels or code == 4258  # pyproj abbreviates Lat, Lon


@pytest.mark.parametrize("code", CRSS)
def test_wms_130_getmap_and_feature_info(axes, code):
    client, path = axes
    box = view_in(code)
    bbox = in_crs_order(code, box.minx, box.miny) + in_crs_order(code, box.maxx, box.maxy)
    q = params(LAYERS=f"epsg{SOURCE}", CRS=f"EPSG:{code}", BBOX=",".join(map(repr, bbox)), WIDTH=SIZE[0],
               HEIGHT=SIZE[1])
    response = client.get("/wms", query_string=q)
    assert response.status_code == 200 and response.mimetype == "image/png", response.data[:300]
    got = np.moveaxis(decode(response.data), 2, 0)
    ref, valid, edge = reference(path, code, box)
    assert valid.all()
    assert_equal_but_at_edges(got[:3], ref, edge, EDGE)
    # GetFeatureInfo at pixels well inside source pixels answers the values of the reference there
    rows, cols = np.nonzero(edge > 0.2)
    for j, i in ((rows[0], cols[0]), (rows[len(rows) // 2], cols[len(cols) // 2]), (rows[-1], cols[-1])):
        info = client.get("/wms", query_string=dict(q, REQUEST="GetFeatureInfo", QUERY_LAYERS=f"epsg{SOURCE}",
                                                    I=int(i), J=int(j), INFO_FORMAT="application/json")).get_json()
        values = list(info["layers"][0]["features"][0]["values"].values())
        assert values == [int(v) for v in ref[:, j, i]], (code, i, j)


@pytest.mark.parametrize("code", CRSS)
def test_wcs_111_in_the_crs_axis_order(axes, code):
    client, path = axes
    box = view_in(code)
    dx, dy = box.width / SIZE[0], box.height / SIZE[1]
    lower = in_crs_order(code, box.minx + dx / 2, box.miny + dy / 2)  # 1.1 boxes bound pixel centres
    upper = in_crs_order(code, box.maxx - dx / 2, box.maxy - dy / 2)
    urn = f"urn:ogc:def:crs:EPSG::{code}"
    response = client.get("/wcs", query_string={
        "SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": f"epsg{SOURCE}",
        "FORMAT": "image/tiff", "BOUNDINGBOX": ",".join(map(repr, lower + upper)) + "," + urn, "GRIDBASECRS": urn,
        "GRIDOFFSETS": ",".join(map(repr, in_crs_order(code, dx, -dy)))})
    assert response.status_code == 200, response.data[:300]
    got = read_coverage(multipart(response.headers["Content-Type"], response.data)[1][1])
    assert got.data.shape == (3, SIZE[1], SIZE[0]) and got.crs == f"EPSG:{code}"
    assert (got.transform.c, got.transform.f) == pytest.approx((box.minx, box.maxy), abs=1e-9 * max(dx, dy) * 1e6)
    ref, valid, edge = reference(path, code, box)
    assert_equal_but_at_edges(got.data, ref, edge, EDGE)


@pytest.mark.parametrize("code", [4258, 3035, 31467])  # the data lie outside EPSG:21781's area of use
def test_wcs_201_subsets_on_the_crs_axis_labels(axes, code):
    client, path = axes
    box = view_in(code)
    first, second = CRSS[code][1]
    x_label, y_label = (second, first) if CRSS[code][0] else (first, second)
    uri = f"http://www.opengis.net/def/crs/EPSG/0/{code}"
    q = [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", f"epsg{SOURCE}"),
         ("SUBSETTINGCRS", uri), ("OUTPUTCRS", uri), ("SUBSET", f"{x_label}({box.minx!r},{box.maxx!r})"),
         ("SUBSET", f"{y_label}({box.miny!r},{box.maxy!r})"),
         ("SCALESIZE", f"{x_label}({SIZE[0]}),{y_label}({SIZE[1]})")]
    response = client.get("/wcs", query_string=q)
    assert response.status_code == 200, response.data[:300]
    got = read_coverage(response.data)
    assert got.data.shape == (3, SIZE[1], SIZE[0]) and got.crs == f"EPSG:{code}"
    ref, valid, edge = reference(path, code, box)
    assert_equal_but_at_edges(got.data, ref, edge, EDGE)
