"""Mosaic datasets end to end: `ogcserver catalog` ingest, mosaic rules, FILTER and TIME through
OWSLib and HTTP, the catalog query API, live changes while a server runs.

Three overlapping constant-valued scenes with known dates and attributes make every expected
pixel computable by hand:

    a  value 10  2021-05-01  cloud 5   sensor A   columns   0-100
    b  value 20  2022-05-01  cloud 50  sensor B   columns  50-150
    c  value 60  2023-05-01  cloud 20  sensor A   columns  25-125, valid only in its top half
                                                   and its left quarter (an L-shaped footprint)
"""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from owslib.wms import WebMapService

from ogcserver.app import create_app
from ogcserver.cli import main
from ogcserver.composition import catalog_store
from ogcserver.settings import load_settings
from tests.conftest import running_server
from tests.support import rasters
from tests.support.postgres import SKIP_REASON
from tests.support.reference import decode, params

X0, Y0 = rasters.ORIGIN
RES = rasters.RES
OVERLAP = (X0 + 550, Y0 - 300, X0 + 600, Y0 - 250)    # inside a, b and c's valid top half
OUTSIDE_C = (X0 + 550, Y0 - 900, X0 + 600, Y0 - 850)  # in c's box, outside its footprint
SCENES = {"a": (0, 10, "2021-05-01", 5, "A"), "b": (50, 20, "2022-05-01", 50, "B"), "c": (25, 60, "2023-05-01", 20, "A")}


def _scene(folder: Path, name: str) -> Path:
    col, value, _date, _cloud, _sensor = SCENES[name]
    data = np.full((3, 100, 100), value, dtype=np.uint8)
    if name == "c":
        valid = np.zeros((100, 100), dtype=bool)
        valid[:50, :] = True
        valid[:, :25] = True
        data[:, ~valid] = 0
    transform = rasters.from_origin(X0 + col * RES, Y0, RES, RES)
    return rasters.write(folder / f"{name}.tif", data, transform, nodata=0)


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def backend(request):
    """Every test here runs on both catalog backends."""
    if request.param == "sqlite":
        return {}
    dsn = request.getfixturevalue("postgis_dsn")
    if dsn is None:
        pytest.skip(SKIP_REASON)
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS items, meta, changes")
    return {"catalog": {"backend": "postgis", "dsn": dsn}}


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend):
    root = tmp_path_factory.mktemp("catalog")
    scenes = root / "scenes"
    for name in SCENES:
        _scene(scenes, name)
    with open(root / "meta.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "id", "datetime", "cloud", "sensor"])
        for name, (_c, _v, date, cloud, sensor) in SCENES.items():
            writer.writerow([f"{name}.tif", f"scene-{name}", date, cloud, sensor])
    config = {
        **backend,
        "server": {"data_dir": str(root / "state"), "index_refresh_seconds": 0},
        "processing": [{
            "name": "change", "title": "Change since 2021", "bands": [1],
            "chain": [{"function": "expression", "expression": "b1 * 2"}],
            "compare": {"reference": "2021"},
            "then": [{"function": "stretch", "method": "fixed", "minimum": -200, "maximum": 200}],
        }] + [{
            "name": name, "per_item": per, "bands": [1],
            "chain": [{"function": "expression", "expression": "where(b1 > 15, 100, 0)"},
                      {"function": "stretch", "method": "fixed", "minimum": 0, "maximum": 255}],
        } for name, per in (("flag_each", True), ("flag_mosaic", False))],
        "services": [{"name": "imagery", "allow_download": True, "layers": [
            {"name": "scenes", "collection": "scenes", "styles": ["change", "flag_each", "flag_mosaic"]},
            {"name": "stac", "collection": "stac"},
        ]}],
    }
    path = root / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["catalog", "create", "scenes", "-c", str(path)]) == 0
    assert main(["catalog", "add", "scenes", str(scenes), "--metadata", str(root / "meta.csv"), "-c", str(path)]) == 0
    return root, path


@pytest.fixture(scope="module")
def client(world):
    _root, path = world
    return create_app(load_settings(path)).test_client()


