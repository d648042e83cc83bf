"""The narrow interfaces the core depends on; ``app.py`` hands it concrete implementations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import BinaryIO, Protocol

import numpy as np

from ogcserver.model.catalog import (
    BandStatistics,
    CatalogItem,
    CollectionStats,
    ItemRecord,
    Refusal,
    Selection,
    SourceInfo,
    SyncResult,
)
from ogcserver.model.coverage import EncodedCoverage
from ogcserver.model.dimensions import Dimension, Slice
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid, Raster
from ogcserver.model.reduction import StepReduction
from ogcserver.model.tiles import StoredTile, TileKey


class RasterReader(Protocol):
    def describe(self, path: str, own: bool = False, variable: str = "") -> SourceInfo:
        """A file's description; SourceRefused when it may not be published (``own``: a file the
        server wrote, exempt from the limits on published files; ``variable``: the one to read
        of a multidimensional file)."""

    def vet(self, path: str) -> None:
        """SourceRefused for a file that may not be published, checked without opening it as a raster
        (for items whose metadata describes them)."""

    def read(
        self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling
    ) -> Raster | None:
        """Warp ``bands`` of the source onto ``grid``; None when nothing of it lands there."""

    def reduce(self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling,
               reduction: StepReduction) -> Raster | None:
        """A statistic of the source's steps on ``grid``, the same values as ``read`` of each step
        added to a ``Running`` on the grid; None when no step has a value there."""

    def sample(self, source: SourceInfo, x: float, y: float, crs: str) -> list[float] | None:
        """Band values at a point, or None where the source has no valid data."""

    def series(self, source: SourceInfo, x: float, y: float, crs: str, steps: Sequence[Slice]) -> list[float] | None:
        """The first band's value at a point at each step (NaN where a step has none), read in
        as few chunk reads as the format allows; None where the point is off the source."""

    def statistics(self, source: SourceInfo, bands: Sequence[int]) -> tuple[BandStatistics, ...]: ...

    def release(self) -> None:
        """After a request: give back memory that only its reads needed (big blocks, buffers)."""

    def original(self, source: SourceInfo) -> tuple[BinaryIO, int]:
        """The source file, open for reading, and its size in bytes."""

    def footprint(self, source: SourceInfo) -> dict | None:
        """GeoJSON outline of the valid pixels in lon/lat; None: use the extent. SourceUnavailable
        when no pixel is valid."""

    def forget_handles(self) -> None:
        """Drop this process's open handles, so files that changed are opened afresh."""


class RasterWriter(Protocol):
    """Writes rasters the core computed (mosaic-level overviews), one file at a time."""

    def begin(self, path: str, grid: Grid, count: int, dtype: str, copy_from: str | None = None) -> None: ...

    def write(self, window: tuple[int, int, int, int], data: np.ndarray, valid: np.ndarray) -> None: ...

    def close(self) -> None: ...


class CubeEncoder(Protocol):
    """Encodes a finished GeoTIFF coverage whose bands are steps as one multidimensional file."""

    def encode(self, coverage: EncodedCoverage, dimensions: tuple[Dimension, ...], steps: Sequence[Slice],
               variable: str, units: str) -> EncodedCoverage: ...


class CatalogStore(Protocol):
    """Collections of items (SQLite embedded, PostGIS shared); every change bumps a generation."""

    def items(self, collection: str) -> list[CatalogItem]: ...

    def item(self, collection: str, key: str) -> CatalogItem | None: ...

    def select(self, collection: str, selection: Selection, limit: int, offset: int = 0) -> list[CatalogItem]:
        """Items matching the selection (area tested against footprints), in its order."""

    def stats(self, collection: str) -> CollectionStats: ...

    def times(self, collection: str, limit: int) -> list[datetime]:
        """Distinct acquisition times, oldest first."""

    def collections(self) -> list[str]: ...

    def create(self, collection: str) -> bool: ...

    def drop(self, collection: str) -> int: ...

    def upsert(self, collection: str, records: Iterable[ItemRecord]) -> SyncResult: ...

    def remove(self, collection: str, keys: Iterable[str]) -> SyncResult: ...

    def sync(
        self, collection: str, files: Iterable[tuple[str, str, float, int]],
        describe: Callable[[str, str], ItemRecord],
    ) -> SyncResult:
        """Bring a folder collection in line with (key, path, mtime, size) rows."""

    def refusals(self, collection: str) -> list[Refusal]:
        """Files of the collection refused as they are, with their reasons."""

    def refuse(self, collection: str, refusal: Refusal) -> None:
        """Record a refused file; its key's refusal is forgotten once it becomes an item or is removed."""

    def changes_since(self, collection: str, generation: int) -> tuple[BBox, ...] | None:
        """Lon/lat boxes changed after a generation; None when no longer all recorded."""

    def get_meta(self, collection: str, key: str) -> str | None: ...

    def set_meta(self, collection: str, key: str, value: str) -> None: ...

    def mark_unreadable(self, collection: str, key: str, reason: str, stamp: str = "") -> None:
        """Record that an item (in the state ``stamp``) could not be read, and why."""

    def unreadable(self, collection: str) -> dict[str, tuple[str, str]]:
        """Items marked unreadable: key -> (reason, stamp)."""


class TileStore(Protocol):
    """Where tiles live; locking, metatiles and expiry are the orchestrator's (core/tilecache)."""

    def get(self, key: TileKey) -> StoredTile | None: ...

    def check(self) -> None:
        """Raise OSError unless tiles can be stored now (readiness)."""

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

    def delete_zoom(self, layer: str, tms: str, z: int) -> int:
        """Drop every tile of one zoom level (all styles and versions); returns how many were there."""

    def delete_layer(self, layer: str) -> None: ...

    def enforce_quota(self, max_bytes: int) -> int:
        """Evict least recently used tiles until the store holds at most 90% of ``max_bytes``;
        returns how many were evicted."""

    def stats(self) -> dict[str, dict[str, int]]:
        """Tiles and bytes per layer."""
