"""What every catalog backend does the same way above its own SQL: turning upserts, removals
and folder scans into one write of records and removed keys, building a selection's
conditions, and the small lookups whose SQL differs only in its placeholder."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from ogcserver.model.catalog import ItemRecord, Refusal, Selection, SyncResult
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.geo import WGS84, BBox
from ogcserver.storage.catalogs.sql_filter import compile_filter
from ogcserver.storage.catalogs.sql_order import Dialect, locked_ids, order_by

UNREADABLE = "unreadable:"  # meta key prefix of items marked unreadable


class CatalogWrites:
    """Mixed into a backend that provides ``_connect`` (a DB-API connection whose ``execute``
    returns rows), ``_write`` (one transaction), ``get_meta``, its placeholder ``MARK`` and
    ``_time`` (a stored acquisition time to an aware datetime)."""

    MARK = "?"

    def _connect(self) -> Any:  # a sqlite3 or psycopg connection
        raise NotImplementedError

    def _write(self, collection: str, records: list[ItemRecord], removed: list[str]) -> SyncResult:
        raise NotImplementedError

    def get_meta(self, collection: str, key: str) -> str | None:
        raise NotImplementedError

    def set_meta(self, collection: str, key: str, value: str) -> None:
        raise NotImplementedError

    # -- items found unreadable when read (kept beside the items, so a write never races a scan)
    def mark_unreadable(self, collection: str, key: str, reason: str, stamp: str = "") -> None:
        """Record that an item could not be read, and why; ``stamp`` is the indexed file's state
        the mark applies to (a changed file is no longer marked)."""
        self.set_meta(collection, UNREADABLE + key, json.dumps({"reason": reason, "stamp": stamp}))

    def unreadable(self, collection: str) -> dict[str, tuple[str, str]]:
        """Marked items of a collection: key -> (reason, stamp)."""
        m = self.MARK
        rows = self._connect().execute(
            f"SELECT key, value FROM meta WHERE collection = {m} AND key LIKE {m}", (collection, UNREADABLE + "%"))
        marks = {}
        for key, value in rows.fetchall():
            mark = json.loads(value)
            marks[key[len(UNREADABLE):]] = (mark["reason"], mark["stamp"])
        return marks

    @staticmethod
    def _time(value: Any, /) -> datetime | None:
        raise NotImplementedError

    DIALECT: Dialect = "sqlite"

    def _area_condition(self, area: BBox) -> tuple[str, list]:
        raise NotImplementedError

    @staticmethod
    def _time_value(value: datetime, /) -> Any:
        raise NotImplementedError

    def _conditions(self, collection: str, selection: Selection) -> tuple[str, list]:
        """WHERE and ORDER BY text of a selection, with its parameters; only the area test and
        the stored form of times differ between backends."""
        m = self.MARK
        where, params = [f"i.collection = {m}"], [collection]
        if selection.area is not None:
            sql, more = self._area_condition(selection.area)
            where.append(sql)
            params += more
        if selection.time is not None:
            where.append(f"i.acquired >= {m} AND i.acquired <= {m}")
            params += [self._time_value(selection.time.start), self._time_value(selection.time.end)]
        if selection.where is not None:
            sql, more = compile_filter(selection.where, self.DIALECT)
            where.append(f"({sql})")
            params += more
        lock_sql, lock_params = locked_ids(selection.ordering, self.DIALECT)
        if lock_sql:
            where.append(lock_sql)
            params += lock_params
        order_sql, order_params = order_by(selection.ordering, selection.focus, self.DIALECT)
        return "WHERE " + " AND ".join(where) + " " + order_sql, params + order_params

    def _stamps(self, collection: str) -> dict[str, tuple[float, int]]:
        """(mtime, size) of every item, by key, as indexed."""
        rows = self._connect().execute(f"SELECT key, mtime, size FROM items WHERE collection = {self.MARK}",
                                       (collection,))
        return {key: (mtime, size) for key, mtime, size in rows}

    def times(self, collection: str, limit: int) -> list[datetime]:
        """Distinct acquisition times, oldest first (at most ``limit``)."""
        m = self.MARK
        rows = self._connect().execute(
            f"SELECT DISTINCT acquired FROM items WHERE collection = {m} AND acquired IS NOT NULL "
            f"ORDER BY acquired LIMIT {m}", (collection, limit))
        return [t for r in rows if (t := self._time(r[0])) is not None]

    def collections(self) -> list[str]:
        rows = self._connect().execute(
            "SELECT collection FROM meta WHERE collection <> '' UNION SELECT collection FROM refused ORDER BY 1")
        return [r[0] for r in rows]

    # -- refused files -------------------------------------------------------------------------
    def refusals(self, collection: str) -> list[Refusal]:
        """The files of a collection refused as they are, with their reasons, by key."""
        rows = self._connect().execute(
            f"SELECT key, path, reason, mtime, size FROM refused WHERE collection = {self.MARK} ORDER BY key",
            (collection,))
        return [Refusal(*row) for row in rows]

    def refuse(self, collection: str, refusal: Refusal) -> None:
        """Record a refused file (replacing an earlier refusal of its key)."""
        m = self.MARK
        self._connect().execute(
            f"INSERT INTO refused (collection, key, path, reason, mtime, size) VALUES ({m}, {m}, {m}, {m}, {m}, {m}) "
            "ON CONFLICT (collection, key) DO UPDATE SET path = excluded.path, reason = excluded.reason, "
            "mtime = excluded.mtime, size = excluded.size",
            (collection, refusal.key, refusal.path, refusal.reason, refusal.mtime, refusal.size))

    def _unrefuse(self, collection: str, keys: Iterable[str]) -> None:
        """Forget the refusals of keys that are now items, removed or gone."""
        keys = set(keys)
        if not keys:
            return
        m = self.MARK
        con = self._connect()
        refused = {r[0] for r in con.execute(f"SELECT key FROM refused WHERE collection = {m}", (collection,))}
        for key in refused & keys:
            con.execute(f"DELETE FROM refused WHERE collection = {m} AND key = {m}", (collection, key))

    def changes_since(self, collection: str, generation: int) -> tuple[BBox, ...] | None:
        """Boxes changed after ``generation``; None when they are no longer all recorded."""
        floor = int(self.get_meta(collection, "changes_floor") or 0)
        if generation < floor:
            return None
        m = self.MARK
        rows = self._connect().execute(
            f"SELECT minx, miny, maxx, maxy FROM changes WHERE collection = {m} AND generation > {m} "
            "ORDER BY generation", (collection, generation))
        return tuple(BBox.from_bounds(r, WGS84) for r in rows)

    def upsert(self, collection: str, records: Iterable[ItemRecord]) -> SyncResult:
        """Add items, or replace those whose key exists, in one transaction."""
        records = list(records)
        result = self._write(collection, records, [])
        self._unrefuse(collection, [r.key for r in records])
        return result

    def remove(self, collection: str, keys: Iterable[str]) -> SyncResult:
        keys = list(keys)
        result = self._write(collection, [], keys)
        self._unrefuse(collection, keys)
        return result

    def sync(
        self,
        collection: str,
        files: Iterable[tuple[str, str, float, int]],
        describe: Callable[[str, str], ItemRecord],
    ) -> SyncResult:
        """Bring a folder collection in line with (key, path, mtime, size) rows: add new files,
        re-describe changed ones, drop vanished ones. A file that cannot be published is recorded
        as refused, with its reason, and not examined again until it changes."""
        known = self._stamps(collection)
        refused = {r.key: (r.mtime, r.size) for r in self.refusals(collection)}
        wanted = {key: (path, mtime, size) for key, path, mtime, size in files}
        records, newly = [], []
        for key, (path, mtime, size) in wanted.items():
            if known.get(key) == (mtime, size) or refused.get(key) == (mtime, size):
                continue
            try:
                records.append(replace(describe(key, path), mtime=mtime, size=size))
            except SourceUnavailable as exc:
                newly.append(Refusal(key, path, getattr(exc, "reason", exc.message), mtime, size))
        for refusal in newly:
            self.refuse(collection, refusal)
        self._unrefuse(collection, [k for k in refused if k not in wanted] + [r.key for r in records])
        removed = [k for k in known if k not in wanted] + [r.key for r in newly if r.key in known]
        if not records and not removed:
            return SyncResult(refused=tuple(newly))
        return replace(self._write(collection, records, removed), refused=tuple(newly))
