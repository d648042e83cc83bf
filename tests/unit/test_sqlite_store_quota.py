"""Disk quota of the MBTiles and GeoPackage stores: least recently used tiles go, the files stay valid."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.windows import Window

from ogcserver.app import core_of, create_app
from ogcserver.model.tiles import TileKey
from ogcserver.settings import load_settings
from ogcserver.storage.cache.sqlite_stores import MatrixInfo, SqliteTileStore
from tests.conftest import write_config
from tests.support.tiles import tile_at

EDGE = 20037508.342789244  # WebMercatorQuad half-width, metres
KINDS = [("mbtiles", "mbtiles"), ("geopackage", "gpkg")]


def web_mercator(_tms: str, z: int) -> MatrixInfo:
    n = 2**z
    pixel = 2 * EDGE / (256 * n)
    return MatrixInfo(n, n, 256, 256, pixel, pixel, (-EDGE, -EDGE, EDGE, EDGE), 3857)


def noise_png(seed: int, rows: int = 40) -> bytes:
    """A 256 x 256 PNG of about 30 kB: random (incompressible) rows, then black."""
    pixels = np.zeros((256, 256, 3), dtype=np.uint8)
    pixels[:rows] = np.random.default_rng(seed).integers(0, 256, (rows, 256, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def held(path: Path) -> int:
    """Bytes of the pages the file uses (pages on the freelist are free)."""
    with contextlib.closing(sqlite3.connect(path)) as con:
        pages, free, size = (con.execute(f"PRAGMA {name}").fetchone()[0]
                             for name in ("page_count", "freelist_count", "page_size"))
    return (pages - free) * size


def file_of(store: SqliteTileStore, key: TileKey) -> Path:
    return store.root / key.layer / key.style / key.tms / f"{key.version}.{store.ext}"


def address(store: SqliteTileStore, key: TileKey) -> tuple[int, int, int]:
    """(zoom_level, tile_column, tile_row) of a tile: MBTiles rows count from the bottom."""
    return key.z, key.x, 2**key.z - 1 - key.y if store.kind == "mbtiles" else key.y


def set_access(store: SqliteTileStore, key: TileKey, when: float) -> None:
    with contextlib.closing(sqlite3.connect(file_of(store, key), isolation_level=None)) as con:
        con.execute("UPDATE ogcserver_access SET accessed = ? WHERE zoom_level = ? AND tile_column = ? "
                    "AND tile_row = ?", (when, *address(store, key)))


def access(store: SqliteTileStore, key: TileKey) -> float:
    with contextlib.closing(sqlite3.connect(file_of(store, key))) as con:
        return con.execute("SELECT accessed FROM ogcserver_access WHERE zoom_level = ? AND tile_column = ? "
                           "AND tile_row = ?", address(store, key)).fetchone()[0]


def files(store: SqliteTileStore) -> list[Path]:
    return sorted(store.root.rglob(f"*.{store.ext}"))


def filled(tmp_path: Path, kind: str) -> tuple[SqliteTileStore, list[TileKey], dict[TileKey, bytes]]:
    """Ten tiles over two files (layers a and b, alternating), tile i last used at an old time + i."""
    store = SqliteTileStore(tmp_path, kind, web_mercator)
    keys = [TileKey("ab"[i % 2], "default", "WebMercatorQuad", "v1", 8, 130 + i, 90 + i % 3, "png") for i in range(10)]
    bodies = {key: noise_png(i) for i, key in enumerate(keys)}
    for key, body in bodies.items():
        store.put(key, body)
    old = time.time() - 100_000
    for i, key in enumerate(keys):
        set_access(store, key, old + i)
    return store, keys, bodies


@pytest.mark.parametrize("kind, ext", KINDS)
def test_quota_evicts_exactly_the_least_recently_used_tiles(tmp_path, kind, ext):
    store, keys, bodies = filled(tmp_path, kind)
    assert len(files(store)) == 2
    for key in keys[:2]:  # reads make the two oldest tiles the most recently used
        assert store.get(key).body == bodies[key]
    tile = sum(map(len, bodies.values())) / len(bodies)
    before = sum(map(held, files(store)))
    quota = int((before - 4.5 * tile) / 0.9)  # down to 90%: 4 tiles free too little, 5 are enough
    assert quota < before

    assert store.enforce_quota(quota) == 5
    gone = {key for key in keys if store.get(key) is None}
    assert gone == set(keys[2:7])  # least recently used first, over both files
    for key in keys[7:] + keys[:2]:
        assert store.get(key).body == bodies[key]
    assert sum(map(held, files(store))) <= 0.9 * quota
    for path in files(store):
        with contextlib.closing(sqlite3.connect(path)) as con:
            assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental: the file shrinks
            assert con.execute("PRAGMA freelist_count").fetchone()[0] == 0
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for table in ("tile_times", "ogcserver_access"):  # no bookkeeping left of evicted tiles
                assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == \
                    con.execute("SELECT count(*) FROM tiles").fetchone()[0]


def bookkeeping(store: SqliteTileStore) -> dict[str, int]:
    """Rows per table over all files: the bookkeeping tables must hold exactly the tiles' rows."""
    counts: dict[str, int] = {}
    for path in files(store):
        with contextlib.closing(sqlite3.connect(path)) as con:
            for table in ("tiles", "tile_times", "ogcserver_access"):
                counts[table] = counts.get(table, 0) + con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return counts