def rgba(body: bytes) -> np.ndarray:
    """Decoded PNG with an alpha channel (a fully opaque map may come as RGB)."""
    img = decode(body)
    if img.shape[2] == 3:
        img = np.dstack([img, np.full(img.shape[:2], 255, dtype=np.uint8)])
    return img


def value(client, bbox=OVERLAP, **extra) -> int:
    query = params(LAYERS="scenes", CRS="EPSG:32632", BBOX=",".join(map(str, bbox)), WIDTH=5, HEIGHT=5,
                   TRANSPARENT="TRUE", **extra)
    r = client.get("/wms", query_string=query)
    assert r.status_code == 200 and r.content_type == "image/png", r.data[:400]
    img = rgba(r.data)
    assert (img[..., 3] == 255).all() or (img[..., 3] == 0).all()
    values = set(img[..., 0][img[..., 3] == 255].ravel().tolist())
    assert len(values) <= 1, values
    return values.pop() if values else 0


def test_ingest_read_keys_dates_and_metadata(world):
    _root, path = world
    store = catalog_store(load_settings(path))
    items = {i.key: i for i in store.items("scenes")}
    assert set(items) == {"scene-a", "scene-b", "scene-c"}
    assert items["scene-b"].properties["cloud"] == 50 and items["scene-b"].properties["sensor"] == "B"
    assert items["scene-c"].acquired.isoformat() == "2023-05-01T00:00:00+00:00"


def test_footprint_is_the_valid_area_not_the_box(world):
    _root, path = world
    store = catalog_store(load_settings(path))
    c = store.item("scenes", "scene-c")
    from shapely.geometry import shape

    footprint = shape(c.footprint)
    box = c.lonlat_bounds
    box_area = (box.maxx - box.minx) * (box.maxy - box.miny)
    # top half plus the left quarter of the bottom half: 5/8 of the box, traced at 1 px (+1 px growth)
    assert 0.6 < footprint.area / box_area < 0.7


@pytest.mark.parametrize("extra, expected", [
    ({}, 60),                                         # newest on top (the layer's default)
    ({"MOSAICORDER": "oldest"}, 10),
    ({"MOSAICORDER": "by:cloud"}, 10),                # least cloud first
    ({"MOSAICORDER": "by:cloud:desc"}, 20),
    ({"MOSAICORDER": "closest:datetime:2022-04-01"}, 20),
    ({"MOSAICORDER": "closest:cloud:18"}, 60),
    ({"MOSAICORDER": "lock:scene-b,scene-a"}, 20),
    ({"MOSAICOPERATOR": "min"}, 10),
    ({"MOSAICOPERATOR": "max"}, 60),
    ({"MOSAICOPERATOR": "mean"}, 30),
    ({"MOSAICOPERATOR": "last"}, 10),                 # bottom of the newest-first stack
    ({"FILTER": "sensor = 'B'"}, 20),
    ({"FILTER": "cloud < 30"}, 60),
    ({"FILTER": "cloud < 30 AND datetime < TIMESTAMP('2022-01-01T00:00:00Z')"}, 10),
    ({"FILTER": "id IN ('scene-a', 'scene-b')"}, 20),
    ({"FILTER": "sensor LIKE 'A%' AND NOT cloud BETWEEN 0 AND 10"}, 60),
    ({"TIME": "2022-05-01"}, 20),
    ({"TIME": "2022"}, 20),
    ({"TIME": "2022-06-15"}, 20),                     # nearest acquisition time
    ({"TIME": "2021-01-01/2022-12-31"}, 20),
    ({"TIME": "1990-01-01"}, 10),                     # nearest: the oldest
    ({"FILTER": "sensor = 'C'"}, 0),                  # nothing matches: transparent
])
def test_mosaic_rules_filters_and_time_by_hand(client, extra, expected):
    assert value(client, **extra) == expected


@pytest.mark.parametrize("time, change", [
    ("2023", 2 * (60 - 10)),   # c now, a in 2021
    ("2022", 2 * (20 - 10)),
    ("2021", 0),
    (None, 2 * (60 - 10)),     # without TIME: the mosaic (c on top) against 2021
])
def test_change_between_dates_is_the_chain_on_both_then_their_difference(client, time, change):
    extra = {"STYLES": "change", **({"TIME": time} if time else {})}
    expected = round((change + 200) / 400 * 255)
    assert abs(value(client, **extra) - expected) <= 1


