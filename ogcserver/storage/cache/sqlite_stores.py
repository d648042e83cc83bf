"""Single-file tile stores: MBTiles 1.3 and GeoPackage 1.2 tiles, one file per layer version.

    ROOT/{layer}/{style}/{tms}/{version}.mbtiles   (or .gpkg)

Each tile is written in its own SQLite transaction (atomic; WAL lets readers go on), locks are
the same ``flock`` files as the directory store's. Empty tiles are stored as rows too: readers of
these files (GDAL, QGIS) expect every tile in the tiles table. Each row holds its own blob (nothing
is shared), so evicting a tile never breaks another.

Least-recently-used eviction reads the side table ``ogcserver_access`` (ours, like ``tile_times``:
the standard tables keep their columns). New files use ``auto_vacuum=INCREMENTAL`` so that evicted
tiles shrink the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ogcserver.model.tiles import StoredTile, TileKey
from ogcserver.storage.cache.directory import ATIME_RESOLUTION
from ogcserver.storage.cache.locks import check_writable, file_lock

EVICT_BATCH = 256  # tiles deleted per transaction: other processes wait for one batch at most


@dataclass(frozen=True)
class MatrixInfo:
    """What a single-file store must record about one zoom level of a tile matrix set."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    pixel_x: float
    pixel_y: float
    bounds: tuple[float, float, float, float]  # of the whole matrix set, in its CRS
    epsg: int | None

ACCESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS ogcserver_access (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, accessed REAL,
    PRIMARY KEY (zoom_level, tile_column, tile_row));
"""

MBTILES_SCHEMA = """
CREATE TABLE IF NOT EXISTS metadata (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB,
    PRIMARY KEY (zoom_level, tile_column, tile_row));
CREATE TABLE IF NOT EXISTS tile_times (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, mtime REAL,
    PRIMARY KEY (zoom_level, tile_column, tile_row));
""" + ACCESS_SCHEMA

GPKG_SCHEMA = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
    organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
    description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
CREATE TABLE IF NOT EXISTS gpkg_tile_matrix_set (table_name TEXT PRIMARY KEY, srs_id INTEGER NOT NULL,
    min_x DOUBLE NOT NULL, min_y DOUBLE NOT NULL, max_x DOUBLE NOT NULL, max_y DOUBLE NOT NULL);
CREATE TABLE IF NOT EXISTS gpkg_tile_matrix (table_name TEXT NOT NULL, zoom_level INTEGER NOT NULL,
    matrix_width INTEGER NOT NULL, matrix_height INTEGER NOT NULL, tile_width INTEGER NOT NULL,
    tile_height INTEGER NOT NULL, pixel_x_size DOUBLE NOT NULL, pixel_y_size DOUBLE NOT NULL,
    PRIMARY KEY (table_name, zoom_level));
CREATE TABLE IF NOT EXISTS tiles (id INTEGER PRIMARY KEY AUTOINCREMENT, zoom_level INTEGER NOT NULL,
    tile_column INTEGER NOT NULL, tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL,
    UNIQUE (zoom_level, tile_column, tile_row));
CREATE TABLE IF NOT EXISTS tile_times (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, mtime REAL,
    PRIMARY KEY (zoom_level, tile_column, tile_row));
""" + ACCESS_SCHEMA

# a file's tiles, least recently used (read or written) first; tiles from before the access table
# count as used when written
BY_LAST_USE = """
SELECT coalesce(a.accessed, m.mtime, 0) AS used, t.zoom_level, t.tile_column, t.tile_row, length(t.tile_data)
FROM tiles t
LEFT JOIN tile_times m ON m.zoom_level = t.zoom_level AND m.tile_column = t.tile_column AND m.tile_row = t.tile_row
LEFT JOIN ogcserver_access a ON a.zoom_level = t.zoom_level AND a.tile_column = t.tile_column
    AND a.tile_row = t.tile_row
ORDER BY used, t.zoom_level, t.tile_column, t.tile_row
"""