@pytest.mark.parametrize("kind, ext", KINDS)
def test_truncation_removes_the_bookkeeping_of_the_tiles_it_deletes(tmp_path, kind, ext):
    store, keys, _bodies = filled(tmp_path, kind)
    assert store.delete(keys[0]) and not store.delete(keys[0])
    a = [key for key in keys if key.layer == "a"]
    span = (min(k.x for k in a[1:3]), min(k.y for k in a[1:3]), max(k.x for k in a[1:3]), max(k.y for k in a[1:3]))
    assert store.delete_area("a", "default", "WebMercatorQuad", "v1", 8, span) == 2
    assert bookkeeping(store) == dict.fromkeys(("tiles", "tile_times", "ogcserver_access"), 7)
    assert store.delete_zoom("b", "WebMercatorQuad", 8) == 5
    assert bookkeeping(store) == dict.fromkeys(("tiles", "tile_times", "ogcserver_access"), 2)
    assert {key for key in keys if store.get(key) is not None} == set(a[3:])


@pytest.mark.parametrize("kind, ext", KINDS)
def test_files_stay_readable_by_gdal_after_eviction(tmp_path, kind, ext):
    store, keys, bodies = filled(tmp_path, kind)
    store.enforce_quota(int(sum(map(held, files(store))) * 0.8))
    survivors = [key for key in keys if store.get(key) is not None]
    assert 0 < len(survivors) < len(keys)
    for key in survivors:
        size = 2 * EDGE / 2**key.z
        with rasterio.open(file_of(store, key)) as ds:
            row, col = ds.index(-EDGE + key.x * size + 1, EDGE - key.y * size - 1)
            pixels = ds.read((1, 2, 3), window=Window(col, row, 256, 256))
        expected = np.asarray(Image.open(io.BytesIO(bodies[key]))).transpose(2, 0, 1)
        np.testing.assert_array_equal(pixels, expected)


@pytest.mark.parametrize("kind, ext", KINDS)
def test_under_the_quota_nothing_is_evicted(tmp_path, kind, ext):
    store, keys, bodies = filled(tmp_path, kind)
    before = sum(map(held, files(store)))
    assert store.enforce_quota(before) == 0  # at the quota (not over it), even above 90%
    assert all(store.get(key).body == bodies[key] for key in keys)
    assert SqliteTileStore(tmp_path / "none", kind, web_mercator).enforce_quota(1) == 0  # no files at all


