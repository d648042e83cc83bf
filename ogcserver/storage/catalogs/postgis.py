"""The shared catalog: collections in PostgreSQL with PostGIS, for several hosts or many writers.

It behaves exactly as the SQLite catalog does (same items, orderings, filters, generations and
change boxes), with footprints tested exactly in SQL. Writers to one collection queue on the
row of its generation counter, so concurrent processes neither lose nor double items and every
write is counted once. Only fixed SQL text and parameters reach the server.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import shapely
from psycopg.conninfo import conninfo_to_dict

from ogcserver.model.catalog import CatalogItem, CollectionStats, ItemRecord, Selection, SyncResult, footprint_box
from ogcserver.model.errors import CatalogUnavailable
from ogcserver.model.geo import WGS84, BBox, lonlat_parts, lonlat_shape, normalized_lonlat
from ogcserver.storage.catalogs.changes import CatalogWrites
from ogcserver.storage.catalogs.records import info_from_json, info_to_json
from ogcserver.storage.catalogs.sqlite import KEEP_CHANGES

CONNECT_TIMEOUT = 5  # seconds, unless the DSN says otherwise: an unreachable host must not hang requests
LOST = (psycopg.OperationalError, psycopg.InterfaceError)  # the server is down, restarting or unreachable
SCHEMA_LOCK = 0x6F6763  # advisory lock id: processes starting at once create the schema in turn
# ``key`` and ``collection`` sort by code point, as SQLite does, whatever the database's locale.
# ``info`` is text because a raster's nodata may be NaN, which JSON (and jsonb) cannot hold.
# ``footprint`` is the given outline, else the box (as its parts on each side of the antimeridian),
# so one GiST index serves every area test;
# ``outline`` keeps the GeoJSON as given, since PostGIS would round its coordinates.
SCHEMA = """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE IF NOT EXISTS items (
    id bigserial PRIMARY KEY,
    collection text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    path text NOT NULL,
    mtime double precision NOT NULL DEFAULT 0,
    size bigint NOT NULL DEFAULT 0,
    acquired timestamptz,
    info text NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}',
    outline jsonb,
    footprint geometry(Geometry, 4326) NOT NULL,
    bbox geometry(Polygon, 4326) NOT NULL,
    UNIQUE (collection, key)
);
CREATE INDEX IF NOT EXISTS items_footprint ON items USING gist (footprint);
CREATE INDEX IF NOT EXISTS items_bbox ON items USING gist (bbox);
CREATE INDEX IF NOT EXISTS items_acquired ON items (collection, acquired);
CREATE TABLE IF NOT EXISTS meta (
    collection text COLLATE "C" NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (collection, key)
);
CREATE TABLE IF NOT EXISTS changes (
    collection text COLLATE "C" NOT NULL,
    generation bigint NOT NULL,
    minx double precision, miny double precision, maxx double precision, maxy double precision
);
CREATE INDEX IF NOT EXISTS changes_generation ON changes (collection, generation);
CREATE TABLE IF NOT EXISTS refused (
    collection text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    path text NOT NULL,
    reason text NOT NULL,
    mtime double precision NOT NULL DEFAULT 0,
    size bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (collection, key)
);
"""

_BOX = "ST_XMin(i.bbox), ST_YMin(i.bbox), ST_XMax(i.bbox), ST_YMax(i.bbox)"
_SELECT = f"SELECT i.id, i.collection, i.key, i.info, i.properties, i.outline, {_BOX}, i.mtime, i.size FROM items i "
_ENVELOPE = "ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
_UPSERT = (
    "INSERT INTO items (collection, key, path, mtime, size, acquired, info, properties, outline, footprint, bbox) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, "
    f"ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), {_ENVELOPE}) "
    # a replaced item gets a new id, as after SQLite's delete and insert: caches keyed on ids notice
    "ON CONFLICT (collection, key) DO UPDATE SET id = DEFAULT, path = EXCLUDED.path, mtime = EXCLUDED.mtime, "
    "size = EXCLUDED.size, acquired = EXCLUDED.acquired, info = EXCLUDED.info, properties = EXCLUDED.properties, "
    "outline = EXCLUDED.outline, footprint = EXCLUDED.footprint, bbox = EXCLUDED.bbox"
)


def _row_to_item(row: tuple) -> CatalogItem:
    item_id, collection, key, info, props, outline, minx, miny, maxx, maxy, mtime, size = row
    return CatalogItem(
        item_id, collection, info_from_json(info), BBox(minx, miny, maxx, maxy, WGS84),
        f"{mtime!r}:{size}", key, outline, props,
    )


def _instant(dt: datetime | None) -> datetime | None:
    """A time as the catalog keeps it, so both stores compare alike: ``iso_utc``'s rule (naive
    taken as UTC, whole seconds) without its round trip through text."""
    if dt is None:
        return None
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return utc.replace(microsecond=0)


def _only_row(cur: psycopg.Cursor) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, an upsert's RETURNING)."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("the query returned no row")
    return row


def _utc(dt: datetime | None) -> datetime | None:
    """A timestamptz read back, in UTC whatever the session's time zone."""
    return dt.astimezone(UTC) if dt else None