def test_a_chain_per_item_runs_before_the_items_combine(client):
    # each item flagged (a 0, b 100, c 100), then averaged: 67; the mean first (30), then flagged: 100
    assert abs(value(client, STYLES="flag_each", MOSAICOPERATOR="mean") - round(200 / 3 / 255 * 255)) <= 1
    assert value(client, STYLES="flag_mosaic", MOSAICOPERATOR="mean") == 100
    assert value(client, STYLES="flag_each", MOSAICOPERATOR="min") == 0
    assert value(client, STYLES="flag_each") == 100  # first: c on top


def test_the_same_rule_gives_the_same_pixels_through_wmts_and_wcs(client):
    from tests.support.tiles import tile_at

    wms_value = value(client, MOSAICOPERATOR="min", FILTER="sensor = 'A'")
    assert wms_value == 10
    # WCS 1.0 in the native grid: the raw values
    r = client.get("/wcs", query_string={
        "SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "scenes", "CRS": "EPSG:32632",
        "BBOX": ",".join(map(str, OVERLAP)), "WIDTH": 5, "HEIGHT": 5, "FORMAT": "GeoTIFF",
        "MOSAICOPERATOR": "min", "FILTER": "sensor = 'A'"})
    assert r.status_code == 200, r.data[:300]
    import rasterio

    with rasterio.MemoryFile(r.data) as mem, mem.open() as ds:
        assert (ds.read(1) == 10).all()
    z, (x, y) = 15, tile_at(15, 575, 275)
    tile = client.get(f"/tiles/scenes/WebMercatorQuad/{z}/{x}/{y}.png?MOSAICOPERATOR=min&FILTER=sensor%20%3D%20'A'")
    plain = client.get(f"/tiles/scenes/WebMercatorQuad/{z}/{x}/{y}.png")
    assert tile.status_code == plain.status_code == 200
    t, p = rgba(tile.data), rgba(plain.data)
    both = (t[..., 3] == 255) & (p[..., 3] == 255)
    assert both.any()
    assert set(np.unique(t[..., 0][both])) <= {10, 60}  # min of a and c where both, c alone elsewhere
    assert 10 in set(np.unique(t[..., 0][both]))
    assert not np.array_equal(t, p)  # the selection has its own cache entry


def test_wcs20_time_subset(client):
    r = client.get("/wcs", query_string=[
        ("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", "scenes"),
        ("SUBSET", f"E({OVERLAP[0]},{OVERLAP[2]})"), ("SUBSET", f"N({OVERLAP[1]},{OVERLAP[3]})"),
        ("SUBSET", 'time("2021-05-01")'), ("FORMAT", "image/tiff")])
    assert r.status_code == 200, r.data[:300]
    import rasterio

    with rasterio.MemoryFile(r.data) as mem, mem.open() as ds:
        assert (ds.read(1) == 10).all()
    # FILTER and the mosaic rule as vendor parameters, beside a time range
    r = client.get("/wcs", query_string=[
        ("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", "scenes"),
        ("SUBSET", f"E({OVERLAP[0]},{OVERLAP[2]})"), ("SUBSET", f"N({OVERLAP[1]},{OVERLAP[3]})"),
        ("SUBSET", 'time("2022-01-01","2023-12-31")'), ("FILTER", "cloud > 30"), ("MOSAICOPERATOR", "max"),
        ("FORMAT", "image/tiff")])
    assert r.status_code == 200, r.data[:300]
    with rasterio.MemoryFile(r.data) as mem, mem.open() as ds:
        assert (ds.read(1) == 20).all()


