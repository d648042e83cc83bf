"""KML and KMZ: schema-valid documents, a super-overlay followed three levels down, footprints."""

from __future__ import annotations

import io
import zipfile
from urllib.parse import urlparse

import pytest
from lxml import etree

from tests.support.reference import decode, params
from tests.support.schemas import assert_valid, schema

K = "{http://www.opengis.net/kml/2.2}"
KML_NS = "http://www.opengis.net/kml/2.2"


@pytest.fixture(scope="module")
def kml_schema(ogc_schemas):
    return schema(ogc_schemas, (KML_NS, "http://schemas.opengis.net/kml/2.2.0/ogckml22.xsd"))


def local(url: str) -> str:
    parts = urlparse(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def box(node) -> tuple[float, float, float, float]:
    return tuple(float(node.find(K + t).text) for t in ("west", "south", "east", "north"))


def test_superoverlay_three_levels_down(client, kml_schema):
    r = client.get("/kml/mosaic.kml")
    assert r.status_code == 200 and r.mimetype == "application/vnd.google-earth.kml+xml"
    assert_valid(kml_schema, r.data)
    doc = etree.fromstring(r.data)
    links = doc.iter(K + "NetworkLink")
    seen_levels, images = set(), 0
    frontier = [local(link.find(f"{K}Link/{K}href").text) for link in links]
    for _level in range(3):
        following = []
        for url in frontier:
            page = client.get(url)
            assert page.status_code == 200, page.data[:200]
            assert_valid(kml_schema, page.data)
            tile = etree.fromstring(page.data)
            region = box(tile.find(f"{K}Document/{K}Region/{K}LatLonAltBox"))
            overlay = tile.find(f"{K}Document/{K}GroundOverlay")
            assert box(overlay.find(K + "LatLonBox")) == region  # the image sits exactly in its Region
            image = client.get(local(overlay.find(f"{K}Icon/{K}href").text))
            assert image.status_code == 200 and decode(image.data).shape[:2] == (256, 256)
            images += 1
            z = int(url.rsplit("/", 3)[-3])
            seen_levels.add(z)
            for child in tile.iter(K + "NetworkLink"):
                child_box = box(child.find(f"{K}Region/{K}LatLonAltBox"))
                assert region[0] <= child_box[0] and child_box[2] <= region[2]  # children nest inside
                following.append(local(child.find(f"{K}Link/{K}href").text))
        frontier = following[:6]
        if not frontier:
            break
    assert len(seen_levels) >= 3 and images >= 3


def test_kmz_entry_point_and_footprints(client, kml_schema):
    r = client.get("/kml/mosaic.kmz")
    assert r.status_code == 200 and r.mimetype == "application/vnd.google-earth.kmz"
    with zipfile.ZipFile(io.BytesIO(r.data)) as z:
        assert z.namelist()[0] == "doc.kml"
        assert_valid(kml_schema, z.read("doc.kml"))
    f = client.get("/kml/mosaic/footprints.kml")
    assert_valid(kml_schema, f.data)
    marks = etree.fromstring(f.data).findall(f"{K}Document/{K}Placemark")
    assert [m.find(K + "name").text for m in marks] == ["tile_3.tif", "tile_2.tif", "tile_1.tif", "tile_0.tif"]
    assert marks[-1].find(f"{K}TimeStamp/{K}when").text == "2021-05-01T10:00:00Z"  # newest first, as mosaicked


def test_wms_getmap_as_kml_and_kmz(client, kml_schema):
    q = params(LAYERS="parent", CRS="EPSG:32632", BBOX="500000,5195000,506000,5200000", WIDTH=200, HEIGHT=160)
    kml = client.get("/wms", query_string={**q, "FORMAT": "application/vnd.google-earth.kml+xml"})
    assert kml.status_code == 200 and kml.mimetype == "application/vnd.google-earth.kml+xml"
    assert_valid(kml_schema, kml.data)
    overlay = etree.fromstring(kml.data).find(f"{K}Document/{K}GroundOverlay")
    west, south, east, north = box(overlay.find(K + "LatLonBox"))
    assert 8.99 < west < 9.01 and 46.9 < south < north < 47.0
    image = client.get(local(overlay.find(f"{K}Icon/{K}href").text))
    assert image.status_code == 200 and image.mimetype == "image/png"
    kmz = client.get("/wms", query_string={**q, "FORMAT": "application/vnd.google-earth.kmz"})
    with zipfile.ZipFile(io.BytesIO(kmz.data)) as z:
        assert_valid(kml_schema, z.read("doc.kml"))
        assert decode(z.read("overlay.png")).shape[:2] == (160, 200)


def test_capabilities_advertise_kml(client):
    caps = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities").data
    assert b"application/vnd.google-earth.kml+xml" in caps and b"application/vnd.google-earth.kmz" in caps


@pytest.mark.parametrize("url, status", [
    ("/kml/nope.kml", 404), ("/kml/mosaic/0/0/0.kml", 400), ("/kml/mosaic/30/0/0.kml", 400),
    ("/kml/mosaic/3/99999/0.kml", 400), ("/kml/nope/footprints.kml", 404),
])
def test_bad_kml_requests(client, url, status):
    r = client.get(url)
    assert r.status_code == status and b"ExceptionReport" in r.data and b"Traceback" not in r.data


def test_links_follow_the_public_url_from_trusted_proxies_only(data_dir, tmp_path):
    from ogcserver.app import create_app
    from ogcserver.settings import load_settings
    from tests.conftest import write_config

    config = write_config(data_dir, tmp_path / "c.yaml", trusted_proxies=["10.1.2.3/32"])
    client = create_app(load_settings(config)).test_client()
    headers = {"X-Forwarded-Host": "maps.example.org", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/imagery"}
    trusted = client.get("/kml/mosaic.kml", headers=headers, environ_base={"REMOTE_ADDR": "10.1.2.3"}).data
    assert b"https://maps.example.org/imagery/kml/mosaic/" in trusted
    untrusted = client.get("/kml/mosaic.kml", headers=headers, environ_base={"REMOTE_ADDR": "10.9.9.9"}).data
    assert b"maps.example.org" not in untrusted and b"http://127.0.0.1:8080/kml/mosaic/" in untrusted
    forged = client.get("/kml/mosaic.kml", headers={**headers, "X-Forwarded-Host": "evil\"><x"},
                        environ_base={"REMOTE_ADDR": "10.1.2.3"}).data
    assert b"evil" not in forged
