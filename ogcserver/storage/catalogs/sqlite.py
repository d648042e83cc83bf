"""The embedded catalog: one SQLite file with an R*Tree over item footprints in lon/lat.

Each layer is a collection. Folder mosaics are brought in line with the files on disk by
``sync``; managed collections change through ``upsert`` and ``remove`` (``ogcserver catalog``).
Several processes may share the file (WAL, immediate transactions). Every change bumps the
collection's generation and records the lon/lat boxes it touched, so each server process
notices it and its tile cache drops exactly the tiles under them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import shapely

from ogcserver.model.catalog import CatalogItem, CollectionStats, ItemRecord, Selection, SyncResult, footprint_box
from ogcserver.model.filters import iso_utc
from ogcserver.model.geo import WGS84, BBox, lonlat_parts, lonlat_shape, normalized_lonlat
from ogcserver.storage.catalogs.changes import CatalogWrites
from ogcserver.storage.catalogs.records import info_from_json, info_to_json

SCHEMA_VERSION = "2"
SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    mtime REAL NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    acquired TEXT,
    info TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    footprint TEXT,
    UNIQUE (collection, key)
);
CREATE INDEX IF NOT EXISTS items_acquired ON items (collection, acquired);
CREATE VIRTUAL TABLE IF NOT EXISTS items_rtree USING rtree(id, minx, maxx, miny, maxy);
CREATE TABLE IF NOT EXISTS meta (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (collection, key)
);
CREATE TABLE IF NOT EXISTS changes (
    collection TEXT NOT NULL,
    generation INTEGER NOT NULL,
    minx REAL, miny REAL, maxx REAL, maxy REAL
);
CREATE INDEX IF NOT EXISTS changes_generation ON changes (collection, generation);
CREATE TABLE IF NOT EXISTS refused (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    mtime REAL NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (collection, key)
);
"""
OLD_TABLES = ("items", "items_rtree", "meta", "changes", "refused")
KEEP_CHANGES = 20000  # per collection; a process further behind drops the layer's whole cache

_COLUMNS = (
    "SELECT i.id, i.collection, i.key, i.info, i.properties, i.footprint, "
    "r.minx, r.maxx, r.miny, r.maxy, i.mtime, i.size "
)
_SELECT = _COLUMNS + "FROM items i JOIN items_rtree r ON r.id = i.id "
# with an area, the R*Tree must drive the query (CROSS JOIN fixes the loop order in SQLite):
# otherwise the planner walks the collection's items and probes the tree for each
_SELECT_AREA = _COLUMNS + "FROM items_rtree r CROSS JOIN items i ON i.id = r.id "


@lru_cache(maxsize=8192)
def _row_to_item(row: tuple) -> CatalogItem:
    """Remembered per row (the row holds the item's stamp, so a changed item is a new row): every
    map request turns the same few rows into items, and parsing their JSON was a tenth of a tile."""
    item_id, collection, key, info, props, footprint, minx, maxx, miny, maxy, mtime, size = row
    return CatalogItem(
        item_id, collection, info_from_json(info), BBox(minx, miny, maxx, maxy, WGS84),
        f"{mtime!r}:{size}", key, json.loads(footprint) if footprint else None, json.loads(props),
    )


@lru_cache(maxsize=8192)
def _footprint_shape(footprint: str) -> shapely.Geometry:
    """The parsed, prepared footprint of a row, remembered: parsing it per request was costly."""
    shape = shapely.from_geojson(footprint)
    shapely.prepare(shape)
    return shape


