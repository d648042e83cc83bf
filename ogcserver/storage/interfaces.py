"""The narrow interfaces the core depends on; ``app.py`` hands it concrete implementations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from ogcserver.model.catalog import BandStatistics, CatalogItem, SourceInfo, SyncResult
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid, Raster
from ogcserver.model.tiles import StoredTile, TileKey


class RasterReader(Protocol):
    def describe(self, path: str) -> SourceInfo: ...

    def read(
        self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling
    ) -> Raster | None:
        """Warp ``bands`` of the source onto ``grid``; None when nothing of it lands there."""

    def sample(self, source: SourceInfo, x: float, y: float, crs: str) -> list[float] | None:
        """Band values at a point, or None where the source has no valid data."""

    def statistics(self, source: SourceInfo, bands: Sequence[int]) -> tuple[BandStatistics, ...]: ...


class CatalogStore(Protocol):
    def items(self, collection: str) -> list[CatalogItem]: ...

    def items_in(self, collection: str, lonlat: BBox, order: str, limit: int) -> list[CatalogItem]:
        """Items whose lon/lat footprint intersects the box, in mosaic order."""

    def sync(
        self, collection: str, files: Iterable[tuple[str, float, int]], describe
    ) -> SyncResult:
        """Bring the collection in line with (path, mtime, size) rows."""

    def get_meta(self, collection: str, key: str) -> str | None: ...

    def set_meta(self, collection: str, key: str, value: str) -> None: ...


class TileStore(Protocol):
    """Where tiles live; locking, metatiles and expiry are the orchestrator's (core/tilecache)."""

    def get(self, key: TileKey) -> StoredTile | None: ...

    def put(self, key: TileKey, data: bytes) -> None:
        """Store atomically: a reader sees the old tile, the new one, or none; never a part."""

    def put_empty(self, key: TileKey, data: bytes) -> None: ...

    def lock(self, name: str) -> AbstractContextManager[None]: ...

    def delete(self, key: TileKey) -> bool: ...

    def point_current(self, layer: str, style: str, tms: str, version: str) -> None:
        """Make this version the one served without ogcserver (static front)."""

    def delete_area(self, layer: str, style: str, tms: str, version: str, z: int,
                    span: tuple[int, int, int, int]) -> int:
        """Drop tiles x0..x1, y0..y1 of zoom z; returns how many were there."""