@pytest.mark.parametrize("hostile", [
    "id = 'a'; DROP TABLE items; --",
    "\"x') OR 1=1 --\" = 1",
    "cloud IN (" + ",".join(str(i) for i in range(300)) + ")",  # more values than allowed
    "(" * 300 + "cloud = 1" + ")" * 300,
    "cloud = cloud",
    "sqlite_version() = '3'",
])
def test_hostile_filters_are_refused_and_change_nothing(client, world, hostile):
    r = client.get("/wms", query_string=params(LAYERS="scenes", CRS="EPSG:32632", BBOX=",".join(map(str, OVERLAP)),
                                               WIDTH=5, HEIGHT=5, FILTER=hostile))
    assert r.status_code == 400
    assert b"InvalidParameterValue" in r.data and b"Traceback" not in r.data
    assert len(catalog_store(load_settings(world[1])).items("scenes")) == 3
    for url in ("/tiles/scenes/WebMercatorQuad/15/16800/11500.png", "/catalog/scenes/items", "/kml/scenes.kml",
                "/wmts/1.0.0/scenes/default/WebMercatorQuad/15/11500/16800.png"):
        other = client.get(url, query_string={"FILTER": hostile})
        assert other.status_code == 400 and b"Traceback" not in other.data, (url, other.data[:200])


def test_bad_time_and_rule_values_get_ogc_exceptions(client):
    base = params(LAYERS="scenes", CRS="EPSG:32632", BBOX=",".join(map(str, OVERLAP)), WIDTH=5, HEIGHT=5)
    for extra, code in [({"TIME": "yesterday"}, b"InvalidDimensionValue"),
                        ({"MOSAICORDER": "sideways"}, b"InvalidParameterValue"),
                        ({"MOSAICOPERATOR": "median"}, b"InvalidParameterValue")]:
        r = client.get("/wms", query_string={**base, **extra})
        assert r.status_code == 400 and code in r.data, r.data[:300]


def test_catalog_api_search_paging_item_and_download(client, world):
    r = client.get("/catalog/scenes/items", query_string={"sortby": "-cloud", "limit": 2})
    assert r.status_code == 200 and r.content_type == "application/geo+json"
    page = r.get_json()
    assert [f["id"] for f in page["features"]] == ["scene-b", "scene-c"]
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    rest = client.get(nxt.replace("http://127.0.0.1:8080", "")).get_json()
    assert [f["id"] for f in rest["features"]] == ["scene-a"] and not rest["links"]
    # datetime and filter, as STAC item search has them
    found = client.get("/catalog/scenes/items", query_string={"datetime": "2022-01-01/..", "filter": "sensor = 'A'"})
    assert [f["id"] for f in found.get_json()["features"]] == ["scene-c"]
    # the footprint decides, not the box: c's box covers this area, its valid pixels do not
    from ogcserver.model.geo import BBox, transform_bbox

    lonlat = transform_bbox(BBox(*OUTSIDE_C, "EPSG:32632"), "EPSG:4326")
    inside = client.get("/catalog/scenes/items", query_string={"bbox": ",".join(map(str, lonlat.as_tuple()))})
    assert {f["id"] for f in inside.get_json()["features"]} == {"scene-a", "scene-b"}
    item = client.get("/catalog/scenes/items/scene-b").get_json()
    assert item["properties"]["cloud"] == 50 and item["properties"]["datetime"] == "2022-05-01T00:00:00Z"
    alone = next(link["href"] for link in item["links"] if link["rel"] == "preview")
    img = rgba(client.get(alone.replace("http://127.0.0.1:8080", "")).data)
    assert set(np.unique(img[..., 0][img[..., 3] == 255])) == {20}
    download = client.get("/catalog/scenes/items/scene-b/download")
    assert download.status_code == 200
    assert download.data == (world[0] / "scenes" / "b.tif").read_bytes()
    assert client.get("/catalog/scenes/items/nope").status_code == 404
    assert client.get("/catalog/scenes/items", query_string={"bbox": "1,2,3"}).status_code == 400
    collection = client.get("/catalog/scenes").get_json()
    assert collection["summaries"]["item_count"] == 3
    assert collection["extent"]["temporal"]["interval"] == [["2021-05-01T00:00:00Z", "2023-05-01T00:00:00Z"]]