def _parse_time(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if text else None


class SqliteCatalog(CatalogWrites):
    MARK = "?"
    DIALECT = "sqlite"
    _time = staticmethod(_parse_time)
    _time_value = staticmethod(iso_utc)

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            self._migrate(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    @staticmethod
    def _migrate(con: sqlite3.Connection) -> None:
        """Create the schema; an index of an older layout only held folder scans: rebuild it."""
        has_meta = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        version = has_meta and con.execute(
            "SELECT value FROM meta WHERE collection = '' AND key = 'schema'").fetchone()
        if has_meta and (not version or version[0] != SCHEMA_VERSION):
            for table in OLD_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                con.execute(statement)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('', 'schema', ?)", (SCHEMA_VERSION,))

    def _connect(self) -> sqlite3.Connection:
        """One connection per process and thread; never shared across fork."""
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=30000")
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con, self._local.pid = con, os.getpid()
        return con

    # -- reading -----------------------------------------------------------------------------
    def items(self, collection: str) -> list[CatalogItem]:
        rows = self._connect().execute(_SELECT + "WHERE i.collection = ? ORDER BY i.key", (collection,))
        return [_row_to_item(r) for r in rows]

    def item(self, collection: str, key: str) -> CatalogItem | None:
        row = self._connect().execute(_SELECT + "WHERE i.collection = ? AND i.key = ?", (collection, key)).fetchone()
        return _row_to_item(row) if row else None

    def select(self, collection: str, selection: Selection, limit: int, offset: int = 0) -> list[CatalogItem]:
        """Items matching the selection in its order; footprints are tested exactly, not by box."""
        conditions, params = self._conditions(collection, selection)
        head = _SELECT if selection.area is None else _SELECT_AREA
        rows = self._connect().execute(head + conditions, params)
        return list(self._take(rows, selection.area, limit, offset))

    @staticmethod
    def _area_condition(area: BBox) -> tuple[str, list]:
        """Boxes from the R*Tree; ``_take`` then tests footprints exactly. An item across the
        antimeridian is one box whose east edge lies beyond 180, so each part of the area is
        also looked for one turn (360 degrees) further east."""
        tests, params = [], []
        for part in lonlat_parts(normalized_lonlat(area)):
            for turn in (0.0, 360.0):
                tests.append("(r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ?)")
                params += [part.minx + turn, part.maxx + turn, part.miny, part.maxy]
        return "(" + " OR ".join(tests) + ")", params

    @staticmethod
    def _take(rows: Iterable[tuple], area: BBox | None, limit: int, offset: int) -> Iterator[CatalogItem]:
        """Rows whose footprint meets the area (the tree only knows boxes): a box inside the area
        needs no test; others are tested with GEOS (footprints lie within -180..180, cut at
        the antimeridian, and so do the area's parts)."""
        shape = None
        if area is not None:
            area = normalized_lonlat(area)
            shape = lonlat_shape(area)
            shapely.prepare(shape)
        taken = skipped = 0
        for row in rows:
            footprint, minx, maxx, miny, maxy = row[5:10]
            inside = area is None or (minx >= area.minx and maxx <= area.maxx and miny >= area.miny and maxy <= area.maxy)
            if not inside and footprint and shape is not None and not shape.intersects(_footprint_shape(footprint)):
                continue
            if skipped < offset:
                skipped += 1
                continue
            if taken >= limit:
                return
            taken += 1
            yield _row_to_item(row)

    def stats(self, collection: str) -> CollectionStats:
        con = self._connect()
        count, first, last = con.execute(
            "SELECT count(*), min(acquired), max(acquired) FROM items WHERE collection = ?", (collection,)).fetchone()
        box = con.execute(
            "SELECT min(r.minx), min(r.miny), max(r.maxx), max(r.maxy) FROM items i "
            "JOIN items_rtree r ON r.id = i.id WHERE i.collection = ?", (collection,)).fetchone()
        return CollectionStats(
            count, BBox.from_bounds(box, WGS84) if count else None, _parse_time(first), _parse_time(last),
            int(self.get_meta(collection, "generation") or 0),
        )

    # -- writing -----------------------------------------------------------------------------
    def create(self, collection: str) -> bool:
        """Register an empty collection; False when it exists already."""
        con = self._connect()
        cur = con.execute("INSERT OR IGNORE INTO meta VALUES (?, 'generation', '0')", (collection,))
        return cur.rowcount > 0

    def drop(self, collection: str) -> int:
        """Delete a collection and everything recorded about it; returns its item count."""
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            ids = [r[0] for r in con.execute("SELECT id FROM items WHERE collection = ?", (collection,))]
            con.executemany("DELETE FROM items_rtree WHERE id = ?", ((i,) for i in ids))
            for table in ("items", "meta", "changes", "refused"):
                con.execute(f"DELETE FROM {table} WHERE collection = ?", (collection,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return len(ids)

    def _write(self, collection: str, records: list[ItemRecord], removed: list[str]) -> SyncResult:
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            generation = int(self.get_meta(collection, "generation") or 0) + 1
            areas: list[BBox] = []
            gone = sum(self._delete(con, collection, key, areas) for key in removed)
            added = updated = 0
            for record in records:
                if self._delete(con, collection, record.key, areas):
                    updated += 1
                else:
                    added += 1
                areas.append(self._insert(con, collection, record))
            if not (added or updated or gone):
                con.execute("ROLLBACK")
                return SyncResult()
            con.executemany(
                "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?)",
                ((collection, generation, b.minx, b.miny, b.maxx, b.maxy) for b in areas))
            self._prune_changes(con, collection)
            self.set_meta(collection, "generation", str(generation))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return SyncResult(added, updated, gone, tuple(areas))

    @staticmethod
    def _delete(con: sqlite3.Connection, collection: str, key: str, areas: list[BBox]) -> bool:
        row = con.execute(
            "SELECT i.id, r.minx, r.miny, r.maxx, r.maxy FROM items i JOIN items_rtree r ON r.id = i.id "
            "WHERE i.collection = ? AND i.key = ?", (collection, key)).fetchone()
        if row is None:
            return False
        con.execute("DELETE FROM items WHERE id = ?", (row[0],))
        con.execute("DELETE FROM items_rtree WHERE id = ?", (row[0],))
        areas.append(BBox.from_bounds(row[1:], WGS84))
        return True

    @staticmethod
    def _insert(con: sqlite3.Connection, collection: str, record: ItemRecord) -> BBox:
        info = record.source
        box = footprint_box(record.footprint, info)
        cur = con.execute(
            "INSERT INTO items (collection, key, path, mtime, size, acquired, info, properties, footprint) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (collection, record.key, info.path, record.mtime, record.size,
             iso_utc(info.acquired) if info.acquired else None, info_to_json(info),
             json.dumps(record.properties), json.dumps(record.footprint) if record.footprint else None),
        )
        con.execute(
            "INSERT INTO items_rtree (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
            (cur.lastrowid, box.minx, box.maxx, box.miny, box.maxy),
        )
        return box

    def _prune_changes(self, con: sqlite3.Connection, collection: str) -> None:
        row = con.execute(
            "SELECT generation FROM changes WHERE collection = ? ORDER BY generation DESC LIMIT 1 OFFSET ?",
            (collection, KEEP_CHANGES)).fetchone()
        if row is not None:
            con.execute("DELETE FROM changes WHERE collection = ? AND generation <= ?", (collection, row[0]))
            self.set_meta(collection, "changes_floor", str(row[0]))

    def get_meta(self, collection: str, key: str) -> str | None:
        row = self._connect().execute(
            "SELECT value FROM meta WHERE collection = ? AND key = ?", (collection, key)
        ).fetchone()
        return row[0] if row else None

    def set_meta(self, collection: str, key: str, value: str) -> None:
        self._connect().execute(
            "INSERT OR REPLACE INTO meta (collection, key, value) VALUES (?, ?, ?)", (collection, key, value)
        )
