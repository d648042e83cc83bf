"""Tile addresses and stored tiles."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TileKey:
    """Everything that decides a tile's pixels: cached under this key and nothing less."""

    layer: str
    style: str
    tms: str
    version: str  # the layer's source/config version: changed data never serves stale tiles
    z: int
    x: int
    y: int
    ext: str


@dataclass(frozen=True)
class StoredTile:
    body: bytes
    mtime: float
    etag: str
