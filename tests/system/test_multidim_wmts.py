"""Multidimensional layers over WMTS: a Dimension element per axis (valid against the official
schema), the time in the RESTful path and the other dimensions in its query, KVP parameters, and
tiles cached per step: each step its own tile, equal to the WMS map of the tile's bounds."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from lxml import etree

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support import cubes
from tests.support.reference import decode
from tests.support.schemas import assert_valid, schema

WMTS_NS = "http://www.opengis.net/wmts/1.0"
OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wmts-cubes")
    cube = cubes.four_d(folder / "cube.nc")
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump({"server": {"data_dir": str(folder / "state")}, "services": [
        {"name": "cubes", "layers": [{"name": "ta", "source": str(cube), "variable": "ta", "value_range": [200, 300]}]}]}))
    return create_app(load_settings(path)).test_client()


def test_capabilities_have_a_dimension_per_axis_and_templates_for_them(client, ogc_schemas):
    r = client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
    assert_valid(schema(ogc_schemas, (WMTS_NS, "http://schemas.opengis.net/wmts/1.0/wmts.xsd")), r.data)
    layer = etree.fromstring(r.data).find(f"{{{WMTS_NS}}}Contents/{{{WMTS_NS}}}Layer")
    dims = {d.findtext(f"{OWS}Identifier"): (d.findtext(f"{{{WMTS_NS}}}Default"), [v.text for v in d.findall(f"{{{WMTS_NS}}}Value")])
            for d in layer.findall(f"{{{WMTS_NS}}}Dimension")}
    assert dims == {"Time": ("2001-04-01T00:00:00Z", ["2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z",
                                                     "2001-03-02T00:00:00Z", "2001-04-01T00:00:00Z"]),
                    "Elevation": ("1000", ["500", "850", "1000"])}
    template = layer.find(f"{{{WMTS_NS}}}ResourceURL[@resourceType='tile']").get("template")
    assert template.endswith("/ta/{Style}/{Time}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.png?Elevation={Elevation}")


def tile(client, url: str) -> np.ndarray:
    r = client.get(url)
    assert r.status_code == 200, r.data[:300]
    return decode(r.data)


REST = "/wmts/1.0.0/ta/default/{time}/WorldCRS84Quad/0/0/1.png?Elevation={elevation}"
KVP = ("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=ta&STYLE=default&TILEMATRIXSET=WorldCRS84Quad"
       "&TILEMATRIX=0&TILEROW=0&TILECOL=1&FORMAT=image/png&TIME={time}&ELEVATION={elevation}")


def test_each_step_is_cached_as_its_own_tile(client):
    steps = [("2001-01-01T00:00:00Z", "500"), ("2001-03-02T00:00:00Z", "500"), ("2001-03-02T00:00:00Z", "1000")]
    first = [tile(client, REST.format(time=t, elevation=z)) for t, z in steps]
    assert all((a != b).any() for i, a in enumerate(first) for b in first[i + 1:])  # three different tiles
    for (t, z), seen in zip(steps, first):  # cached now: the same tile again, by REST and by KVP
        np.testing.assert_array_equal(tile(client, REST.format(time=t, elevation=z)), seen)
        np.testing.assert_array_equal(tile(client, KVP.format(time=t, elevation=z)), seen)
        wms = tile(client, f"/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=ta&STYLES=&CRS=CRS:84&BBOX=0,-90,180,90"
                           f"&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE&TIME={t}&ELEVATION={z}")
        np.testing.assert_array_equal(seen, wms)
    default = tile(client, "/wmts/1.0.0/ta/default/default/WorldCRS84Quad/0/0/1.png")
    np.testing.assert_array_equal(default, tile(client, REST.format(time="2001-04-01T00:00:00Z", elevation="1000")))
    for word in ("default", "current", "DEFAULT"):  # the dimension's default by KVP as by REST
        np.testing.assert_array_equal(default, tile(client, KVP.format(time=word, elevation="1000")))


def test_a_step_outside_the_dimension_is_refused(client):
    r = client.get(REST.format(time="1999-01-01", elevation="500"))
    assert r.status_code == 400 and b'locator="TIME"' in r.data
    r = client.get(KVP.format(time="2001-01-01", elevation="7"))
    assert r.status_code == 400 and b'locator="ELEVATION"' in r.data
