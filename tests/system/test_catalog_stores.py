"""One contract for every catalog store: SQLite and PostGIS must answer alike.

Each test runs against both backends (``store``); the PostGIS one runs on a throwaway cluster
(tests/support/postgres.py) and is skipped only where the Debian packages are missing. Items
are built directly (no raster files): six scenes whose footprints, times and properties make
every selection and ordering below computable by hand.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ogcserver.core.filters import parse_filter
from ogcserver.model.catalog import CatalogItem, ItemRecord, Selection, SourceInfo, SyncResult, TimeRange
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.geo import WGS84, BBox
from ogcserver.model.mosaic import BY_NAME, NEWEST, OLDEST, Ordering, parse_ordering
from ogcserver.storage.catalogs.postgis import PostgisCatalog
from ogcserver.storage.catalogs.sqlite import SqliteCatalog
from ogcserver.storage.interfaces import CatalogStore
from tests.support.postgres import SKIP_REASON
from tests.unit.test_filters import CASES, ROWS

SCENES = "scenes"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def box(minx: float, miny: float, maxx: float, maxy: float) -> BBox:
    return BBox(minx, miny, maxx, maxy, WGS84)


def polygon(*points: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in points + points[:1]]]}


def record(key: str, bounds: BBox, acquired: datetime | None, footprint: dict | None = None,
           nodata: float | None = 0.0, **properties: Any) -> ItemRecord:
    source = SourceInfo(f"/data/{key}.tif", WGS84, bounds, 100, 100, 3, "uint8", nodata,
                        ("red", "green", "blue"), acquired)
    return ItemRecord(key, source, footprint, properties)


# b is an L (its box's upper right is empty), c a triangle (its box's upper right is empty)
L_SHAPE = polygon((0, 0), (4, 0), (4, 1), (1, 1), (1, 4), (0, 4))
TRIANGLE = polygon((10, 10), (12, 10), (10, 12))
SCENE_RECORDS = [
    record("a", box(0, 0, 2, 2), at("2024-01-01T00:00:00"), cloud=5, platform="S2A", title="alpha"),
    record("b", box(0, 0, 4, 4), at("2024-02-01T00:00:00"), L_SHAPE, cloud=20.5, platform="S2B", title="beta"),
    record("c", box(10, 10, 12, 12), at("2024-03-15T12:00:00"), TRIANGLE, cloud=0, platform="L8"),
    record("d", box(-5, -5, -4, -4), None, cloud=55, platform="S2A"),
    record("e", box(20, 20, 21, 21), at("2023-12-31T23:00:00"), cloud=12, platform="a'b", title="[draft]"),
    record("f", box(1, 1, 3.5, 3.5), at("2024-01-10T00:00:00"), cloud=30, platform="S1A"),
]


# -- the two backends --------------------------------------------------------------------------
def fresh_postgis(dsn: str) -> PostgisCatalog:
    """A store on empty tables: each test starts from nothing, as with a new SQLite file."""
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS items, meta, changes")
    return PostgisCatalog(dsn)


@pytest.fixture(params=["sqlite", "postgis"])
def store(request, tmp_path: Path) -> CatalogStore:
    if request.param == "sqlite":
        return SqliteCatalog(tmp_path / "catalog.sqlite")
    dsn = request.getfixturevalue("postgis_dsn")
    if dsn is None:
        pytest.skip(SKIP_REASON)
    return fresh_postgis(dsn)


@pytest.fixture()
def scenes(store: CatalogStore) -> CatalogStore:
    store.create(SCENES)
    store.upsert(SCENES, SCENE_RECORDS)
    return store


def keys(store: CatalogStore, limit: int = 100, offset: int = 0, **selection: Any) -> list[str]:
    return [i.key for i in store.select(SCENES, Selection(**selection), limit, offset)]


# -- collections -------------------------------------------------------------------------------
def test_create_list_and_drop_collections(store: CatalogStore) -> None:
    assert store.collections() == []
    assert store.create("zeta") is True
    assert store.create("alpha") is True
    assert store.create("zeta") is False
    assert store.collections() == ["alpha", "zeta"]
    store.upsert("zeta", SCENE_RECORDS[:2])
    assert store.drop("zeta") == 2
    assert store.collections() == ["alpha"]
    assert store.items("zeta") == []
    assert store.stats("zeta").generation == 0
    assert store.drop("never") == 0


def test_upsert_creates_the_collection_and_counts(store: CatalogStore) -> None:
    result = store.upsert(SCENES, SCENE_RECORDS)
    assert (result.added, result.updated, result.removed) == (6, 0, 0)
    assert store.collections() == [SCENES]
    assert [i.key for i in store.items(SCENES)] == ["a", "b", "c", "d", "e", "f"]


def test_items_read_back_as_written(scenes: CatalogStore) -> None:
    b = scenes.item(SCENES, "b")
    assert b is not None and scenes.item(SCENES, "nope") is None
    assert (b.key, b.collection, b.source, b.footprint) == ("b", SCENES, SCENE_RECORDS[1].source, L_SHAPE)
    assert b.properties == {"cloud": 20.5, "platform": "S2B", "title": "beta"}
    assert b.lonlat_bounds == box(0, 0, 4, 4)
    assert b.acquired == at("2024-02-01T00:00:00") and b.acquired.tzinfo is not None
    assert scenes.item(SCENES, "a").footprint is None
    assert scenes.item(SCENES, "a").stamp == "0.0:0"


# -- selection ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("area", "expected"), [
    (box(3, 3, 3.5, 3.5), ["f"]),            # inside b's box, outside its L
    (box(11.5, 11.5, 12, 12), []),           # inside c's box, beyond its hypotenuse
    (box(10.5, 10.5, 11, 11), ["c"]),
    (box(0.2, 3, 0.5, 3.5), ["b"]),          # the L's upright arm
    (box(3.5, 3.5, 5, 5), ["f"]),            # touching f's corner; inside b's box, not its L
    (box(-10, -10, 30, 30), ["c", "b", "f", "a", "e", "d"]),
])
def test_area_is_tested_against_footprints(scenes: CatalogStore, area: BBox, expected: list[str]) -> None:
    assert keys(scenes, area=area) == expected


def test_time_range_includes_both_ends(scenes: CatalogStore) -> None:
    span = TimeRange(at("2024-01-01T00:00:00"), at("2024-02-01T00:00:00"))
    assert keys(scenes, time=span) == ["b", "f", "a"]
    instant = TimeRange(at("2024-01-10T00:00:00"), at("2024-01-10T00:00:00"))
    assert keys(scenes, time=instant) == ["f"]


@pytest.mark.parametrize(("cql", "expected"), [
    ("cloud < 10", {"a", "c"}),
    ("cloud >= 20.5", {"b", "d", "f"}),
    ("platform = 'S2A'", {"a", "d"}),
    ("platform LIKE 'a_b'", {"e"}),
    ("platform LIKE 'S2%'", {"a", "b", "d"}),
    ("platform NOT LIKE 'S%'", {"c", "e"}),
    ("platform IN ('L8', 'S1A', 'zz')", {"c", "f"}),
    ("cloud BETWEEN 5 AND 20.5", {"a", "b", "e"}),
    ("datetime > TIMESTAMP('2024-01-15T00:00:00Z')", {"b", "c"}),
    ("datetime T_DURING INTERVAL('2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z')", {"f"}),
    ("datetime IS NULL", {"d"}),
    ("NOT (platform = 'S2A')", {"b", "c", "e", "f"}),
    ("title IS NULL", {"c", "d", "f"}),
    ("title IS NOT NULL", {"a", "b", "e"}),
    ("id IN ('a', 'c')", {"a", "c"}),
    ("S_INTERSECTS(geometry, BBOX(-6, -6, 0.5, 0.5))", {"a", "b", "d"}),
    ("platform LIKE 'S%' AND cloud < 25", {"a", "b"}),
])
def test_filters(scenes: CatalogStore, cql: str, expected: set[str]) -> None:
    assert set(keys(scenes, where=parse_filter(cql))) == expected


@pytest.fixture()
def filter_rows(store: CatalogStore) -> CatalogStore:
    """The filter unit tests' rows (mixed property types, nulls, odd names) as items."""
    store.upsert(SCENES, [record(r.key, box(*r.box), r.acquired, **r.props) for r in ROWS])
    return store


