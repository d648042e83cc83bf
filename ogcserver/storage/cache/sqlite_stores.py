"""Single-file tile stores: MBTiles 1.3 and GeoPackage 1.2 tiles, one file per layer version.

    ROOT/{layer}/{style}/{tms}/{version}.mbtiles   (or .gpkg)

Each tile is written in its own SQLite transaction (atomic; WAL lets readers go on), locks are
the same ``flock`` files as the directory store's. Empty tiles are stored as rows too: readers of
these files (GDAL, QGIS) expect every tile in the tiles table.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ogcserver.model.tiles import StoredTile, TileKey
from ogcserver.storage.cache.locks import file_lock


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

MBTILES_SCHEMA = """
CREATE TABLE IF NOT EXISTS metadata (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB,
    PRIMARY KEY (zoom_level, tile_column, tile_row));
CREATE TABLE IF NOT EXISTS tile_times (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, mtime REAL,
    PRIMARY KEY (zoom_level, tile_column, tile_row));
"""

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
"""


class SqliteTileStore:
    """MBTiles (``kind='mbtiles'``, rows counted from the bottom) or GeoPackage (from the top)."""

    def __init__(self, root: Path, kind: str, describe_matrix: Callable[[str, int], MatrixInfo]) -> None:
        self.root = root
        self.kind = kind
        self.ext = "mbtiles" if kind == "mbtiles" else "gpkg"
        self.describe_matrix = describe_matrix
        (root / ".locks").mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

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
        if not path.exists():
            if not create:
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
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
        row = con.execute(
            "SELECT t.tile_data, m.mtime FROM tiles t LEFT JOIN tile_times m ON m.zoom_level = t.zoom_level "
            "AND m.tile_column = t.tile_column AND m.tile_row = t.tile_row "
            "WHERE t.zoom_level = ? AND t.tile_column = ? AND t.tile_row = ?",
            (key.z, key.x, self._row(key)),
        ).fetchone()
        if row is None:
            return None
        data, mtime = row
        mtime = mtime or 0.0
        return StoredTile(bytes(data), mtime, hashlib.sha1(data).hexdigest()[:16])

    def _put(self, key: TileKey, data: bytes) -> None:
        con = self._db(key, create=True)
        row, now = self._row(key), time.time()
        con.execute("BEGIN IMMEDIATE")
        try:
            self._describe_zoom(con, key)
            con.execute("INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)",
                        (key.z, key.x, row, data))
            con.execute("INSERT OR REPLACE INTO tile_times VALUES (?, ?, ?, ?)", (key.z, key.x, row, now))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

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
        cur = con.execute("DELETE FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                          (key.z, key.x, self._row(key)))
        return cur.rowcount > 0

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
        cur = con.execute("DELETE FROM tiles WHERE zoom_level = ? AND tile_column BETWEEN ? AND ? "
                          "AND tile_row BETWEEN ? AND ?", (z, x0, x1, y0, y1))
        return cur.rowcount

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
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as con, con:
                removed += con.execute("DELETE FROM tiles WHERE zoom_level = ?", (z,)).rowcount
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
