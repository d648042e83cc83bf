"""What every catalog backend does the same way above its own SQL: turning upserts, removals
and folder scans into one write of records and removed keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from ogcserver.model.catalog import ItemRecord, SyncResult
from ogcserver.model.errors import SourceUnavailable


class CatalogWrites:
    """Mixed into a backend that provides ``_write`` (one transaction) and ``_stamps``."""

    def _write(self, collection: str, records: list[ItemRecord], removed: list[str]) -> SyncResult:
        raise NotImplementedError

    def _stamps(self, collection: str) -> dict[str, tuple[float, int]]:
        """(mtime, size) of every item, by key, as indexed."""
        raise NotImplementedError

    def upsert(self, collection: str, records: Iterable[ItemRecord]) -> SyncResult:
        """Add items, or replace those whose key exists, in one transaction."""
        return self._write(collection, list(records), [])

    def remove(self, collection: str, keys: Iterable[str]) -> SyncResult:
        return self._write(collection, [], list(keys))

    def sync(
        self,
        collection: str,
        files: Iterable[tuple[str, str, float, int]],
        describe: Callable[[str, str], ItemRecord],
    ) -> SyncResult:
        """Bring a folder collection in line with (key, path, mtime, size) rows: add new files,
        re-describe changed ones, drop vanished ones; unreadable files are left out until they
        change again."""
        known = self._stamps(collection)
        wanted = {key: (path, mtime, size) for key, path, mtime, size in files}
        records, broken = [], []
        for key, (path, mtime, size) in wanted.items():
            if known.get(key) == (mtime, size):
                continue
            try:
                records.append(replace(describe(key, path), mtime=mtime, size=size))
            except SourceUnavailable:
                broken.append(key)
        removed = [k for k in known if k not in wanted] + [k for k in broken if k in known]
        if not records and not removed:
            return SyncResult()
        return self._write(collection, records, removed)