def test_stac_item_collection_ingests_from_metadata_alone(world, client, tmp_path):
    root, path = world
    features = []
    for name, (col, _v, date, cloud, _s) in SCENES.items():
        features.append({
            "type": "Feature", "stac_version": "1.0.0", "id": f"stac-{name}",
            "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                                "https://stac-extensions.github.io/raster/v1.1.0/schema.json"],
            "geometry": None if name == "c" else {"type": "Polygon", "coordinates": [[[9, 46.9], [9.05, 46.9], [9.05, 47], [9, 47], [9, 46.9]]]},
            "bbox": [9, 46.9, 9.05, 47],
            "properties": {"datetime": f"{date}T00:00:00Z", "eo:cloud_cover": cloud, "proj:epsg": 32632,
                           "proj:shape": [100, 100], "proj:transform": [RES, 0, X0 + col * RES, 0, -RES, Y0]},
            "assets": {"image": {"href": str(root / "scenes" / f"{name}.tif"), "type": "image/tiff; application=geotiff",
                                 "roles": ["data"], "raster:bands": [{"data_type": "uint8", "nodata": 0}] * 3}},
            "links": [],
        })
    stac = tmp_path / "items.json"
    stac.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    assert main(["catalog", "add", "stac", "--stac", str(stac), "-c", str(path)]) == 0
    store = catalog_store(load_settings(path))
    items = {i.key: i for i in store.items("stac")}
    assert set(items) == {"stac-a", "stac-b", "stac-c"}
    assert items["stac-a"].properties["eo:cloud_cover"] == 5
    assert items["stac-a"].footprint["coordinates"][0][0] == [9, 46.9]  # the item's geometry, not traced
    assert items["stac-c"].footprint is not None                       # no geometry given: traced from the file
    fresh = create_app(load_settings(path)).test_client()
    query = params(LAYERS="stac", CRS="EPSG:32632", BBOX=",".join(map(str, OVERLAP)), WIDTH=5, HEIGHT=5,
                   MOSAICORDER="by:eo:cloud_cover")
    img = rgba(fresh.get("/wms", query_string=query).data)
    assert (img[..., 0] == 10).all()


