"""Grant constraints hold for point queries and the catalog, not only for maps: an area, a
finest resolution and a time window (both ends included); and a catalog change that removes an
item in one place and adds one in another drops the cached tiles of both places."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
import yaml

from ogcserver.app import create_app
from ogcserver.core import tiling
from ogcserver.model.geo import transform_point
from ogcserver.settings import load_settings
from tests.support import rasters
from tests.support.reference import decode, params
from tests.support.tiles import tile_at

X0, Y0 = rasters.ORIGIN
BOX = f"{X0},{Y0 - 2000},{X0 + 2000},{Y0}"  # 200 x 200 pixels of 10 m below
WEST = (205, 505)   # metres (pixel centres) east, south of the origin: inside the area (west of 9.013 E, ~990 m east)
EAST = (1805, 505)  # outside it
QUERY = ["discover", "view", "query"]


@pytest.fixture(scope="module")
def constrained(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("constrained")
    parent = str(data_dir / "parent" / "parent.tif")  # 10 m pixels, all different, no overviews
    order = str(data_dir / "order")  # old.tif acquired 2020-01-01T00:00:00Z, new.tif 2022-01-01T00:00:00Z
    west = {"type": "Polygon", "coordinates": [[[0, 0], [9.013, 0], [9.013, 89], [0, 89], [0, 0]]]}
    config = {
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "services": [{"name": "s", "layers": [
            {"name": "open", "source": parent}, {"name": "west", "source": parent},
            {"name": "coarse", "source": parent},
            {"name": "both_ends", "source": order}, {"name": "first_end", "source": order},
        ]}],
        "access": {"grants": [
            {"to": "anonymous", "service": "s", "layers": ["open"], "actions": QUERY},
            {"to": "anonymous", "service": "s", "layers": ["west"], "actions": QUERY, "area": west},
            {"to": "anonymous", "service": "s", "layers": ["coarse"], "actions": QUERY, "max_resolution": 40},
            {"to": "anonymous", "service": "s", "layers": ["both_ends"], "actions": QUERY,
             "time": ["2020-01-01T00:00:00Z", "2022-01-01T00:00:00Z"]},
            {"to": "anonymous", "service": "s", "layers": ["first_end"], "actions": QUERY,
             "time": ["2020-01-01T00:00:00Z", "2021-12-31T23:59:59Z"]},
        ]},
    }
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    return create_app(load_settings(path)).test_client()


def source_values(data_dir, dx: float, dy: float) -> list[int]:
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        return [int(v) for v in next(src.sample([(X0 + dx, Y0 - dy)]))]


def wms_point(client, layer: str, col: int, row: int) -> list[dict]:
    q = {**params(LAYERS=layer, CRS="EPSG:32632", BBOX=BOX, WIDTH=200, HEIGHT=200), "REQUEST": "GetFeatureInfo",
         "QUERY_LAYERS": layer, "I": col, "J": row, "INFO_FORMAT": "application/json", "FEATURE_COUNT": 10}
    r = client.get("/wms", query_string=q)
    assert r.status_code == 200, r.data[:300]
    return r.get_json()["layers"][0]["features"]


def wmts_point(client, layer: str, dx: float, dy: float) -> list[dict]:
    """A REST GetFeatureInfo at the pixel of a WebMercatorQuad zoom-16 tile holding the point."""
    tms = tiling.well_known("WebMercatorQuad")
    x, y = tile_at(16, dx, dy)
    box = tms.tile_bbox(16, x, y)
    px, py = transform_point(X0 + dx, Y0 - dy, "EPSG:32632", tms.crs)
    i = math.floor((px - box.minx) / (box.maxx - box.minx) * 256)
    j = math.floor((box.maxy - py) / (box.maxy - box.miny) * 256)
    r = client.get(f"/wmts/1.0.0/{layer}/default/WebMercatorQuad/16/{y}/{x}/{j}/{i}.json")
    assert r.status_code == 200, r.data[:300]
    return r.get_json()["layers"][0]["features"]


def values(features: list[dict]) -> list[list[int]]:
    return [list(f["values"].values()) for f in features]


def test_point_queries_answer_only_inside_the_granted_area(constrained, data_dir):
    for dx, dy in (WEST, EAST):
        assert values(wms_point(constrained, "open", dx // 10, dy // 10)) == [source_values(data_dir, dx, dy)]
        assert values(wmts_point(constrained, "open", dx, dy)) == [source_values(data_dir, dx, dy)]
    assert values(wms_point(constrained, "west", WEST[0] // 10, WEST[1] // 10)) == [source_values(data_dir, *WEST)]
    assert values(wmts_point(constrained, "west", *WEST)) == [source_values(data_dir, *WEST)]
    assert wms_point(constrained, "west", EAST[0] // 10, EAST[1] // 10) == []
    assert wmts_point(constrained, "west", *EAST) == []


def test_point_queries_tell_no_more_than_the_map_at_the_finest_resolution_granted(constrained, data_dir):
    """40 m at most: a 10 m point query answers what the 40 m map shows at that pixel, the same
    for the 4 x 4 pixels of one 40 m cell, though the source's 10 m pixels all differ there."""
    picture = decode(constrained.get("/wms", query_string=params(
        LAYERS="coarse", CRS="EPSG:32632", BBOX=BOX, WIDTH=200, HEIGHT=200)).data)
    cell = [(col, row) for row in range(48, 52) for col in range(20, 24)]  # one 40 m cell
    truth = [source_values(data_dir, col * 10 + 5, row * 10 + 5) for col, row in cell]
    assert len({tuple(v) for v in truth}) == len(cell)  # the source pixels differ
    answers = [values(wms_point(constrained, "coarse", col, row)) for col, row in cell]
    assert all(a == answers[0] for a in answers) and len(answers[0]) == 1
    assert answers[0][0] in truth  # one of the cell's own values
    for col, row in cell:
        assert answers[0][0] == [int(v) for v in picture[row, col, :3]]  # what the map shows there
    fine = values(wms_point(constrained, "open", 20, 48))
    assert fine == [truth[0]]  # without the constraint: the pixel itself


