"""Seeding: walk the metatiles of a layer over an area and zoom range, lazily.

The plan is a generator (memory stays flat at any zoom); a metatile whose tiles are already all
cached is skipped, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ogcserver.core import tiling
from ogcserver.model.geo import WGS84, BBox, transform_bbox


@dataclass(frozen=True)
class Metatile:
    z: int
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def tiles(self) -> int:
        return (self.x1 - self.x0 + 1) * (self.y1 - self.y0 + 1)


def plan(tms: tiling.TileMatrixSet, area: BBox, zooms: range, meta_size: int) -> Iterator[Metatile]:
    """Metatiles over the area, zoom by zoom, row by row, aligned and sized exactly like the ones
    the cache renders on demand (so both take the same locks)."""
    for z in zooms:
        box = transform_bbox(area, tms.crs) if area.crs != tms.crs else area
        span = tms.tiles_over(box, z)
        if span is None:
            continue
        x0, y0, x1, y1 = span
        m = tms.tms.matrix(z)
        for my in range((y0 // meta_size) * meta_size, y1 + 1, meta_size):
            for mx in range((x0 // meta_size) * meta_size, x1 + 1, meta_size):
                yield Metatile(z, mx, my, min(mx + meta_size, m.matrixWidth) - 1, min(my + meta_size, m.matrixHeight) - 1)


def count(tms: tiling.TileMatrixSet, area: BBox, zooms: range, meta_size: int) -> tuple[int, int]:
    """(metatiles, tiles) of a plan, without building it."""
    metas = tiles = 0
    for meta in plan(tms, area, zooms, meta_size):
        metas += 1
        tiles += meta.tiles
    return metas, tiles


def lonlat_area(text: str | None, default: BBox) -> BBox:
    if not text:
        return default
    parts = [float(v) for v in text.split(",")]
    if len(parts) != 4:
        raise ValueError("give the area as minlon,minlat,maxlon,maxlat")
    box = BBox(*parts, WGS84)
    if not box.is_valid():
        raise ValueError("the area's minimum values must be less than its maximum values")
    return box
