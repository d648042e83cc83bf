"""WMTS 1.0.0, XYZ and TileJSON, and the tile cache behind them."""

from __future__ import annotations

import concurrent.futures
import shutil

import morecantile
import numpy as np
import pytest
import rasterio
import requests
from owslib.wmts import WebMapTileService
from rasterio.windows import Window

from ogcserver.app import core_of, create_app
from ogcserver.core import tiling
from ogcserver.model.tiles import TileKey
from ogcserver.settings import load_settings
from ogcserver.storage.cache.directory import DirectoryStore
from tests.conftest import running_server, write_config
from tests.support import s3
from tests.support.reference import assert_equal_but_at_edges, decode, exact_nearest, params
from tests.support.schemas import assert_valid, schema

WMTS_NS = "http://www.opengis.net/wmts/1.0"


def layer_tile(client, layer, tms_id):
    """A tile (z, x, y) in the middle of the layer's data, at the first zoom as fine as the data."""
    info = core_of(client.application).engine.catalog.layer(layer).info
    tms = tiling.for_layer(info, tms_id)
    box = tiling_box(info, tms)
    cx, cy = (box.minx + box.maxx) / 2, (box.miny + box.maxy) / 2
    for z in range(tms.minzoom, tms.maxzoom + 1):
        x0, y0, _, _ = tms.tiles_over(type(box)(cx, cy, cx + 1e-9, cy + 1e-9, box.crs), z)
        size = tms.grid(z, x0, y0, x0, y0).pixel_size_in(info.crs)
        if size is not None and max(size) <= min(info.resolution) * 1.0001:
            return tms, z, x0, y0
    return tms, tms.maxzoom, x0, y0


def tiling_box(info, tms):
    from ogcserver.model.geo import transform_bbox

    return transform_bbox(info.bounds, tms.crs)


def test_capabilities_valid_and_parsed(client, ogc_schemas):
    r = client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
    assert r.status_code == 200
    assert_valid(schema(ogc_schemas, (WMTS_NS, "http://schemas.opengis.net/wmts/1.0/wmts.xsd")), r.data)
    rest = client.get("/wmts/1.0.0/WMTSCapabilities.xml")
    assert rest.status_code == 200 and rest.data == r.data


def test_owslib_reads_and_fetches(live_server):
    wmts = WebMapTileService(live_server + "/wmts")
    assert {"WebMercatorQuad", "WorldCRS84Quad", "mosaic_native"} <= set(wmts.tilematrixsets)
    assert "mosaic" in wmts.contents
    tile = wmts.gettile(layer="mosaic", tilematrixset="WebMercatorQuad", tilematrix="15", row=11500, column=16791,
                        format="image/png")
    assert tile.info()["Content-Type"] == "image/png"
    template = wmts.contents["mosaic"].resourceURLs[0]["template"]
    # the mosaic's items carry acquisition dates: a TIME dimension, with "current" (every item) by default
    assert template.startswith(live_server + "/wmts/1.0.0/mosaic/{Style}/{Time}/{TileMatrixSet}/")
    time = wmts.contents["mosaic"].dimensions["Time"]
    assert time["default"] == "current" and time["values"]
    url = template.format(Style="default", Time="current", TileMatrixSet="WebMercatorQuad", TileMatrix=15,
                          TileRow=11500, TileCol=16791)
    assert requests.get(url, timeout=10).headers["Content-Type"] == "image/png"


