"""Links in documents come from the configuration or a trusted proxy, never from the Host header.

A forged Host header must not reach any document: capabilities of every service and version,
TileJSON, KML, the catalog API, the landing and viewer pages and the viewer's layer list.
"""

from __future__ import annotations

import pytest

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.conftest import write_config
from tests.support import rasters

X0, Y0 = rasters.ORIGIN
FORGED = "evil.example"
DOCUMENTS = [
    "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
    "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1",
    "/services/demo/wms?SERVICE=WMS&REQUEST=GetCapabilities",
    "/ows?SERVICE=WMS&REQUEST=GetCapabilities",
    "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities",
    "/wmts/1.0.0/WMTSCapabilities.xml",
    "/wcs?SERVICE=WCS&REQUEST=GetCapabilities&VERSION=1.0.0",
    "/wcs?SERVICE=WCS&REQUEST=GetCapabilities&VERSION=1.1.1",
    "/wcs?SERVICE=WCS&REQUEST=GetCapabilities&VERSION=2.0.1",
    "/wcs?SERVICE=WCS&REQUEST=DescribeCoverage&VERSION=2.0.1&COVERAGEID=mosaic",
    "/tiles/mosaic/WebMercatorQuad/tilejson.json",
    "/kml/mosaic.kml",
    "/kml/mosaic/footprints.kml",
    "/catalog/mosaic",
    "/catalog/mosaic/items",
    "/",
    "/preview/mosaic",
    "/viewer",
    "/viewer/layers.json",
    f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=mosaic&STYLES=&CRS=EPSG:32632"
    f"&BBOX={X0},{Y0 - 2000},{X0 + 2000},{Y0}&WIDTH=64&HEIGHT=64&FORMAT=application/vnd.google-earth.kml%2Bxml",
]


@pytest.mark.parametrize("url", DOCUMENTS)
def test_a_forged_host_header_reaches_no_document(client, url):
    r = client.get(url, headers={"Host": FORGED})
    assert r.status_code == 200, r.data[:300]
    assert FORGED.encode() not in r.data


@pytest.mark.parametrize("url", [u for u in DOCUMENTS if "Capabilities" in u or "tilejson" in u or u.endswith(("mosaic.kml", "layers.json"))])
def test_links_use_the_configured_host_and_port(client, url):
    assert b"http://127.0.0.1:8080/" in client.get(url, headers={"Host": FORGED}).data


def test_public_url_wins_over_everything(data_dir, tmp_path):
    config = write_config(data_dir, tmp_path / "c.yaml", public_url="https://maps.example.org/imagery/",
                          trusted_proxies=["127.0.0.1/32"])
    client = create_app(load_settings(config)).test_client()
    body = client.get("/tiles/mosaic/WebMercatorQuad/tilejson.json",
                      headers={"Host": FORGED, "X-Forwarded-Host": "proxy.example"}).data
    assert b"https://maps.example.org/imagery/tiles/mosaic/" in body
    assert FORGED.encode() not in body and b"proxy.example" not in body


def test_ipv6_host_is_bracketed(data_dir, tmp_path):
    config = write_config(data_dir, tmp_path / "c.yaml", host="::1", port=9090)
    client = create_app(load_settings(config)).test_client()
    assert b"http://[::1]:9090/tiles/mosaic/" in client.get("/tiles/mosaic/WebMercatorQuad/tilejson.json").data
