"""Two hosting servers sharing one PostGIS catalog and one tile cache in a bucket: a change made
on one machine drops exactly the changed tiles for both.

Processes stand in for machines: two ``ogcserver serve`` on different ports, each with a data
folder of its own, the catalog in a throwaway PostGIS cluster, sources and tiles in a local S3
server (moto). The item is changed with ``ogcserver catalog add`` run with node A's
configuration; node B's next request notices the catalog's new generation and drops the tiles.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
import yaml
from rasterio.transform import from_origin

from ogcserver.cli import main
from ogcserver.core import tiling
from ogcserver.model.geo import BBox, transform_bbox
from tests.conftest import serving
from tests.support import rasters, s3
from tests.support.postgres import SKIP_REASON
from tests.support.tiles import tile_at

Z = 16
EAST_DX = 20_000


def _node(folder: Path, dsn: str, endpoint: str, sources: str, tiles: str, collection: str) -> Path:
    config = folder / "ogcserver.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "catalog": {"backend": "postgis", "dsn": dsn},
        "storage": s3.storage_section(endpoint, [sources]),
        "cache": {"store": "s3", "bucket": tiles, "prefix": "tiles/"},
        "services": [{"name": "shared", "layers": [{"name": "scenes", "collection": collection}]}],
    }))
    return config


def _over(key: str, span: tuple[int, int, int, int]) -> bool:
    *_, x, y = key.removesuffix(".png").split("/")
    return span[0] <= int(x) <= span[2] and span[1] <= int(y) <= span[3]


def _tile_keys(endpoint: str, bucket: str) -> set[str]:
    return {k for k in s3.keys(endpoint, bucket, "tiles/") if k.endswith(".png")}


def test_a_change_through_node_a_drops_exactly_its_tiles_for_node_b(tmp_path, postgis_dsn, s3_endpoint):
    if postgis_dsn is None:
        pytest.skip(SKIP_REASON)
    sources, tiles = s3.new_bucket(s3_endpoint, "scenes"), s3.new_bucket(s3_endpoint, "shared-tiles")
    collection = f"scenes_{os.getpid()}"
    x0, y0 = rasters.ORIGIN
    west = rasters.write(tmp_path / "west.tif", rasters.texture((100, 100), 3, seed=31), from_origin(x0, y0, 10, 10))
    east_origin = from_origin(x0 + EAST_DX, y0, 10, 10)
    east = rasters.write(tmp_path / "east.tif", rasters.texture((100, 100), 3, seed=32), east_origin)
    urls = [s3.upload(s3_endpoint, sources, path) for path in (west, east)]
    node_a = _node(tmp_path / "a", postgis_dsn, s3_endpoint, sources, tiles, collection)
    node_b = _node(tmp_path / "b", postgis_dsn, s3_endpoint, sources, tiles, collection)
    assert main(["catalog", "add", collection, *urls, "-c", str(node_a)]) == 0

    tms = tiling.well_known("WebMercatorQuad")
    east_span = tms.tiles_over(transform_bbox(BBox(x0 + EAST_DX, y0 - 1000, x0 + EAST_DX + 1000, y0, rasters.UTM),
                                              tms.crs), Z)
    west_tile = "/tiles/scenes/WebMercatorQuad/{}/{}/{}.png".format(Z, *tile_at(Z, 300, 300))
    east_tile = "/tiles/scenes/WebMercatorQuad/{}/{}/{}.png".format(Z, *tile_at(Z, EAST_DX + 300, 300))
    with serving(["-c", str(node_a)], node_a.parent, 1) as (a, _log_a), \
            serving(["-c", str(node_b)], node_b.parent, 1) as (b, log_b):
        first = {url: requests.get(a + url, timeout=60) for url in (west_tile, east_tile)}
        assert all(r.status_code == 200 and r.headers["X-Cache"] == "MISS" for r in first.values())
        for url, answer in first.items():  # one cache: what node A rendered, node B serves
            again = requests.get(b + url, timeout=60)
            assert again.headers["X-Cache"] == "HIT" and again.content == answer.content
        before = _tile_keys(s3_endpoint, tiles)
        east_keys = {k for k in before if _over(k, east_span)}  # the metatile's tiles over the item
        assert 0 < len(east_keys) < 16 and len(before) == 32  # two metatiles of 4 x 4 were stored

        rasters.write(east, rasters.texture((100, 100), 3, seed=33), east_origin)
        s3.upload(s3_endpoint, sources, east)
        assert main(["catalog", "add", collection, urls[1], "-c", str(node_a)]) == 0

        west_again = requests.get(b + west_tile, timeout=60)  # node B's first request since the change
        after = _tile_keys(s3_endpoint, tiles)
        assert before - after == east_keys  # exactly the changed item's tiles were dropped
        assert west_again.headers["X-Cache"] == "HIT"
        fresh = requests.get(b + east_tile, timeout=60)
        assert fresh.headers["X-Cache"] == "MISS" and fresh.content != first[east_tile].content
        from_a = requests.get(a + east_tile, timeout=60)
        assert from_a.headers["X-Cache"] == "HIT" and from_a.content == fresh.content
    invalidated = [yaml.safe_load(line) for line in log_b.read_text().splitlines() if "tiles invalidated" in line]
    assert [entry.get("tiles") for entry in invalidated] == [len(east_keys)]


def test_each_machines_own_folder_cache_drops_the_changed_tiles(tmp_path):
    """Nodes sharing a catalog but each with a tile folder of its own: every one of those caches
    is told of a change, not just the first to notice it."""
    from ogcserver.app import create_app
    from ogcserver.settings import load_settings

    x0, y0 = rasters.ORIGIN
    east = rasters.write(tmp_path / "east.tif", rasters.texture((100, 100), 3, seed=41), from_origin(x0, y0, 10, 10))
    nodes = []
    for name in ("a", "b"):
        config = tmp_path / name / "ogcserver.yaml"
        config.parent.mkdir()
        config.write_text(yaml.safe_dump({
            "server": {"data_dir": str(tmp_path / name / "state"), "index_refresh_seconds": 0},
            "catalog": {"path": str(tmp_path / "shared.sqlite")},
            "services": [{"name": "shared", "layers": [{"name": "scenes", "collection": "scenes"}]}],
        }))
        nodes.append(config)
    assert main(["catalog", "add", "scenes", str(east), "-c", str(nodes[0])]) == 0
    a, b = (create_app(load_settings(config)).test_client() for config in nodes)
    url = "/tiles/scenes/WebMercatorQuad/{}/{}/{}.png".format(Z, *tile_at(Z, 300, 300))
    old = a.get(url).data
    assert b.get(url).data == old and b.get(url).headers["X-Cache"] == "HIT"
    rasters.write(east, rasters.texture((100, 100), 3, seed=42), from_origin(x0, y0, 10, 10))
    assert main(["catalog", "add", "scenes", str(east), "-c", str(nodes[0])]) == 0
    fresh = a.get(url)
    assert fresh.headers["X-Cache"] == "MISS" and fresh.data != old
    from_b = b.get(url)
    assert from_b.headers["X-Cache"] == "MISS" and from_b.data == fresh.data