@pytest.mark.parametrize(("cql", "wanted"), CASES, ids=[cql for cql, _ in CASES])
def test_filter_rule_table(filter_rows: CatalogStore, cql: str, wanted) -> None:
    assert set(keys(filter_rows, where=parse_filter(cql))) == {r.key for r in ROWS if wanted(r)}


@pytest.mark.parametrize(("ordering", "focus", "expected"), [
    (NEWEST, None, ["c", "b", "f", "a", "e", "d"]),
    (OLDEST, None, ["e", "a", "f", "b", "c", "d"]),
    (BY_NAME, None, ["a", "b", "c", "d", "e", "f"]),
    (Ordering("attribute", "id", True), None, ["f", "e", "d", "c", "b", "a"]),
    (parse_ordering("by:cloud"), None, ["c", "a", "e", "b", "f", "d"]),
    (parse_ordering("by:cloud:desc"), None, ["d", "f", "b", "e", "a", "c"]),
    (parse_ordering("by:title:asc"), None, ["e", "a", "b", "c", "d", "f"]),  # "[" < "a"; none last by key
    (parse_ordering("closest:datetime:2024-01-09T00:00:00Z"), None, ["f", "a", "e", "b", "c", "d"]),
    (parse_ordering("closest:cloud:14"), None, ["e", "b", "a", "c", "f", "d"]),
    (parse_ordering("closest:platform:3"), None, ["a", "b", "c", "d", "e", "f"]),  # text has no distance
    (parse_ordering("center"), (2.0, 2.0), ["b", "f", "a", "d", "c", "e"]),
    (parse_ordering("northwest"), (-6.0, 23.0), ["c", "f", "b", "a", "e", "d"]),
    (parse_ordering("lock:e,a,c,zz"), None, ["e", "a", "c"]),
])
def test_orderings(scenes: CatalogStore, ordering: Ordering, focus, expected: list[str]) -> None:
    assert keys(scenes, ordering=ordering, focus=focus) == expected