@pytest.mark.parametrize("tms_id", ["WebMercatorQuad", "WorldCRS84Quad", "mosaic_native"])
def test_tile_equals_getmap_of_its_bounds(client, data_dir, tms_id):
    tms, z, x, y = layer_tile(client, "mosaic", tms_id)
    box = tms.tile_bbox(z, x, y)
    crs = "CRS:84" if tms_id == "WorldCRS84Quad" else ("EPSG:3857" if tms_id == "WebMercatorQuad" else "EPSG:32632")
    wms = client.get("/wms", query_string=params(LAYERS="mosaic", CRS=crs, BBOX=",".join(map(repr, box.as_tuple())),
                                                 WIDTH=256, HEIGHT=256, TRANSPARENT="TRUE"))
    urls = [
        f"/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=mosaic&STYLE=default&TILEMATRIXSET={tms_id}"
        f"&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&FORMAT=image/png",
        f"/wmts/1.0.0/mosaic/default/{tms_id}/{z}/{y}/{x}.png",
        f"/tiles/mosaic/{tms_id}/{z}/{x}/{y}.png",
    ]
    expected = decode(wms.data)
    internal = "EPSG:4326" if crs == "CRS:84" else crs
    ref, valid, edge = exact_nearest(data_dir / "parent" / "parent.tif", box.as_tuple(), internal, (256, 256),
                                     with_edges=True)
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, r.data[:300]
        got = decode(r.data)
        # The metatile is warped as one window and the map as another: with the warper's 1e-3
        # pixel transform error, a pixel centre that close to a source pixel edge may go either
        # way. Everywhere else the tile is the map, and both are the exact warp of the source.
        differ = (got != expected).any(axis=2)
        assert differ.mean() < 0.001
        assert not (differ & (edge > 0.01)).any()
        assert_equal_but_at_edges(np.moveaxis(got[..., :3], 2, 0)[:, valid], ref[:, valid], edge[valid][None],
                                  0.01)


@pytest.fixture()
def fresh_client(data_dir, tmp_path):
    """The test configuration with a state folder of its own: a tile cache no other test filled."""
    return create_app(load_settings(write_config(data_dir, tmp_path / "ogcserver.yaml"))).test_client()