@dataclass
class _Batch:
    """What one write transaction did, gathered in SQLite's order so results compare equal."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    areas: list[BBox] = field(default_factory=list)

    def result(self) -> SyncResult:
        return SyncResult(self.added, self.updated, self.removed, tuple(self.areas))


C = TypeVar("C", bound=type)


def _unavailable_when_lost(method: Callable) -> Callable:
    """Run a store method; a connection lost since its last use (the server restarted) is
    renewed and the method tried once more; an unreachable server is a CatalogUnavailable."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        reused = self._has_connection()
        try:
            return method(self, *args, **kwargs)
        except LOST:
            if not reused:
                raise CatalogUnavailable() from None
        try:
            return method(self, *args, **kwargs)
        except LOST:
            raise CatalogUnavailable() from None

    return guarded


def _guard_public_methods(cls: C) -> C:
    """Every public method, own or inherited, reports a lost database as CatalogUnavailable."""
    for name in dir(cls):
        if not name.startswith("_") and inspect.isfunction(inspect.getattr_static(cls, name)):
            setattr(cls, name, _unavailable_when_lost(getattr(cls, name)))
    return cls


@_guard_public_methods
class PostgisCatalog(CatalogWrites):
    MARK = "%s"
    DIALECT = "postgres"
    _time_value = staticmethod(_instant)
    _time = staticmethod(_utc)

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._local = threading.local()
        con = self._connect()
        with con.transaction():
            con.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            con.execute(SCHEMA)

    def _connect(self) -> psycopg.Connection:
        """One connection per process and thread; never shared across fork, renewed when broken."""
        if not self._has_connection():
            # a timeout the DSN names wins; psycopg drops a None parameter
            timeout = None if "connect_timeout" in conninfo_to_dict(self.dsn) else CONNECT_TIMEOUT
            self._local.con, self._local.pid = None, os.getpid()
            self._local.con = psycopg.connect(self.dsn, autocommit=True, connect_timeout=timeout)
        return self._local.con

    def _has_connection(self) -> bool:
        """Whether this thread holds a connection that looks usable (the server may still have gone)."""
        con = getattr(self._local, "con", None)
        return con is not None and not (con.closed or con.broken) and getattr(self._local, "pid", None) == os.getpid()

    # -- reading -----------------------------------------------------------------------------
    def items(self, collection: str) -> list[CatalogItem]:
        rows = self._connect().execute(_SELECT + "WHERE i.collection = %s ORDER BY i.key", (collection,))
        return [_row_to_item(r) for r in rows]

    def item(self, collection: str, key: str) -> CatalogItem | None:
        row = self._connect().execute(_SELECT + "WHERE i.collection = %s AND i.key = %s", (collection, key)).fetchone()
        return _row_to_item(row) if row else None

    def select(self, collection: str, selection: Selection, limit: int, offset: int = 0) -> list[CatalogItem]:
        """Items matching the selection in its order; the area is tested against footprints in SQL."""
        conditions, params = self._conditions(collection, selection)
        rows = self._connect().execute(_SELECT + conditions + " LIMIT %s OFFSET %s", params + [limit, offset])
        return [_row_to_item(r) for r in rows]

    @staticmethod
    def _area_condition(area: BBox) -> tuple[str, list]:
        """Footprints lie within -180..180 (cut at the antimeridian), so an area across it is
        tested as its two parts."""
        parts = lonlat_parts(normalized_lonlat(area))
        sql = " OR ".join(f"ST_Intersects(i.footprint, {_ENVELOPE})" for _ in parts)
        return f"({sql})", [v for p in parts for v in p.as_tuple()]

    def stats(self, collection: str) -> CollectionStats:
        count, first, last, *box = _only_row(self._connect().execute(
            "SELECT count(*), min(acquired), max(acquired), min(ST_XMin(bbox)), min(ST_YMin(bbox)), "
            "max(ST_XMax(bbox)), max(ST_YMax(bbox)) FROM items WHERE collection = %s", (collection,)))
        return CollectionStats(
            count, BBox.from_bounds(box, WGS84) if count else None, _utc(first), _utc(last),
            int(self.get_meta(collection, "generation") or 0),
        )

    # -- writing -----------------------------------------------------------------------------
    def create(self, collection: str) -> bool:
        """Register an empty collection; False when it exists already."""
        cur = self._connect().execute(
            "INSERT INTO meta VALUES (%s, 'generation', '0') ON CONFLICT DO NOTHING", (collection,))
        return cur.rowcount > 0

    def drop(self, collection: str) -> int:
        """Delete a collection and everything recorded about it; returns its item count."""
        con = self._connect()
        with con.transaction():
            # the generation row first: a writer still busy with the collection commits before
            con.execute("DELETE FROM meta WHERE collection = %s", (collection,))
            count = con.execute("DELETE FROM items WHERE collection = %s", (collection,)).rowcount
            con.execute("DELETE FROM changes WHERE collection = %s", (collection,))
            con.execute("DELETE FROM refused WHERE collection = %s", (collection,))
        return count

    def _write(self, collection: str, records: list[ItemRecord], removed: list[str]) -> SyncResult:
        """One transaction: take the collection's generation (which queues other writers), apply
        the changes, record their boxes; roll back if nothing changed."""
        con, batch = self._connect(), _Batch()
        with con.transaction(), con.cursor() as cur:
            generation = self._next_generation(cur, collection)
            old = self._boxes(cur, collection, removed + [r.key for r in records])
            self._delete(cur, collection, removed, old, batch)
            self._insert(cur, collection, records, old, batch)
            if not batch.areas:
                raise psycopg.Rollback()  # nothing there to change: no generation spent
            cur.executemany(
                "INSERT INTO changes VALUES (%s, %s, %s, %s, %s, %s)",
                [(collection, generation, b.minx, b.miny, b.maxx, b.maxy) for b in batch.areas])
            self._prune_changes(cur, collection)
        return batch.result()

    @staticmethod
    def _next_generation(cur: psycopg.Cursor, collection: str) -> int:
        """Bump the counter; its row stays locked until commit, so writers take turns."""
        return int(_only_row(cur.execute(
            "INSERT INTO meta VALUES (%s, 'generation', '1') ON CONFLICT (collection, key) "
            "DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value", (collection,)))[0])

    @staticmethod
    def _boxes(cur: psycopg.Cursor, collection: str, keys: list[str]) -> dict[str, BBox]:
        """The current boxes of the items a write touches (their old areas)."""
        if not keys:
            return {}
        rows = cur.execute(
            f"SELECT i.key, {_BOX} FROM items i WHERE i.collection = %s AND i.key = ANY(%s)", (collection, keys))
        return {key: BBox.from_bounds(box, WGS84) for key, *box in rows}

    @staticmethod
    def _delete(cur: psycopg.Cursor, collection: str, keys: list[str], old: dict[str, BBox], batch: _Batch) -> None:
        gone = [key for key in dict.fromkeys(keys) if key in old]
        if not gone:
            return
        batch.areas += [old.pop(key) for key in gone]
        batch.removed = len(gone)
        cur.execute("DELETE FROM items WHERE collection = %s AND key = ANY(%s)", (collection, gone))

    @staticmethod
    def _insert(cur: psycopg.Cursor, collection: str, records: list[ItemRecord], old: dict[str, BBox],
                batch: _Batch) -> None:
        """Upsert each record; a key repeated in the batch replaces its earlier record, as in SQLite."""
        rows = []
        for record in records:
            box = footprint_box(record.footprint, record.source)
            if record.key in old:
                batch.updated += 1
                batch.areas.append(old[record.key])
            else:
                batch.added += 1
            batch.areas.append(box)
            old[record.key] = box
            rows.append(_row(collection, record, box))
        cur.executemany(_UPSERT, rows)

    @staticmethod
    def _prune_changes(cur: psycopg.Cursor, collection: str) -> None:
        row = cur.execute(
            "SELECT generation FROM changes WHERE collection = %s ORDER BY generation DESC LIMIT 1 OFFSET %s",
            (collection, KEEP_CHANGES)).fetchone()
        if row is not None:
            cur.execute("DELETE FROM changes WHERE collection = %s AND generation <= %s", (collection, row[0]))
            cur.execute(
                "INSERT INTO meta VALUES (%s, 'changes_floor', %s) ON CONFLICT (collection, key) "
                "DO UPDATE SET value = EXCLUDED.value", (collection, str(row[0])))

    def get_meta(self, collection: str, key: str) -> str | None:
        row = self._connect().execute(
            "SELECT value FROM meta WHERE collection = %s AND key = %s", (collection, key)).fetchone()
        return row[0] if row else None

    def set_meta(self, collection: str, key: str, value: str) -> None:
        self._connect().execute(
            "INSERT INTO meta VALUES (%s, %s, %s) ON CONFLICT (collection, key) DO UPDATE SET value = EXCLUDED.value",
            (collection, key, value))


def _row(collection: str, record: ItemRecord, box: BBox) -> tuple:
    """The parameters of ``_UPSERT`` for one record."""
    info = record.source
    outline = json.dumps(record.footprint) if record.footprint else None
    footprint = outline or shapely.to_geojson(lonlat_shape(box))
    return (collection, record.key, info.path, record.mtime, record.size, _instant(info.acquired),
            info_to_json(info), json.dumps(record.properties), outline, footprint, *box.as_tuple())