def test_paging_counts_only_items_whose_footprint_matches(scenes: CatalogStore) -> None:
    assert [keys(scenes, 2, offset) for offset in (0, 2, 4, 6)] == [["c", "b"], ["f", "a"], ["e", "d"], []]
    area = box(1.5, 1.5, 3.2, 3.2)  # a and f; b's box only
    assert keys(scenes, area=area) == ["f", "a"]
    assert keys(scenes, 1, 1, area=area) == ["a"]


# -- writing -----------------------------------------------------------------------------------
def test_update_by_key_replaces_and_remove_drops(scenes: CatalogStore) -> None:
    before = scenes.stats(SCENES).generation
    moved = record("a", box(5, 5, 6, 6), at("2024-01-01T00:00:00"), cloud=7)
    assert scenes.upsert(SCENES, [moved]) == SyncResult(0, 1, 0, (box(0, 0, 2, 2), box(5, 5, 6, 6)))
    assert len(scenes.items(SCENES)) == 6
    assert scenes.item(SCENES, "a").properties == {"cloud": 7}
    assert keys(scenes, area=box(5.5, 5.5, 5.6, 5.6)) == ["a"]
    assert keys(scenes, area=box(0.1, 0.1, 0.2, 0.2)) == ["b"]
    assert scenes.remove(SCENES, ["d", "zz", "d"]) == SyncResult(0, 0, 1, (box(-5, -5, -4, -4),))
    assert scenes.item(SCENES, "d") is None
    assert scenes.remove(SCENES, ["zz"]) == SyncResult()
    assert scenes.stats(SCENES).generation == before + 2