def test_cache_hits_metatiles_and_http_caching(fresh_client):
    client = fresh_client
    tms, z, x, y = layer_tile(client, "parent", "WebMercatorQuad")
    first = client.get(f"/tiles/parent/WebMercatorQuad/{z}/{x}/{y}.png")
    assert first.headers["X-Cache"] == "MISS"
    again = client.get(f"/tiles/parent/WebMercatorQuad/{z}/{x}/{y}.png")
    assert again.headers["X-Cache"] == "HIT" and again.data == first.data
    n = 4
    neighbour_x = (x // n) * n + ((x + 1) % n)
    neighbour = client.get(f"/tiles/parent/WebMercatorQuad/{z}/{neighbour_x}/{y}.png")
    assert neighbour.headers["X-Cache"] == "HIT"  # rendered with the first tile's metatile
    etag = again.headers["ETag"]
    assert "max-age=" in again.headers["Cache-Control"] and again.headers["Last-Modified"]
    not_modified = client.get(f"/tiles/parent/WebMercatorQuad/{z}/{x}/{y}.png", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    since = client.get(f"/tiles/parent/WebMercatorQuad/{z}/{x}/{y}.png",
                       headers={"If-Modified-Since": again.headers["Last-Modified"]})
    assert since.status_code == 304


def test_empty_tiles_are_cheap_and_stored_once(fresh_client):
    # far away from any data: no render at all, a transparent tile
    r = fresh_client.get("/tiles/mosaic/WebMercatorQuad/10/0/0.png")
    assert r.status_code == 200 and (decode(r.data)[..., 3] == 0).all()
    assert r.headers["X-Cache"] == "MISS" and len(r.data) < 1000  # small: empty tiles are common


def test_changed_source_is_never_served_stale(data_dir, tmp_path):
    folder = tmp_path / "tiles"
    shutil.copytree(data_dir / "tiles", folder)
    config = write_config(data_dir, tmp_path / "c.yaml")
    config.write_text(config.read_text().replace(str(data_dir / "tiles"), str(folder)))
    client = create_app(load_settings(config)).test_client()
    from tests.support.tiles import tile_at

    z = 16
    x, y = tile_at(z)  # inside both the old and the new data
    url = f"/tiles/mosaic/WebMercatorQuad/{z}/{x}/{y}.png"
    before = client.get(url).data
    assert client.get(url).headers["X-Cache"] == "HIT"
    for path in folder.glob("*.tif"):
        path.unlink()
    shutil.copy(data_dir / "order" / "old.tif", folder / "only.tif")  # different content
    after = client.get(url)
    assert after.headers["X-Cache"] == "MISS" and after.data != before


@pytest.mark.parametrize("change", ["template", "resampling"])
def test_changed_config_is_never_served_stale(data_dir, tmp_path, change):
    """Tiles are keyed by everything that decides their pixels: a style's processing chain and
    the rendering settings, not just the layer's own entry; the first settings' tiles stay put."""
    import yaml

    config = write_config(data_dir, tmp_path / "c.yaml")
    from tests.support.tiles import tile_at

    x, y = tile_at(15)
    url = f"/wmts/1.0.0/dem/{'shade' if change == 'template' else 'default'}/WebMercatorQuad/15/{y}/{x}.png"
    first = create_app(load_settings(config)).test_client()
    before = first.get(url)
    assert before.status_code == 200 and first.get(url).headers["X-Cache"] == "HIT"
    doc = yaml.safe_load(config.read_text())
    if change == "template":
        doc["processing"][0]["chain"] = [{"function": "hillshade", "azimuth": 45}]
    else:
        doc.setdefault("rendering", {})["default_resampling"] = "bilinear"
    config.write_text(yaml.safe_dump(doc))
    second = create_app(load_settings(config)).test_client()
    after = second.get(url)
    assert after.headers["X-Cache"] == "MISS" and after.data != before.data
    assert second.get(url).headers["X-Cache"] == "HIT"


@pytest.mark.parametrize("url, code, status", [
    ("/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=mosaic&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILEROW=0&TILECOL=99&FORMAT=image/png", "TileOutOfRange", 400),
    ("/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=mosaic&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=40&TILEROW=0&TILECOL=0&FORMAT=image/png", "TileOutOfRange", 400),
    ("/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=nope&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILEROW=0&TILECOL=0&FORMAT=image/png", "InvalidParameterValue", 400),
    ("/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=mosaic&TILEMATRIXSET=Nope&TILEMATRIX=3&TILEROW=0&TILECOL=0&FORMAT=image/png", "InvalidParameterValue", 400),
    ("/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=mosaic&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILEROW=0&TILECOL=0&FORMAT=image/gif", "InvalidParameterValue", 400),
    ("/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=mosaic&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILEROW=-1&TILECOL=0&FORMAT=image/png", "InvalidParameterValue", 400),
    ("/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=mosaic&TILEMATRIXSET=WebMercatorQuad", "MissingParameterValue", 400),
    ("/wmts?SERVICE=WMTS&REQUEST=Nope", "OperationNotSupported", 501),
    ("/wmts/1.0.0/mosaic/default/WebMercatorQuad/3/0/0%00.png", "InvalidParameterValue", 400),
    ("/wmts/1.0.0/mosaic/default/..%2f..%2fetc/3/0/0.png", "InvalidParameterValue", 400),
    ("/tiles/mosaic/WebMercatorQuad/3/999/0.png", "TileOutOfRange", 400),
    ("/tiles/mosaic/WebMercatorQuad/3/x/0.png", "InvalidParameterValue", 400),
])
def test_bad_tile_requests(client, url, code, status):
    r = client.get(url)
    assert r.status_code == status, r.data[:300]
    assert f'exceptionCode="{code}"'.encode() in r.data and b"Traceback" not in r.data


def test_tilejson(client):
    doc = client.get("/tiles/mosaic/WebMercatorQuad/tilejson.json").get_json()
    assert doc["tilejson"] == "3.0.0" and doc["tiles"][0].endswith("/tiles/mosaic/WebMercatorQuad/{z}/{x}/{y}.png")
    assert 8 < doc["bounds"][0] < 10 and doc["maxzoom"] >= 13
    assert client.get("/tiles/nope/WebMercatorQuad/tilejson.json").status_code == 404


def test_feature_info_on_a_tile(client):
    tms, z, x, y = layer_tile(client, "dem", "dem_native")
    r = client.get(f"/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo&LAYER=dem&TILEMATRIXSET=dem_native&TILEMATRIX={z}"
                   f"&TILEROW={y}&TILECOL={x}&FORMAT=image/png&INFOFORMAT=application/json&I=10&J=10")
    assert r.status_code == 200 and r.get_json()["layers"][0]["layer"] == "dem"
    rest = client.get(f"/wmts/1.0.0/dem/default/dem_native/{z}/{y}/{x}/10/10.json")
    assert rest.get_json() == r.get_json()


def test_store_writes_are_atomic(tmp_path):
    store = DirectoryStore(tmp_path)
    key = TileKey("l", "default", "WebMercatorQuad", "v1", 3, 1, 2, "png")

    class Boom(Exception):
        pass

    class Exploding(bytes):
        pass

    import os

    real_fdopen = os.fdopen

    def failing_fdopen(fd, mode):
        f = real_fdopen(fd, mode)
        f.write(b"partial")
        f.close()
        raise Boom()

    os.fdopen = failing_fdopen
    try:
        with pytest.raises(Boom):
            store.put(key, b"x" * 1000)
    finally:
        os.fdopen = real_fdopen
    assert store.get(key) is None and not list(tmp_path.rglob(".tmp-*"))
    store.put(key, b"tile")
    assert store.get(key).body == b"tile"
    assert (tmp_path / "l" / "default" / "WebMercatorQuad" / "current").resolve().name == "v1"


def cache_in(store: str, config, request):
    """The configuration with its tile cache in the given store (``s3``: a fresh bucket of the
    tests' local S3 server)."""
    if store == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        s3.use_s3_cache(config, endpoint, s3.new_bucket(endpoint, "wmts"))
    return config


@pytest.mark.parametrize("store", ["directory", "s3"])
def test_one_render_per_metatile_across_processes(data_dir, tmp_path, store, request):
    config = cache_in(store, write_config(data_dir, tmp_path / "c.yaml"), request)
    with running_server(config, workers=2) as url:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            urls = [f"{url}/tiles/parent/parent_native/2/{x}/{y}.png" for x in range(4) for y in range(4)] * 2
            codes = list(pool.map(lambda u: requests.get(u, timeout=30).status_code, urls))
    assert set(codes) == {200}
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert log.count("metatile rendered") == 1


def test_short_path_for_hits_answers_like_the_full_path(client):
    from tests.support.tiles import tile_at

    x, y = tile_at(16)
    url = f"/tiles/parent/WebMercatorQuad/16/{x}/{y}.png"
    client.get(url)  # fill
    fast = client.get(url)  # an anonymous unconditional hit: the short path
    full = client.get(url, headers={"If-None-Match": '"something-else"'})  # conditional: the Flask path
    assert fast.status_code == full.status_code == 200 and fast.data == full.data
    for header in ("Content-Type", "ETag", "Cache-Control", "Last-Modified", "X-Cache"):
        assert fast.headers[header] == full.headers[header], header
    assert client.get(url, headers={"If-None-Match": fast.headers["ETag"]}).status_code == 304
    metrics = client.get("/metrics").data.decode()
    assert 'request="TILE",service="WMTS",status="200"' in metrics



def short_path_hits(client) -> float:
    """Tiles the short path answered so far (it counts them as WMTS TILE, the full path as REST)."""
    text = client.get("/metrics").data.decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("ogcserver_requests_total") and 'request="TILE",service="WMTS",status="200"' in line)


def test_short_path_reads_every_tile_form_of_the_grammar_like_the_full_path(client):
    """XYZ, RESTful, service-scoped and dated RESTful hits all take the short path and answer
    exactly as the full path does; a date in the path selects the items (old.tif: 100) and is
    never answered with the default mosaic (new.tif on top: 200)."""
    from tests.support.tiles import tile_at

    x, y = tile_at(17, 1500, 1500)  # where old.tif and new.tif overlap
    forms = {
        f"/tiles/newest/WebMercatorQuad/17/{x}/{y}.png": 200,
        f"/wmts/1.0.0/newest/default/WebMercatorQuad/17/{y}/{x}.png": 200,
        f"/services/ordered/wmts/1.0.0/newest/default/WebMercatorQuad/17/{y}/{x}.png": 200,
        f"/wmts/1.0.0/newest/default/2020-01-01T00:00:00Z/WebMercatorQuad/17/{y}/{x}.png": 100,
    }
    for url, value in forms.items():
        assert client.get(url).status_code == 200  # fill
        before = short_path_hits(client)
        fast = client.get(url)
        assert short_path_hits(client) == before + 1, url
        full = client.get(url, headers={"If-None-Match": '"something-else"'})  # conditional: the Flask path
        assert fast.status_code == full.status_code == 200 and fast.data == full.data, url
        for header in ("Content-Type", "ETag", "Cache-Control", "Last-Modified", "X-Cache"):
            assert fast.headers[header] == full.headers[header], (url, header)
        pixels = decode(fast.data)
        valid = pixels[..., 3] > 0 if pixels.shape[2] == 4 else np.ones(pixels.shape[:2], dtype=bool)
        assert valid.any() and (pixels[..., :3][valid] == value).all(), url

@pytest.mark.parametrize("store", ["directory", "s3"])
def test_updating_a_source_invalidates_exactly_its_tiles(data_dir, tmp_path, store, request):
    """Two rasters far apart: rewriting one drops its tiles and keeps the other's."""
    from rasterio.transform import from_origin

    from tests.support import rasters
    from tests.support.tiles import tile_at

    folder = tmp_path / "two"
    x0, y0 = rasters.ORIGIN
    rasters.write(folder / "west.tif", rasters.texture((100, 100), 3, seed=21), from_origin(x0, y0, 10, 10))
    east = folder / "east.tif"
    rasters.write(east, rasters.texture((100, 100), 3, seed=22), from_origin(x0 + 20000, y0, 10, 10))
    config = write_config(data_dir, tmp_path / "c.yaml")
    config.write_text(config.read_text().replace(str(data_dir / "tiles"), str(folder)))
    cache_in(store, config, request)
    first = create_app(load_settings(config)).test_client()
    other = create_app(load_settings(config)).test_client()  # a second worker sharing index and cache
    west_url = "/tiles/mosaic/WebMercatorQuad/16/{}/{}.png".format(*tile_at(16, 300, 300))
    east_url = "/tiles/mosaic/WebMercatorQuad/16/{}/{}.png".format(*tile_at(16, 20300, 300))
    old_east = first.get(east_url).data
    first.get(west_url)
    assert first.get(west_url).headers["X-Cache"] == first.get(east_url).headers["X-Cache"] == "HIT"
    rasters.write(east, rasters.texture((100, 100), 3, seed=23), from_origin(x0 + 20000, y0, 10, 10))
    fresh = first.get(east_url)
    assert fresh.headers["X-Cache"] == "MISS" and fresh.data != old_east  # its tiles were dropped
    assert first.get(west_url).headers["X-Cache"] == "HIT"  # the other raster's tiles were kept
    assert other.get(east_url).data == fresh.data  # the other worker serves the new tile too
    # a raster added while serving: the other worker's layer description follows the index
    rasters.write(folder / "north.tif", rasters.texture((50, 50), 3, seed=24), from_origin(x0, y0 + 20000, 10, 10))
    first.get(west_url)
    info = core_of(other.application).engine.catalog.layer("mosaic").info
    assert info.item_count == 3


def test_footprints_as_vector_tiles(client):
    import mapbox_vector_tile

    from tests.support.tiles import tile_at

    x, y = tile_at(14, 3000, 2500)  # over the four-way overlap of the mosaic's tiles
    r = client.get(f"/tiles/mosaic/WebMercatorQuad/14/{x}/{y}.mvt")
    assert r.status_code == 200 and r.mimetype == "application/vnd.mapbox-vector-tile"
    layer = mapbox_vector_tile.decode(r.data)["mosaic_footprints"]
    names = [f["properties"]["item"] for f in layer["features"]]
    assert sorted(names) == ["tile_0.tif", "tile_1.tif", "tile_2.tif", "tile_3.tif"]
    assert layer["features"][0]["geometry"]["type"] == "Polygon"
    acquired = {f["properties"]["item"]: f["properties"]["acquired"] for f in layer["features"]}
    assert acquired["tile_3.tif"].startswith("2024-05-01")
    far = client.get("/tiles/mosaic/WebMercatorQuad/14/0/0.mvt")
    assert far.status_code == 200 and not mapbox_vector_tile.decode(far.data)["mosaic_footprints"]["features"]
    assert client.get("/tiles/nope/WebMercatorQuad/14/0/0.mvt").status_code == 400


def test_disk_quota_evicts_least_recently_used(tmp_path):
    import os
    import time

    store = DirectoryStore(tmp_path)
    keys = [TileKey("l", "default", "WebMercatorQuad", "v", 5, x, 0, "png") for x in range(10)]
    for key in keys:
        store.put(key, b"x" * 10_000)
        time.sleep(0.01)
    base = time.time_ns()
    for i, key in enumerate(keys):  # explicit access times: tile 0 most recently used, tile 9 least
        os.utime(store.path(key), ns=(base - i * 10**9, os.stat(store.path(key)).st_mtime_ns))
    evicted = store.enforce_quota(60_000)
    assert evicted == 5  # down to 90% of the quota: 5 tiles of 10 kB stay
    survivors = [k.x for k in keys if store.path(k).exists()]
    assert survivors == [0, 1, 2, 3, 4]
    store.get(keys[4])  # a read makes a tile recently used
    assert store.enforce_quota(40_000) == 2 and store.path(keys[4]).exists() and not store.path(keys[3]).exists()


def test_uncached_layer_answers_an_all_nodata_tile_with_an_empty_image(data_dir, tmp_path):
    """A tile over data that is all nodata (the DEM's hole) on a layer with the cache off."""
    from tests.support.tiles import tile_at

    config = write_config(data_dir, tmp_path / "c.yaml")
    config.write_text(config.read_text().replace("    name: dem\n", "    name: dem\n    cache: false\n"))
    client = create_app(load_settings(config)).test_client()
    x, y = tile_at(18, 1250, 1250)  # inside the DEM's nodata square (rows/cols 100-150)
    r = client.get(f"/tiles/dem/WebMercatorQuad/18/{x}/{y}.png")
    assert r.status_code == 200 and len(r.data) > 64
    assert (decode(r.data)[..., 3] == 0).all()


def test_gdal_wmts_driver_reads_the_layer(live_server, data_dir):
    """GDAL's WMTS driver (as gdal_translate and QGIS use it) builds the layer from the capabilities
    and reads it tile by tile, at the zoom TileJSON names as the layer's finest: its grid is that
    matrix of WebMercatorQuad and its pixels are the exact warp of the source."""
    maxzoom = requests.get(f"{live_server}/tiles/parent/WebMercatorQuad/tilejson.json", timeout=10).json()["maxzoom"]
    url = (f"WMTS:{live_server}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities,layer=parent,"
           f"tilematrixset=WebMercatorQuad,zoom_level={maxzoom}")
    with rasterio.Env(GDAL_ENABLE_WMS_CACHE="NO"):
        with rasterio.open(url) as ds:
            assert ds.crs.to_epsg() == 3857 and ds.count == 4  # RGB and alpha
            size = morecantile.tms.get("WebMercatorQuad").matrix(maxzoom).cellSize
            assert ds.res == pytest.approx((size, size))
            window = Window(ds.width // 2 - 150, ds.height // 2 - 100, 300, 200)  # across tile edges
            got = ds.read((1, 2, 3), window=window)
            bounds = ds.window_bounds(window)
    ref, valid, edge = exact_nearest(data_dir / "parent" / "parent.tif", bounds, "EPSG:3857", (300, 200),
                                     with_edges=True)
    assert valid.all()
    assert_equal_but_at_edges(got, ref, edge[None], 0.01)
