"""A geostationary full disk (+proj=geos, no EPSG code, space around the disk) served as Debian's
``gdalwarp`` maps it: its corners lie in space, so its lon/lat extent comes from the disk."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ogcserver.app import create_app
from ogcserver.settings import settings_from_paths
from tests.support.clients import Grid, needs_gdal, warp_reference
from tests.support.schemas import assert_valid, schema
from tests.system.test_gcps import WMS, capabilities_layer, getmap

WMTS = "http://www.opengis.net/wmts/1.0"
OWS = "http://www.opengis.net/ows/1.1"
# Debian's GDAL and the server's differ in version (and in their JPEG decoders):
EXTRA_PIXELS = 0.03  # share of the data area the server may fill beyond gdalwarp's (limb pixels)
JPEG_DELTA = 2  # value difference between two GDAL builds' JPEG decoding of the same tiles


@pytest.fixture(scope="module")
def app(shared_data, tmp_path_factory):
    paths = [shared_data / "goes-geostationary" / "goes.tif"]
    settings = settings_from_paths(paths, {"data_dir": str(tmp_path_factory.mktemp("state"))})
    return create_app(settings)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def assert_same_map(got: np.ndarray, want: np.ndarray) -> None:
    """Every pixel gdalwarp fills is filled, few others (dark limb pixels GDAL 3.6 leaves out), and
    the values agree within what two builds' JPEG decoders give this JPEG-compressed file."""
    valid_got, valid_want = got[-1] > 0, want[-1] > 0
    assert valid_want.mean() > 0.2, "the reference grid holds too little data to compare"
    assert not (valid_want & ~valid_got).any()
    assert (valid_got & ~valid_want).sum() < EXTRA_PIXELS * valid_want.sum()
    both = valid_got & valid_want
    delta = np.abs(got[:-1, both].astype(int) - want[:-1, both].astype(int)).max(axis=0)
    assert np.percentile(delta, 99) <= JPEG_DELTA and delta.max() <= 5 * JPEG_DELTA


@needs_gdal
def test_goes_getmap_in_lonlat_equals_gdalwarp(client, shared_data, tmp_path):
    """The full disk in EPSG:4326: space is transparent, the disk what gdalwarp -t_srs gives."""
    source = shared_data / "goes-geostationary" / "goes.tif"
    grid = Grid.of_extent("EPSG:4326", (-150.0, -70.0, 0.0, 70.0), 600, 560)
    got = getmap(client, "goes", grid)
    want = warp_reference(source, grid, tmp_path)
    assert_same_map(got, want)
    assert (got[-1] == 0).any(), "the view reaches past the disk"


def test_goes_capabilities_validate_with_a_sane_box(client, shared_data, ogc_schemas):
    r = client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"})
    assert_valid(schema(ogc_schemas, (WMS, "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd"),
                        ("http://www.opengis.net/sld", "http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd")),
                 r.data)
    layer = capabilities_layer(client, "goes")
    box = layer.find(f"{{{WMS}}}EX_GeographicBoundingBox")
    west, east, south, north = (float(box.findtext(f"{{{WMS}}}{k}")) for k in
                                ("westBoundLongitude", "eastBoundLongitude", "southBoundLatitude", "northBoundLatitude"))
    # the disk reaches the limb, arccos(R / (R + h)) = 81.3 degrees of arc from the sub-satellite point
    # (75 W): the extent is bisected out to it, not left at the last sample that transforms
    limb = math.degrees(math.acos(6378137 / (6378137 + 35786023)))
    assert (west, east) == pytest.approx((-75 - limb, -75 + limb), abs=0.3)
    assert (south, north) == pytest.approx((-limb, limb), abs=0.3)
    # a CRS without an EPSG code has no name WMS clients take: the layer offers the usual ones
    codes = [c.text for c in layer.findall(f"{{{WMS}}}CRS")]
    assert codes and all(c.startswith(("EPSG:", "CRS:")) for c in codes)
    assert "EPSG:4326" in codes and "EPSG:3857" in codes


def test_goes_wmts_capabilities_validate_and_offer_sets_named_by_uri(client, ogc_schemas):
    """WMTS names a set's CRS by a URI (SupportedCRS is an xs:anyURI): the geostationary view has
    none, so the layer is offered in the well-known sets, and the document stays valid."""
    r = client.get("/wmts", query_string={"SERVICE": "WMTS", "REQUEST": "GetCapabilities"})
    assert_valid(schema(ogc_schemas, (WMTS, "http://schemas.opengis.net/wmts/1.0/wmts.xsd")), r.data)
    doc = ET.fromstring(r.data)
    layer = next(e for e in doc.iter(f"{{{WMTS}}}Layer") if e.findtext(f"{{{OWS}}}Identifier") == "goes")
    assert [s.text for s in layer.iter(f"{{{WMTS}}}TileMatrixSet")] == ["WebMercatorQuad", "WorldCRS84Quad"]