def test_a_key_repeated_in_one_batch_ends_as_its_last_record(store: CatalogStore) -> None:
    first, last = record("x", box(0, 0, 1, 1), None), record("x", box(2, 2, 3, 3), None, cloud=1)
    assert store.upsert(SCENES, [first, last]) == SyncResult(1, 1, 0, (box(0, 0, 1, 1),) * 2 + (box(2, 2, 3, 3),))
    assert [(i.key, i.properties) for i in store.items(SCENES)] == [("x", {"cloud": 1})]


def test_changes_since_gives_old_and_new_boxes(scenes: CatalogStore) -> None:
    generation = scenes.stats(SCENES).generation
    assert scenes.changes_since(SCENES, generation) == ()
    scenes.upsert(SCENES, [replace(SCENE_RECORDS[2], source=replace(SCENE_RECORDS[2].source, path="/x"),
                                   footprint=None)])
    scenes.upsert(SCENES, [record("e", box(22, 22, 23, 23), None)])
    scenes.remove(SCENES, ["f"])
    changed = scenes.changes_since(SCENES, generation)
    assert set(changed) == {box(10, 10, 12, 12), box(20, 20, 21, 21), box(22, 22, 23, 23), box(1, 1, 3.5, 3.5)}
    assert len(changed) == 5  # c's old and new box are the same box
    assert set(scenes.changes_since(SCENES, generation + 2)) == {box(1, 1, 3.5, 3.5)}
    assert scenes.changes_since(SCENES, generation + 3) == ()


def test_stats_and_times(scenes: CatalogStore) -> None:
    stats = scenes.stats(SCENES)
    assert (stats.count, stats.lonlat_bounds) == (6, box(-5, -5, 21, 21))
    assert (stats.first, stats.last) == (at("2023-12-31T23:00:00"), at("2024-03-15T12:00:00"))
    assert stats.first.utcoffset() == timedelta(0)
    assert stats.generation == 1
    assert scenes.times(SCENES, 10) == [at(t) for t in (
        "2023-12-31T23:00:00", "2024-01-01T00:00:00", "2024-01-10T00:00:00", "2024-02-01T00:00:00",
        "2024-03-15T12:00:00")]
    assert scenes.times(SCENES, 2) == [at("2023-12-31T23:00:00"), at("2024-01-01T00:00:00")]
    empty = scenes.stats("nothing")
    assert (empty.count, empty.lonlat_bounds, empty.first, empty.generation) == (0, None, None, 0)


def test_meta(store: CatalogStore) -> None:
    assert store.get_meta(SCENES, "statistics:x") is None
    store.set_meta(SCENES, "statistics:x", "1")
    store.set_meta(SCENES, "statistics:x", "2")
    assert store.get_meta(SCENES, "statistics:x") == "2"


def test_sync_follows_files(store: CatalogStore) -> None:
    described: list[str] = []
    unreadable = {"bad.tif"}

    def describe(key: str, path: str) -> ItemRecord:
        described.append(key)
        if key in unreadable:
            raise SourceUnavailable("corrupt")
        return record(key, box(0, 0, 1, 1), None, path=path)

    files = [("x.tif", "/d/x.tif", 1.0, 10), ("y.tif", "/d/y.tif", 2.0, 20), ("bad.tif", "/d/bad.tif", 3.0, 30)]
    assert store.sync("folder", files, describe) == SyncResult(2, 0, 0, (box(0, 0, 1, 1),) * 2)
    assert store.item("folder", "x.tif").stamp == "1.0:10"
    described.clear()
    assert store.sync("folder", files, describe) == SyncResult()
    assert described == ["bad.tif"]  # known files are not opened again
    files = [("y.tif", "/d/y.tif", 2.5, 20), ("z.tif", "/d/z.tif", 4.0, 40), ("bad.tif", "/d/bad.tif", 3.0, 30)]
    result = store.sync("folder", files, describe)
    assert (result.added, result.updated, result.removed) == (1, 1, 1)
    assert [(i.key, i.stamp, i.properties) for i in store.items("folder")] == [
        ("y.tif", "2.5:20", {"path": "/d/y.tif"}), ("z.tif", "4.0:40", {"path": "/d/z.tif"})]
    unreadable.add("y.tif")
    files[0] = ("y.tif", "/d/y.tif", 9.0, 20)
    assert store.sync("folder", files, describe).removed == 1  # changed into something unreadable
    assert [i.key for i in store.items("folder")] == ["z.tif"]