RECORD_ACCESS = "INSERT OR REPLACE INTO ogcserver_access VALUES (?, ?, ?, ?)"

HELD_BYTES = ("SELECT (page_count - freelist_count) * page_size "
              "FROM pragma_page_count, pragma_freelist_count, pragma_page_size")


@contextlib.contextmanager
def _immediate(con: sqlite3.Connection) -> Iterator[None]:
    """One write transaction that takes the write lock at once (no deadlock upgrading a read)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _held(con: sqlite3.Connection) -> int:
    """Bytes of the pages in use: SQLite reuses the pages on its freelist, so they count as free."""
    return con.execute(HELD_BYTES).fetchone()[0]


def _overhead(con: sqlite3.Connection) -> int:
    """The bytes a tile holds besides its data (bookkeeping rows, keys, page slack), on average.

    Small tiles hold far more than their data: counted as data alone, a sweep would evict too many.
    """
    count, data = con.execute("SELECT count(*), coalesce(sum(length(tile_data)), 0) FROM tiles").fetchone()
    return max(0, _held(con) - data) // count if count else 0


def _by_last_use(tag: int, con: sqlite3.Connection,
                 cursor: sqlite3.Cursor) -> Iterator[tuple[float, int, int, int, int, int]]:
    """One file's tiles, least recently used first, with the bytes each holds; tagged with the file for merging."""
    overhead = _overhead(con)
    for used, z, x, row, size in cursor:
        yield used, tag, z, x, row, size + overhead


TILE_TABLES = ("tile_times", "ogcserver_access", "tiles")  # a tile's rows; ``tiles`` last, for the count
ONE_TILE = "zoom_level = ? AND tile_column = ? AND tile_row = ?"


def _delete_tiles(con: sqlite3.Connection, where: str, params: list[tuple]) -> int:
    """Delete the tiles matching ``where`` (once per parameter tuple) with their bookkeeping rows,
    in one transaction; the number of tiles deleted."""
    deleted = 0
    with _immediate(con):
        for table in TILE_TABLES:
            deleted = con.executemany(f"DELETE FROM {table} WHERE {where}", params).rowcount
    return deleted


def _evict(con: sqlite3.Connection, tiles: list[tuple[int, int, int]]) -> int:
    """Delete tiles with their bookkeeping in short batches, giving the freed pages back to the disk."""
    evicted = 0
    for start in range(0, len(tiles), EVICT_BATCH):
        evicted += _delete_tiles(con, ONE_TILE, tiles[start : start + EVICT_BATCH])
        # a no-op unless auto_vacuum=INCREMENTAL; run as a script: execute() steps it once, freeing one page
        con.executescript("PRAGMA incremental_vacuum;")
    return evicted