@pytest.mark.parametrize("kind, ext", KINDS)
def test_reads_record_the_access_at_most_once_per_period(tmp_path, kind, ext):
    store, keys, _bodies = filled(tmp_path, kind)
    recent = time.time() - 100
    set_access(store, keys[0], recent)
    store.get(keys[0])
    assert access(store, keys[0]) == recent  # read within 600 s: no write
    stale = time.time() - 700
    set_access(store, keys[0], stale)
    store.get(keys[0])
    assert access(store, keys[0]) > time.time() - 10


def test_small_tiles_are_not_evicted_far_beyond_the_quota(tmp_path):
    """Rows of a few hundred bytes (empty tiles) hold about twice their size in pages."""
    store = SqliteTileStore(tmp_path, "mbtiles", web_mercator)
    keys = [TileKey("l", "default", "WebMercatorQuad", "v1", 10, x, y, "png") for x in range(40) for y in range(20)]
    for key in keys:
        store.put_empty(key, bytes(300))
    [path] = files(store)
    order = np.random.default_rng(1).permutation(len(keys))  # the oldest tiles are scattered over the pages
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
        con.executemany("UPDATE ogcserver_access SET accessed = ? WHERE zoom_level = ? AND tile_column = ? "
                        "AND tile_row = ?", [(float(t), *address(store, key)) for t, key in zip(order, keys)])
    quota = held(path) // 2
    evicted = store.enforce_quota(quota)
    assert 0.75 * 0.9 * quota < held(path) <= 0.9 * quota  # counted by their data alone, 90% of them would go
    assert sum(store.get(key) is not None for key in keys) == len(keys) - evicted


def test_a_file_from_before_the_access_table_is_evicted_by_write_time(tmp_path):
    path = tmp_path / "old" / "default" / "WebMercatorQuad" / "v1.mbtiles"
    path.parent.mkdir(parents=True)
    now = time.time()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:  # no auto-vacuum, no access table
        con.executescript("CREATE TABLE metadata (name TEXT PRIMARY KEY, value TEXT);"
                          "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
                          "tile_data BLOB, PRIMARY KEY (zoom_level, tile_column, tile_row));"
                          "CREATE TABLE tile_times (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
                          "mtime REAL, PRIMARY KEY (zoom_level, tile_column, tile_row));")
        for x in range(6):
            con.execute("INSERT INTO tiles VALUES (8, ?, 100, ?)", (x, noise_png(x)))
            con.execute("INSERT INTO tile_times VALUES (8, ?, 100, ?)", (x, now - 10_000 + x))
    store = SqliteTileStore(tmp_path, "mbtiles", web_mercator)
    before = held(path)
    assert store.enforce_quota(int((before - 2.5 * len(noise_png(0))) / 0.9)) == 3
    with contextlib.closing(sqlite3.connect(path)) as con:
        assert [x for (x,) in con.execute("SELECT tile_column FROM tiles ORDER BY 1")] == [3, 4, 5]
    assert held(path) < before  # freed pages count as free, even if the file keeps them


@pytest.mark.parametrize("store, ext", KINDS)
def test_tile_requests_keep_a_single_file_cache_under_its_quota(data_dir, tmp_path, store, ext):
    quota = 150_000
    config = write_config(data_dir, tmp_path / "c.yaml")
    config.write_text(config.read_text() + f"cache:\n  store: {store}\n  max_bytes: {quota}\n")
    client = create_app(load_settings(config)).test_client()
    x, y = tile_at(15)
    first = client.get(f"/tiles/parent/WebMercatorQuad/15/{x}/{y}.png")
    assert first.status_code == 200 and first.headers["X-Cache"] == "MISS"
    for thread in threading.enumerate():
        if thread.name == "cache-quota":
            thread.join(30)
    [path] = (tmp_path / "state" / "tiles" / "parent").rglob(f"*.{ext}")
    assert held(path) <= 0.9 * quota
    stats = core_of(client.application).tiles.store.stats()
    assert stats["parent"]["tiles"] < 16  # the metatile's tiles were written, then the oldest evicted
    with rasterio.open(path) as ds:
        assert ds.count >= 3