def test_hostile_text_stays_data(scenes: CatalogStore) -> None:
    hostile = "x'); DROP TABLE items; --"
    assert keys(scenes, where=parse_filter("platform = 'x\"); DROP TABLE items; --'")) == []
    assert keys(scenes, where=parse_filter("id = '; DELETE FROM items; --' OR title LIKE '%;--%'")) == []
    assert keys(scenes, ordering=Ordering("attribute", hostile)) == ["a", "b", "c", "d", "e", "f"]
    assert keys(scenes, ordering=Ordering("lock", ids=(hostile, "a"))) == ["a"]
    scenes.upsert(hostile, [record(hostile, box(0, 0, 1, 1), None, **{hostile: hostile})])
    scenes.set_meta(hostile, hostile, hostile)
    assert scenes.item(hostile, hostile).properties == {hostile: hostile}
    assert scenes.get_meta(hostile, hostile) == hostile
    assert scenes.collections() == sorted([SCENES, hostile])
    assert len(scenes.items(SCENES)) == 6


# -- both backends side by side ------------------------------------------------------------------
def comparable(item: CatalogItem) -> CatalogItem:
    """An item without what legitimately differs: its row id, a NaN (never equal to itself), and
    its box, which SQLite's R*Tree keeps in 32-bit floats (rounded outwards)."""
    return replace(item, id=0, source=replace(item.source, nodata=None), lonlat_bounds=None)


def test_backends_return_equal_items(tmp_path: Path, postgis_dsn: str | None) -> None:
    """Same records in, same items out, down to time zones, NaN nodata and odd floats."""
    if postgis_dsn is None:
        pytest.skip(SKIP_REASON)
    third = 1 / 3
    odd = record("odd", box(0.1, 0.2, 0.30000000000000004, third), datetime(2024, 5, 1, 12, 30, 15, 250000, UTC),
                 polygon((0.1, 0.2), (0.30000000000000004, 0.2), (0.2, third)), float("nan"),
                 nested={"a": [1, 2.5, None, True]}, big=2**53 + 1, tiny=1e-300)
    naive = record("naive", box(-1, -1, 1, 1), datetime(2024, 5, 2, 8, 0, 0), **{"eo:cloud_cover": 3})
    sqlite, postgis = SqliteCatalog(tmp_path / "c.sqlite"), fresh_postgis(postgis_dsn)
    for store in (sqlite, postgis):
        store.upsert(SCENES, SCENE_RECORDS + [odd, naive])
    assert [comparable(i) for i in sqlite.items(SCENES)] == [comparable(i) for i in postgis.items(SCENES)]
    assert (sqlite.stats(SCENES), sqlite.times(SCENES, 50)) == (postgis.stats(SCENES), postgis.times(SCENES, 50))
    assert str(postgis.item(SCENES, "odd").source.nodata) == "nan"
    exact, rounded = postgis.item(SCENES, "odd").lonlat_bounds, sqlite.item(SCENES, "odd").lonlat_bounds
    assert exact == box(0.1, 0.2, 0.30000000000000004, third)
    assert exact.as_tuple() == pytest.approx(rounded.as_tuple(), rel=1e-6)


# -- concurrency -------------------------------------------------------------------------------
WRITERS, BATCHES, BATCH = 4, 10, 10


def _writer(store: CatalogStore, n: int, start, results) -> None:
    """One process: 100 keys from n*50 on (so neighbours overlap by 50), ten upserts of ten."""
    start.wait()
    names = [f"k{k:03d}" for k in range(n * 50, n * 50 + BATCHES * BATCH)]
    for b in range(BATCHES):
        batch = [record(k, box(0, 0, 1, 1), None, writer=n) for k in names[b * BATCH:(b + 1) * BATCH]]
        result = store.upsert(SCENES, batch)
        results.put((result.added, result.updated))