class SqliteTileStore:
    """MBTiles (``kind='mbtiles'``, rows counted from the bottom) or GeoPackage (from the top)."""

    def __init__(self, root: Path, kind: str, describe_matrix: Callable[[str, int], MatrixInfo]) -> None:
        self.root = root
        self.kind = kind
        self.ext = "mbtiles" if kind == "mbtiles" else "gpkg"
        self.describe_matrix = describe_matrix
        (root / ".locks").mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def check(self) -> None:
        check_writable(self.root / ".locks")

    def _file(self, key: TileKey) -> Path:
        return self.root / key.layer / key.style / key.tms / f"{key.version}.{self.ext}"

    def _db(self, key: TileKey, create: bool) -> sqlite3.Connection | None:
        path = self._file(key)
        cache = getattr(self._local, "dbs", None)
        if cache is None or getattr(self._local, "pid", None) != os.getpid():
            cache = self._local.dbs = {}
            self._local.pid = os.getpid()
        con = cache.get(path)
        if con is not None:
            return con
        new = not path.exists()
        if new:
            if not create:
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        if new:  # only possible before the first table: lets eviction shrink the file
            con.execute("PRAGMA auto_vacuum = INCREMENTAL")
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(MBTILES_SCHEMA if self.kind == "mbtiles" else GPKG_SCHEMA)
        if self.kind == "mbtiles":
            con.execute("INSERT OR IGNORE INTO metadata VALUES ('name', ?), ('format', ?), ('version', ?)",
                        (key.layer, "jpg" if key.ext == "jpg" else "png", key.version))
        else:
            con.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
            con.execute("PRAGMA user_version = 10200")
            con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) VALUES ('tiles', 'tiles', ?)",
                        (key.layer,))
        cache[path] = con
        return con

    def _row(self, key: TileKey) -> int:
        if self.kind != "mbtiles":
            return key.y
        return self.describe_matrix(key.tms, key.z).height - 1 - key.y  # MBTiles rows count from the bottom

    def _describe_zoom(self, con: sqlite3.Connection, key: TileKey) -> None:
        """GeoPackage readers (GDAL, QGIS) need the matrix of every zoom that holds tiles."""
        if self.kind == "mbtiles":
            return
        m = self.describe_matrix(key.tms, key.z)
        srs = m.epsg or -1
        if srs > 0:
            con.execute("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, 'EPSG', ?, ?, '')",
                        (f"EPSG:{srs}", srs, srs, "undefined"))
        con.execute("INSERT OR IGNORE INTO gpkg_tile_matrix_set VALUES ('tiles', ?, ?, ?, ?, ?)", (srs, *m.bounds))
        con.execute("UPDATE gpkg_contents SET srs_id = ?, min_x = ?, min_y = ?, max_x = ?, max_y = ? "
                    "WHERE table_name = 'tiles'", (srs, *m.bounds))
        con.execute("INSERT OR IGNORE INTO gpkg_tile_matrix VALUES ('tiles', ?, ?, ?, ?, ?, ?, ?)",
                    (key.z, m.width, m.height, m.tile_width, m.tile_height, m.pixel_x, m.pixel_y))

    def get(self, key: TileKey) -> StoredTile | None:
        con = self._db(key, create=False)
        if con is None:
            return None
        tile_row = self._row(key)
        row = con.execute(
            "SELECT t.tile_data, m.mtime, a.accessed FROM tiles t "
            "LEFT JOIN tile_times m ON m.zoom_level = t.zoom_level "
            "AND m.tile_column = t.tile_column AND m.tile_row = t.tile_row "
            "LEFT JOIN ogcserver_access a ON a.zoom_level = t.zoom_level "
            "AND a.tile_column = t.tile_column AND a.tile_row = t.tile_row "
            "WHERE t.zoom_level = ? AND t.tile_column = ? AND t.tile_row = ?",
            (key.z, key.x, tile_row),
        ).fetchone()
        if row is None:
            return None
        data, mtime, accessed = row
        now = time.time()
        if accessed is None or now - accessed > ATIME_RESOLUTION:  # a write per tile per period at most
            self._touch(con, (key.z, key.x, tile_row), now)
        mtime = mtime or 0.0
        return StoredTile(bytes(data), mtime, hashlib.sha1(data).hexdigest()[:16])

    @staticmethod
    def _touch(con: sqlite3.Connection, tile: tuple[int, int, int], now: float) -> None:
        """Record a read for eviction; a busy or read-only file costs the record, never the request."""
        with contextlib.suppress(sqlite3.OperationalError):
            con.execute(RECORD_ACCESS, (*tile, now))

    def _put(self, key: TileKey, data: bytes) -> None:
        con = self._db(key, create=True)
        assert con is not None, "create=True always opens the file"
        row, now = self._row(key), time.time()
        with _immediate(con):
            self._describe_zoom(con, key)
            con.execute("INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)",
                        (key.z, key.x, row, data))
            con.execute("INSERT OR REPLACE INTO tile_times VALUES (?, ?, ?, ?)", (key.z, key.x, row, now))
            # a new tile counts as just used (an access row left from before would make it look old)
            con.execute(RECORD_ACCESS, (key.z, key.x, row, now))

    def put(self, key: TileKey, data: bytes) -> None:
        self._put(key, data)

    def put_empty(self, key: TileKey, data: bytes) -> None:
        self._put(key, data)

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.root / ".locks", name)

    def delete(self, key: TileKey) -> bool:
        con = self._db(key, create=False)
        if con is None:
            return False
        return _delete_tiles(con, ONE_TILE, [(key.z, key.x, self._row(key))]) > 0

    def enforce_quota(self, max_bytes: int) -> int:
        """Evict least recently used tiles (of all files) until the files hold at most 90% of ``max_bytes``.

        Freed bytes are measured after each pass: rows share pages, so a pass may free less than
        its estimate and another pass follows.
        """
        with contextlib.ExitStack() as stack:
            cons = [stack.enter_context(contextlib.closing(self._sweep_db(path))) for path in self._files()]
            held = sum(map(_held, cons))
            if held <= max_bytes:
                return 0
            evicted, target = 0, int(max_bytes * 0.9)
            while held > target:
                victims = self._least_recent(cons, held - target)
                if not victims:
                    break
                evicted += sum(_evict(cons[tag], tiles) for tag, tiles in victims.items())
                held = sum(map(_held, cons))
            return evicted

    @staticmethod
    def _sweep_db(path: Path) -> sqlite3.Connection:
        """A connection of its own for a sweep or truncation (its thread ends); adds the access table
        to files written before it."""
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        con.execute(ACCESS_SCHEMA)
        return con

    @staticmethod
    def _least_recent(cons: list[sqlite3.Connection], excess: int) -> dict[int, list[tuple[int, int, int]]]:
        """The least recently used tiles over all files that hold about ``excess`` bytes, by file."""
        victims: dict[int, list[tuple[int, int, int]]] = {}
        with contextlib.ExitStack() as stack:  # closing the cursors ends their read transactions
            cursors = [stack.enter_context(contextlib.closing(con.execute(BY_LAST_USE))) for con in cons]
            for _used, tag, z, x, row, size in heapq.merge(*map(_by_last_use, range(len(cons)), cons, cursors)):
                if excess <= 0:
                    break
                victims.setdefault(tag, []).append((z, x, row))
                excess -= size
        return victims

    def delete_area(self, layer: str, style: str, tms: str, version: str, z: int,
                    span: tuple[int, int, int, int]) -> int:
        key = TileKey(layer, style, tms, version, z, 0, 0, "png")
        con = self._db(key, create=False)
        if con is None:
            return 0
        x0, y0, x1, y1 = span
        if self.kind == "mbtiles":
            height = self.describe_matrix(tms, z).height
            y0, y1 = height - 1 - y1, height - 1 - y0
        return _delete_tiles(con, "zoom_level = ? AND tile_column BETWEEN ? AND ? AND tile_row BETWEEN ? AND ?",
                             [(z, x0, x1, y0, y1)])

    def point_current(self, layer: str, style: str, tms: str, version: str) -> None:
        """Single-file stores are read through ogcserver only: nothing to switch."""

    def _files(self, layer: str | None = None) -> list[Path]:
        pattern = f"{layer or '*'}/*/*/*.{self.ext}"
        return sorted(self.root.glob(pattern))

    def delete_zoom(self, layer: str, tms: str, z: int) -> int:
        removed = 0
        for path in self._files(layer):
            if path.parent.name != tms:
                continue
            with contextlib.closing(self._sweep_db(path)) as con:
                removed += _delete_tiles(con, "zoom_level = ?", [(z,)])
        return removed

    def delete_layer(self, layer: str) -> None:
        for path in self._files(layer):
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(str(path) + suffix)
        self._local = threading.local()

    def stats(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for path in self._files():
            layer = path.relative_to(self.root).parts[0]
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as con:
                tiles, size = con.execute("SELECT count(*), coalesce(sum(length(tile_data)), 0) FROM tiles").fetchone()
            entry = out.setdefault(layer, {"tiles": 0, "bytes": 0})
            entry["tiles"] += tiles
            entry["bytes"] += size
        return out
