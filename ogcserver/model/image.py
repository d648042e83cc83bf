"""Georeferenced grids and the one raster value passed between pipeline stages."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine

from ogcserver.model.geo import BBox


@dataclass(frozen=True)
class Grid:
    """A pixel grid: the output of a map request or the footprint of a read."""

    crs: str
    transform: Affine
    width: int
    height: int

    @classmethod
    def from_bbox(cls, bbox: BBox, width: int, height: int) -> "Grid":
        transform = Affine(
            bbox.width / width, 0.0, bbox.minx, 0.0, -bbox.height / height, bbox.maxy
        )
        return cls(bbox.crs, transform, width, height)

    @property
    def bbox(self) -> BBox:
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t * (self.width, self.height)
        return BBox(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), self.crs)

    @property
    def resolution(self) -> tuple[float, float]:
        return abs(self.transform.a), abs(self.transform.e)

    def window_of(self, box: BBox, margin: int = 1) -> tuple[int, int, int, int] | None:
        """(row0, row1, col0, col1) of the pixels a box touches, widened by ``margin``; None if none.

        Only for north-up grids, which every map request has.
        """
        t = self.transform
        col0 = math.floor((box.minx - t.c) / t.a) - margin
        col1 = math.ceil((box.maxx - t.c) / t.a) + margin
        row0 = math.floor((box.maxy - t.f) / t.e) - margin
        row1 = math.ceil((box.miny - t.f) / t.e) + margin
        col0, row0 = max(col0, 0), max(row0, 0)
        col1, row1 = min(col1, self.width), min(row1, self.height)
        if col0 >= col1 or row0 >= row1:
            return None
        return row0, row1, col0, col1

    def subgrid(self, window: tuple[int, int, int, int]) -> "Grid":
        """The part of this grid a window covers, with the same pixel alignment."""
        row0, row1, col0, col1 = window
        return Grid(self.crs, self.transform * Affine.translation(col0, row0), col1 - col0, row1 - row0)


@dataclass
class Raster:
    """Band values (bands, rows, cols) with a validity mask (rows, cols) on a grid."""

    data: np.ndarray
    valid: np.ndarray
    grid: Grid
    band_names: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return int(self.data.shape[0])


@dataclass
class RGBAImage:
    """A rendered picture on a grid: uint8 (rows, cols, 4) with straight alpha, or
    (rows, cols, 3) when it is opaque everywhere."""

    pixels: np.ndarray
    grid: Grid