def test_a_time_window_includes_items_acquired_exactly_at_its_ends(constrained):
    overlap = f"{X0 + 1000},{Y0 - 2000},{X0 + 2000},{Y0 - 1000}"  # both items; new.tif on top
    picture = decode(constrained.get("/wms", query_string=params(
        LAYERS="both_ends", CRS="EPSG:32632", BBOX=overlap, WIDTH=10, HEIGHT=10)).data)
    assert (picture == 200).all()
    picture = decode(constrained.get("/wms", query_string=params(
        LAYERS="first_end", CRS="EPSG:32632", BBOX=overlap, WIDTH=10, HEIGHT=10)).data)
    assert (picture == 100).all()  # the window ends a second before new.tif: old.tif shows
    listed = constrained.get("/catalog/both_ends/items").get_json()["features"]
    assert sorted(f["id"] for f in listed) == ["new", "old"]
    listed = constrained.get("/catalog/first_end/items").get_json()["features"]
    assert [f["id"] for f in listed] == ["old"]
    assert constrained.get("/catalog/both_ends/items/new").status_code == 200
    assert constrained.get("/catalog/first_end/items/new").status_code == 404
    q = {**params(LAYERS="both_ends", CRS="EPSG:32632", BBOX=overlap, WIDTH=10, HEIGHT=10),
         "REQUEST": "GetFeatureInfo", "QUERY_LAYERS": "both_ends", "I": 5, "J": 5, "INFO_FORMAT": "application/json",
         "FEATURE_COUNT": 10}
    hits = constrained.get("/wms", query_string=q).get_json()["layers"][0]["features"]
    assert [h["id"] for h in hits] == ["new", "old"]



def test_kml_footprints_list_only_items_within_the_grant(constrained):
    """The footprints of items outside a grant's time window are as hidden as the items."""
    from lxml import etree

    kml = "{http://www.opengis.net/kml/2.2}"
    for layer, names in (("both_ends", ["new.tif", "old.tif"]), ("first_end", ["old.tif"])):
        r = constrained.get(f"/kml/{layer}/footprints.kml")
        assert r.status_code == 200
        marks = etree.fromstring(r.data).findall(f"{kml}Document/{kml}Placemark")
        assert sorted(m.find(kml + "name").text for m in marks) == names

def test_one_sync_that_removes_an_item_and_adds_another_elsewhere_drops_both_places_tiles(data_dir, tmp_path):
    """A base raster under two places; a small raster on top at the west place is removed and
    one at the east place added before the next index check: both places' tiles are redrawn."""
    from rasterio.transform import from_origin

    folder = tmp_path / "mosaic"
    const = np.ones((3, 60, 60), dtype=np.uint8)
    rasters.write(folder / "base.tif", np.ones((3, 400, 400), dtype=np.uint8) * 50, from_origin(X0, Y0, 10, 10),
                  tags={"ACQUISITIONDATETIME": "2020-01-01T00:00:00Z"})
    west = folder / "west.tif"
    rasters.write(west, const * 150, from_origin(X0 + 100, Y0 - 100, 10, 10),
                  tags={"ACQUISITIONDATETIME": "2021-01-01T00:00:00Z"})
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0},
        "services": [{"name": "s", "layers": [{"name": "m", "source": str(folder)}]}],
    }))
    client = create_app(load_settings(config)).test_client()
    west_url = "/tiles/m/WebMercatorQuad/17/{}/{}.png".format(*tile_at(17, 400, 400))
    east_url = "/tiles/m/WebMercatorQuad/17/{}/{}.png".format(*tile_at(17, 3400, 3400))

    def center(url: str) -> int:
        r = client.get(url)
        assert r.status_code == 200
        return int(decode(r.data)[128, 128, 0])

    assert (center(west_url), center(east_url)) == (150, 50)
    assert client.get(west_url).headers["X-Cache"] == client.get(east_url).headers["X-Cache"] == "HIT"
    west.unlink()
    rasters.write(folder / "east.tif", const * 250, from_origin(X0 + 3100, Y0 - 3100, 10, 10),
                  tags={"ACQUISITIONDATETIME": "2022-01-01T00:00:00Z"})
    assert (center(west_url), center(east_url)) == (50, 250)
