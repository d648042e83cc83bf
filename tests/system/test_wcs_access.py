"""Access control through WCS: coverages are downloads, discovery follows the grants."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import rasterio
import yaml
from lxml import etree

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support import rasters
from tests.support.wcs import read_coverage

X0, Y0 = rasters.ORIGIN
KEY = "wcs-key"


@pytest.fixture(scope="module")
def guarded(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("wcs-access")
    dem = str(data_dir / "dem.tif")
    west = {"type": "Polygon", "coordinates": [[[0, 0], [9.013, 0], [9.013, 89], [0, 89], [0, 0]]]}
    config = folder / "access.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")},
        "services": [{"name": "s", "layers": [
            {"name": "open", "source": dem}, {"name": "maps_only", "source": dem},
            {"name": "west", "source": dem}, {"name": "hidden", "source": dem},
        ]}],
        "access": {
            "api_keys": [{"name": "k", "key_sha256": hashlib.sha256(KEY.encode()).hexdigest(), "groups": ["staff"]}],
            "grants": [
                {"to": "anonymous", "service": "s", "layers": ["open"], "actions": ["discover", "download"]},
                {"to": "anonymous", "service": "s", "layers": ["maps_only"], "actions": ["discover", "view"]},
                {"to": "anonymous", "service": "s", "layers": ["west"], "actions": ["discover", "download"], "area": west},
                {"to": "group:staff", "service": "s", "actions": ["discover", "view", "download"]},
            ],
        },
    }))
    return create_app(load_settings(config)).test_client()


def coverage(client, name, **headers):
    q = {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": name,
         "SUBSET": f"E({X0},{X0 + 2000})"}
    return client.get("/wcs", query_string=q, headers=headers)


def test_downloads_need_the_download_grant(guarded):
    assert coverage(guarded, "open").status_code == 200
    denied = coverage(guarded, "maps_only")
    assert denied.status_code == 401 and "WWW-Authenticate" in denied.headers and b"AccessDenied" in denied.data
    assert coverage(guarded, "maps_only", **{"X-API-Key": KEY}).status_code == 200


def test_hidden_coverages_answer_like_missing_ones(guarded):
    hidden, missing = coverage(guarded, "hidden"), coverage(guarded, "nothing")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.data.replace(b"hidden", b"N") == missing.data.replace(b"nothing", b"N")
    caps = etree.fromstring(guarded.get("/wcs?SERVICE=WCS&REQUEST=GetCapabilities").data)
    ids = caps.xpath("//*[local-name()='CoverageId']/text()")
    assert ids == ["open", "maps_only", "west"]
    staff = etree.fromstring(guarded.get("/wcs?SERVICE=WCS&REQUEST=GetCapabilities", headers={"X-API-Key": KEY}).data)
    assert "hidden" in staff.xpath("//*[local-name()='CoverageId']/text()")


def test_an_area_grant_masks_values_outside_it(guarded, data_dir):
    got = read_coverage(coverage(guarded, "west").data)
    with rasterio.open(data_dir / "dem.tif") as src:
        data = src.read()[:, :, :200]
    inside = got.data != got.nodata
    assert inside[:, :, :50].any() and not inside[:, :, 150:].any()  # 9.013 E lies about 100 pixels east
    np.testing.assert_array_equal(got.data[inside], data[inside])
