"""A page on another origin draws our XYZ tiles with OpenLayers in headless Chromium through
CORS, and the same page fails to read them with CORS off."""

from __future__ import annotations

import pytest
import yaml
from pyproj import Transformer

from tests.conftest import running_server, write_config
from tests.support import rasters
from tests.support.clients import needs_chromium
from tests.support.cross_origin import draw_tiles, page_server

pytestmark = needs_chromium
# the middle of new.tif (value 200 in every band; see the data_dir fixture), in lon/lat
CENTRE = Transformer.from_crs("EPSG:32632", "EPSG:4326", always_xy=True).transform(
    rasters.ORIGIN[0] + 1000 + 100 * rasters.RES, rasters.ORIGIN[1] - 1000 - 100 * rasters.RES)
TILES = "/tiles/newest/WebMercatorQuad/{z}/{x}/{y}.png"


def config_with_cors(data_dir, folder, cors: dict | None):
    config = write_config(data_dir, folder / "ogcserver.yaml")
    if cors is not None:
        raw = yaml.safe_load(config.read_text())
        raw["cors"] = cors
        config.write_text(yaml.safe_dump(raw))
    return config


@pytest.mark.parametrize(("cors", "drawn"), [(None, True), ({"origins": []}, False)], ids=["default", "off"])
def test_a_page_on_another_origin_draws_the_tiles_only_through_cors(data_dir, tmp_path, cors, drawn):
    site = tmp_path / "site"
    site.mkdir()
    with running_server(config_with_cors(data_dir, tmp_path, cors), workers=1) as ogc, page_server(site) as page:
        assert page.split("/")[2] != ogc.split("/")[2]  # another origin: the port differs
        report = draw_tiles(page, ogc + TILES, *CENTRE, 16, tmp_path / "profile")
    if drawn:
        assert report["loaded"] >= 1 and report["failed"] == 0, report
        assert report["pixel"] == [200, 200, 200, 255], report
    else:
        assert report["loaded"] == 0 and report["failed"] >= 1, report
        assert report["pixel"] != [200, 200, 200, 255], report
