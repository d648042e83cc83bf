"""Layers named after awkward file names are served by every protocol; one layer that cannot be
published is left out, with its reason logged once, and the server starts with the others."""

from __future__ import annotations

import dataclasses
import logging
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ogcserver.app import core_of, create_app
from ogcserver.core import tiling
from ogcserver.core.catalog import LayerCatalog
from ogcserver.model.errors import InvalidValue
from ogcserver.settings import settings_from_paths
from tests.support import rasters

AWKWARD = {  # file name -> layer name
    "RGB.byte.tif": "RGB_byte",
    "ortho 2020 (final).tif": "ortho_2020_final_",
    "Zürich.tif": "Zurich",
    "2021_tile.tif": "l_2021_tile",
    "2021 tile.tif": "l_2021_tile_2",
}


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    root = tmp_path_factory.mktemp("awkward")
    transform = rasters.from_origin(*rasters.ORIGIN, rasters.RES, rasters.RES)
    paths = []
    for i, file in enumerate(AWKWARD):
        paths.append(rasters.write(root / file, rasters.texture((64, 64), 3, seed=i), transform))
    (root / "folder.with.dots").mkdir()
    rasters.write(root / "folder.with.dots" / "a.b.tif", rasters.texture((64, 64), 3, seed=9), transform)
    paths.append(root / "folder.with.dots")
    settings = settings_from_paths(paths, {"data_dir": str(root / "state"), "index_refresh_seconds": 0})
    return create_app(settings).test_client()


def names_in(xml: bytes, path: str, ns: dict) -> set[str]:
    return {e.text for e in ET.fromstring(xml).iterfind(path, ns)}


def test_every_protocol_lists_and_serves_the_layers(awkward):
    expected = set(AWKWARD.values()) | {"folder_with_dots"}
    wms = awkward.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")
    assert names_in(wms.data, ".//w:Layer/w:Layer/w:Name", {"w": "http://www.opengis.net/wms"}) == expected
    wmts = awkward.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
    ows = {"m": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
    assert names_in(wmts.data, ".//m:Layer/ows:Identifier", ows) == expected
    assert {f"{n}_native" for n in expected} <= names_in(wmts.data, ".//m:Contents/m:TileMatrixSet/ows:Identifier", ows)
    wcs = awkward.get("/wcs?SERVICE=WCS&REQUEST=GetCapabilities&VERSION=2.0.1")
    assert names_in(wcs.data, ".//w:CoverageId", {"w": "http://www.opengis.net/wcs/2.0"}) == expected
    for name in expected:
        info = core_of(awkward.application).engine.catalog.layer(name).info
        tms = tiling.for_layer(info, f"{name}_native")
        tile = awkward.get(f"/wmts/1.0.0/{name}/default/{name}_native/{tms.maxzoom}/0/0.png")
        assert tile.status_code == 200 and tile.mimetype == "image/png"
        coverage = awkward.get(f"/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=DescribeCoverage&COVERAGEID={name}")
        assert coverage.status_code == 200 and b"ExceptionReport" not in coverage.data
        assert awkward.get(f"/kml/{name}.kml").status_code == 200


LOCAL = 'LOCAL_CS["site grid",UNIT["metre",1]]'  # morecantile cannot tile a CRS without a datum


def test_a_crs_morecantile_cannot_tile_keeps_the_well_known_sets(awkward, caplog):
    info = core_of(awkward.application).engine.catalog.layer("Zurich").info
    local = dataclasses.replace(info, name="site", crs=LOCAL)
    with caplog.at_level(logging.WARNING, "ogcserver.core.tiling"):
        for _ in range(3):
            assert [t.id for t in tiling.sets_for(local)] == list(tiling.WELL_KNOWN)
        with pytest.raises(InvalidValue):
            tiling.for_layer(local, "site_native")
    assert [r.getMessage() for r in caplog.records] == ["no native tile matrix set"]
    assert "semi_major" in caplog.records[0].reason or "NoneType" in caplog.records[0].reason


def test_a_layer_that_fails_is_left_out_once_and_the_server_starts(tmp_path, monkeypatch, caplog):
    transform = rasters.from_origin(*rasters.ORIGIN, rasters.RES, rasters.RES)
    good = rasters.write(tmp_path / "good.tif", rasters.texture((32, 32), 3, seed=1), transform)
    bad = rasters.write(tmp_path / "bad.tif", rasters.texture((32, 32), 3, seed=2), transform)
    describe = LayerCatalog._describe

    def failing(self, name, service, config):
        if name == "bad":
            raise ValueError("no grid for this one")
        return describe(self, name, service, config)

    monkeypatch.setattr(LayerCatalog, "_describe", failing)
    settings = settings_from_paths([bad, good], {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0})
    with caplog.at_level(logging.WARNING, "ogcserver.core.catalog"):
        client = create_app(settings).test_client()
        for _ in range(3):
            caps = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")
            assert caps.status_code == 200 and b"<Name>good</Name>" in caps.data and b"<Name>bad</Name>" not in caps.data
    left_out = [r for r in caplog.records if r.getMessage() == "layer left out"]
    assert len(left_out) == 1 and left_out[0].layer == "bad" and "no grid for this one" in left_out[0].reason
    image = client.get("/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=good&STYLES=&CRS=EPSG:32632"
                       "&BBOX=500000,5199680,500320,5200000&WIDTH=32&HEIGHT=32&FORMAT=image/png")
    assert image.status_code == 200 and image.mimetype == "image/png"


def test_real_files_with_dots_in_their_names_are_served(shared_data, tmp_path):
    paths = [shared_data / "landsat7-rgb" / "RGB.byte.tif", shared_data / "global-relief-4326" / "world.rgb.tif",
             shared_data / "dem-srtm-hgt" / "N10W110.hgt.zip"]
    settings = settings_from_paths(paths, {"data_dir": str(tmp_path / "state")})
    client = create_app(settings).test_client()
    caps = client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
    assert caps.status_code == 200
    for name in ("RGB_byte", "world_rgb"):
        assert f"<ows:Identifier>{name}_native</ows:Identifier>".encode() in caps.data
    tile = client.get("/wmts/1.0.0/RGB_byte/default/RGB_byte_native/1/0/0.png")
    assert tile.status_code == 200 and np.asarray(rasters_png(tile.data)).any()


def rasters_png(data: bytes):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data))