def test_cli_list_query_stats_and_remove(world, capsys, tmp_path):
    root, path = world
    capsys.readouterr()
    assert main(["catalog", "query", "scenes", "--filter", "cloud >= 20", "--sortby", "by:cloud", "-c", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [f["id"] for f in document["features"]] == ["scene-c", "scene-b"]
    assert main(["catalog", "stats", "scenes", "-c", str(path)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["items"] == 3 and stats["first"] == "2021-05-01T00:00:00Z"
    # a scratch collection to remove from, leaving the shared one alone
    assert main(["catalog", "add", "scratch", str(root / "scenes" / "*.tif"), "-c", str(path)]) == 0
    assert main(["catalog", "remove", "scratch", "--filter", "id <> 'a'", "-c", str(path)]) == 0
    assert main(["catalog", "list", "scratch", "-c", str(path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines[-1:]] == ["a"]
    assert main(["catalog", "query", "scenes", "--filter", "x = ", "-c", str(path)]) == 2
    assert main(["catalog", "drop", "scratch", "-c", str(path)]) == 0


def test_owslib_time_dimension_and_live_changes(world, tmp_path):
    """Against the real server: OWSLib reads the TIME dimension and asks for a time; items added
    and removed with the CLI while it runs show up, with the cached tiles under them replaced."""
    root, path = world
    extra = tmp_path / "late"
    data = np.full((3, 100, 100), 90, dtype=np.uint8)
    rasters.write(extra / "d.tif", data, rasters.from_origin(X0 + 25 * RES, Y0, RES, RES), nodata=0,
                  tags={"ACQUISITIONDATETIME": "2024-05-01T00:00:00Z"})
    with running_server(path) as url:
        wms = WebMapService(url + "/wms", version="1.3.0")
        layer = wms.contents["scenes"]
        assert layer.timepositions == ["2021-05-01T00:00:00Z", "2022-05-01T00:00:00Z", "2023-05-01T00:00:00Z"]
        image = wms.getmap(layers=["scenes"], srs="EPSG:32632", bbox=OVERLAP, size=(5, 5), format="image/png",
                           transparent=True, time="2022-05-01")
        assert (decode(image.read())[..., 0] == 20).all()
        from tests.support.tiles import tile_at

        z, (x, y) = 15, tile_at(15, 575, 275)
        tile_url = f"{url}/tiles/scenes/WebMercatorQuad/{z}/{x}/{y}.png"
        before = decode(requests.get(tile_url, timeout=30).content)
        assert 60 in set(np.unique(before[..., 0]))
        failures = []
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                r = requests.get(f"{url}/wms", params=params(LAYERS="scenes", CRS="EPSG:32632", WIDTH=64, HEIGHT=64,
                                                              BBOX=f"{X0},{Y0 - 1000},{X0 + 1500},{Y0}"), timeout=30)
                if r.status_code != 200:
                    failures.append(r.status_code)

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            assert main(["catalog", "add", "scenes", str(extra / "d.tif"), "-c", str(path)]) == 0
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not failures
        after = decode(requests.get(tile_url, timeout=30).content)
        assert 90 in set(np.unique(after[..., 0]))  # the tile under the new item was replaced
        assert main(["catalog", "remove", "scenes", "d", "-c", str(path)]) == 0
        again = decode(requests.get(tile_url, timeout=30).content)
        assert np.array_equal(again, before)
        items = requests.get(f"{url}/catalog/scenes/items", timeout=30).json()
        assert sorted(f["id"] for f in items["features"]) == ["scene-a", "scene-b", "scene-c"]


def test_kml_carries_the_selection_to_every_link(client):
    from lxml import etree

    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = client.get("/kml/scenes.kml", query_string={"FILTER": "sensor = 'B'"})
    assert root.status_code == 200
    href = etree.fromstring(root.data).xpath("//k:NetworkLink/k:Link/k:href/text()", namespaces=ns)[0]
    assert "FILTER=sensor" in href
    # a tile document: its overlay image is the filtered tile, its children keep the filter
    doc = etree.fromstring(client.get(href.replace("http://127.0.0.1:8080", "")).data)
    links = doc.xpath("//k:NetworkLink/k:Link/k:href/text()", namespaces=ns)
    icons = doc.xpath("//k:GroundOverlay/k:Icon/k:href/text()", namespaces=ns)
    assert icons and all("FILTER=sensor" in i for i in icons + links)
    picture = rgba(client.get(icons[0].replace("http://127.0.0.1:8080", "")).data)
    shown = set(np.unique(picture[..., 0][picture[..., 3] == 255]).tolist())
    assert shown == {20}  # the filtered scene only, and something of it
    bad = client.get("/kml/scenes.kml", query_string={"FILTER": "nonsense ((("})
    assert bad.status_code == 400


def test_stac_static_catalog_walks_its_children(world, tmp_path):
    """A static STAC catalog (pystac's layout, relative links) with a sub-collection."""
    import pystac

    root, path = world
    catalog = pystac.Catalog("demo", "scenes as a static catalog")
    sub = pystac.Collection("sub", "a sub-collection", pystac.Extent(
        pystac.SpatialExtent([[9, 46.9, 9.05, 47]]), pystac.TemporalExtent([[None, None]])))
    catalog.add_child(sub)
    for name in ("a", "b"):
        _c, _v, date, cloud, _s = SCENES[name]
        item = pystac.Item(f"cat-{name}", None, None, pystac.utils.str_to_datetime(f"{date}T00:00:00Z"),
                           {"eo:cloud_cover": cloud})
        item.add_asset("data", pystac.Asset(str(root / "scenes" / f"{name}.tif"), media_type=pystac.MediaType.GEOTIFF,
                                            roles=["data"]))
        (sub if name == "b" else catalog).add_item(item)
    catalog.normalize_hrefs(str(tmp_path / "stac"))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    assert main(["catalog", "add", "static", "--stac", str(tmp_path / "stac" / "catalog.json"), "-c", str(path)]) == 0
    items = {i.key: i for i in catalog_store(load_settings(path)).items("static")}
    assert set(items) == {"cat-a", "cat-b"}
    assert items["cat-b"].properties["eo:cloud_cover"] == 50 and items["cat-b"].footprint is not None  # traced
    assert items["cat-a"].acquired.year == 2021 and items["cat-a"].source.width == 100  # described from the file