def test_concurrent_writers_lose_and_double_nothing(store: CatalogStore) -> None:
    store.create(SCENES)
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(WRITERS), context.Queue()
    workers = [context.Process(target=_writer, args=(store, n, start, results)) for n in range(WRITERS)]
    for worker in workers:
        worker.start()
    counts = [results.get(timeout=60) for _ in range(WRITERS * BATCHES)]
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    wanted = {f"k{k:03d}" for k in range((WRITERS - 1) * 50 + BATCHES * BATCH)}
    found = [i.key for i in store.items(SCENES)]
    assert len(found) == len(set(found)) == len(wanted) and set(found) == wanted
    assert store.stats(SCENES).count == len(wanted)
    assert sum(added for added, _ in counts) == len(wanted)
    assert sum(added + updated for added, updated in counts) == WRITERS * BATCHES * BATCH
    assert store.stats(SCENES).generation == WRITERS * BATCHES


# -- the antimeridian --------------------------------------------------------------------------
def utm60_record(key: str, left: float, right: float, footprint: dict | None = None) -> ItemRecord:
    """A scene in UTM 60N at about 51 N; from left = 640 km on it crosses 180 (x = 708 km)."""
    source = SourceInfo(f"/data/{key}.tif", "EPSG:32660", BBox(left, 5670000.0, right, 5700000.0, "EPSG:32660"),
                        100, 100, 3, "uint8", 0.0, ("red", "green", "blue"), None)
    return ItemRecord(key, source, footprint)


CUT_AT_180 = {"type": "MultiPolygon", "coordinates": [
    [[[179.0, 51.1], [180.0, 51.1], [180.0, 51.4], [179.0, 51.4], [179.0, 51.1]]],
    [[[-180.0, 51.1], [-179.3, 51.1], [-179.3, 51.4], [-180.0, 51.4], [-180.0, 51.1]]],
]}


@pytest.mark.parametrize(("area", "expected"), [
    (box(179.5, 51.0, 179.9, 51.5), ["cut", "extent"]),
    (box(-179.9, 51.0, -179.5, 51.5), ["cut", "extent"]),
    (box(179.8, 51.0, 180.2, 51.5), ["cut", "extent"]),   # across 180, its east edge beyond it
    (box(179.8, 51.0, -179.8, 51.5), ["cut", "extent"]),  # across 180, west > east as GeoJSON has it
    (box(176.0, 51.0, 176.5, 51.5), ["west"]),
    (box(10.0, 51.0, 10.5, 51.5), []),
    (box(-178.0, 51.0, -170.0, 51.5), []),
    (box(-180.0, -90.0, 180.0, 90.0), ["cut", "extent", "west"]),
])
def test_items_across_the_antimeridian_are_found_only_there(store: CatalogStore, area: BBox, expected) -> None:
    """Crossing items, with a footprint cut at 180 or with only their extent, are one box over
    180 wide as the scene, selected by areas on either side and across it, by no other."""
    store.upsert(SCENES, [utm60_record("cut", 640000.0, 760000.0, CUT_AT_180),
                          utm60_record("extent", 640000.0, 760000.0),
                          utm60_record("west", 410000.0, 490000.0)])
    for key in ("cut", "extent"):
        b = store.item(SCENES, key).lonlat_bounds
        assert 178.9 < b.minx < 179.1 and 180.6 < b.maxx < 180.8
    assert keys(store, area=area, ordering=BY_NAME) == expected
    if area.minx < area.maxx <= 180.0:  # the filter's BBOX() takes plain boxes
        s_intersects = parse_filter(f"S_INTERSECTS(geometry, BBOX({area.minx}, 51, {area.maxx}, 51.5))")
        assert keys(store, where=s_intersects, ordering=BY_NAME) == expected
