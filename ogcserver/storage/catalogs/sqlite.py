"""The embedded catalog: one SQLite file with an R*Tree over item footprints in lon/lat.

Each layer is a collection; a folder mosaic's rows are brought in line with the files on disk
by ``sync``, which several worker processes may call at once (WAL, immediate transactions).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from ogcserver.model.catalog import CatalogItem, SourceInfo, SyncResult
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.geo import WGS84, BBox, transform_bbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    path TEXT NOT NULL,
    mtime REAL NOT NULL,
    size INTEGER NOT NULL,
    acquired TEXT,
    info TEXT NOT NULL,
    UNIQUE (collection, path)
);
CREATE VIRTUAL TABLE IF NOT EXISTS items_rtree USING rtree(id, minx, maxx, miny, maxy);
CREATE TABLE IF NOT EXISTS meta (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (collection, key)
);
"""

ORDER_SQL = {
    # newest on top; undated items last; the path breaks ties so the order is deterministic
    "newest": "i.acquired IS NULL, i.acquired DESC, i.path ASC",
    "oldest": "i.acquired IS NULL, i.acquired ASC, i.path ASC",
    "name": "i.path ASC",
}


def _info_to_json(info: SourceInfo) -> str:
    return json.dumps(
        {
            "path": info.path,
            "crs": info.crs,
            "bounds": info.bounds.as_tuple(),
            "width": info.width,
            "height": info.height,
            "count": info.count,
            "dtype": info.dtype,
            "nodata": info.nodata,
            "band_names": info.band_names,
            "acquired": info.acquired.isoformat() if info.acquired else None,
            "overview_factors": info.overview_factors,
            "attributes": info.attributes,
            "alpha_band": info.alpha_band,
            "palette": info.palette,
        }
    )


def _info_from_json(text: str) -> SourceInfo:
    d = json.loads(text)
    return SourceInfo(
        path=d["path"],
        crs=d["crs"],
        bounds=BBox(*d["bounds"], d["crs"]),
        width=d["width"],
        height=d["height"],
        count=d["count"],
        dtype=d["dtype"],
        nodata=d["nodata"],
        band_names=tuple(d["band_names"]),
        acquired=datetime.fromisoformat(d["acquired"]) if d["acquired"] else None,
        overview_factors=tuple(d["overview_factors"]),
        attributes=d["attributes"],
        alpha_band=d.get("alpha_band"),
        palette=tuple(tuple(c) for c in d["palette"]) if d.get("palette") else None,
    )


def lonlat_footprint(info: SourceInfo) -> BBox:
    """The item's box in lon/lat for the index; one crossing the antimeridian spans every
    longitude (a conservative box: the view window is worked out in the item's own CRS)."""
    try:
        box = transform_bbox(info.bounds, WGS84)
    except Exception as exc:  # noqa: BLE001 - PROJ cannot place it on the globe
        raise SourceUnavailable("footprint cannot be expressed in lon/lat") from exc
    if box.minx > box.maxx and box.miny < box.maxy:
        box = BBox(-180.0, box.miny, 180.0, box.maxy, WGS84)
    if not box.is_valid():
        raise SourceUnavailable("footprint cannot be expressed in lon/lat")
    return box


class SqliteCatalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as con:
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        """One connection per process and thread; never shared across fork."""
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=30000")
            self._local.con, self._local.pid = con, os.getpid()
        return con

    def _rows_to_items(self, rows: Iterable[tuple]) -> list[CatalogItem]:
        items = []
        for item_id, collection, info, minx, maxx, miny, maxy, mtime, size in rows:
            lonlat = BBox(minx, miny, maxx, maxy, WGS84)
            items.append(CatalogItem(item_id, collection, _info_from_json(info), lonlat, f"{mtime!r}:{size}"))
        return items

    _SELECT = (
        "SELECT i.id, i.collection, i.info, r.minx, r.maxx, r.miny, r.maxy, i.mtime, i.size "
        "FROM items i JOIN items_rtree r ON r.id = i.id "
    )

    def items(self, collection: str) -> list[CatalogItem]:
        rows = self._connect().execute(
            self._SELECT + f"WHERE i.collection = ? ORDER BY {ORDER_SQL['name']}", (collection,)
        )
        return self._rows_to_items(rows)

    def items_in(self, collection: str, lonlat: BBox, order: str, limit: int) -> list[CatalogItem]:
        rows = self._connect().execute(
            self._SELECT
            + "WHERE i.collection = ? AND r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ? "
            + f"ORDER BY {ORDER_SQL[order]} LIMIT ?",
            (collection, lonlat.minx, lonlat.maxx, lonlat.miny, lonlat.maxy, limit),
        )
        return self._rows_to_items(rows)

    def item_at(self, collection: str, item_id: int) -> CatalogItem | None:
        rows = self._connect().execute(self._SELECT + "WHERE i.collection = ? AND i.id = ?", (collection, item_id))
        found = self._rows_to_items(rows)
        return found[0] if found else None

    def sync(
        self,
        collection: str,
        files: Iterable[tuple[str, float, int]],
        describe: Callable[[str], SourceInfo],
    ) -> SyncResult:
        """Add new files, re-describe changed ones, drop vanished ones; skip unreadable files.

        A change bumps the collection's generation, so other processes sharing the file notice it.
        """
        con = self._connect()
        known = {
            path: (mtime, size, item_id)
            for item_id, path, mtime, size in con.execute(
                "SELECT id, path, mtime, size FROM items WHERE collection = ?", (collection,)
            )
        }
        wanted = {path: (mtime, size) for path, mtime, size in files}
        changes: list[tuple[str, str, float, int, SourceInfo | None]] = []
        for path, (mtime, size) in wanted.items():
            old = known.get(path)
            if old is not None and old[0] == mtime and old[1] == size:
                continue
            try:
                info = describe(path)
                lonlat_footprint(info)
            except SourceUnavailable:
                info = None  # unreadable: drop any old row, retry when the file changes
            changes.append(("upsert" if old is None else "update", path, mtime, size, info))
        removed = [known[p][2] for p in known if p not in wanted]
        added = updated = dropped = 0
        if not changes and not removed:
            return SyncResult()
        areas: list[BBox] = []
        con.execute("BEGIN IMMEDIATE")
        try:
            old_ids = removed + [known[path][2] for _kind, path, *_ in changes if path in known]
            for minx, maxx, miny, maxy in (
                con.execute("SELECT minx, maxx, miny, maxy FROM items_rtree WHERE id = ?", (i,)).fetchone() or (0, 0, 0, 0)
                for i in old_ids
            ):
                if maxx > minx:
                    areas.append(BBox(minx, miny, maxx, maxy, WGS84))
            for item_id in removed:
                con.execute("DELETE FROM items WHERE id = ?", (item_id,))
                con.execute("DELETE FROM items_rtree WHERE id = ?", (item_id,))
            for kind, path, mtime, size, info in changes:
                old = known.get(path)
                if old is not None:
                    con.execute("DELETE FROM items WHERE id = ?", (old[2],))
                    con.execute("DELETE FROM items_rtree WHERE id = ?", (old[2],))
                if info is None:
                    dropped += old is not None
                    continue
                lonlat = lonlat_footprint(info)
                areas.append(lonlat)
                cur = con.execute(
                    "INSERT OR REPLACE INTO items (collection, path, mtime, size, acquired, info) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (collection, path, mtime, size,
                     info.acquired.isoformat() if info.acquired else None, _info_to_json(info)),
                )
                con.execute(
                    "INSERT INTO items_rtree (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
                    (cur.lastrowid, lonlat.minx, lonlat.maxx, lonlat.miny, lonlat.maxy),
                )
                if kind == "upsert":
                    added += 1
                else:
                    updated += 1
            generation = int(self.get_meta(collection, "generation") or 0) + 1
            self.set_meta(collection, "generation", str(generation))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return SyncResult(added, updated, len(removed) + dropped, tuple(areas))

    def get_meta(self, collection: str, key: str) -> str | None:
        row = self._connect().execute(
            "SELECT value FROM meta WHERE collection = ? AND key = ?", (collection, key)
        ).fetchone()
        return row[0] if row else None

    def set_meta(self, collection: str, key: str, value: str) -> None:
        self._connect().execute(
            "INSERT OR REPLACE INTO meta (collection, key, value) VALUES (?, ?, ?)", (collection, key, value)
        )
