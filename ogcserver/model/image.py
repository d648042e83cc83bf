"""Georeferenced grids and the one raster value passed between pipeline stages."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from affine import Affine

from ogcserver.model.errors import InvalidExtent
from ogcserver.model.geo import BBox, transform_point


@dataclass(frozen=True)
class Grid:
    """A pixel grid: the output of a map request or the footprint of a read."""

    crs: str
    transform: Affine
    width: int
    height: int

    @classmethod
    def from_bbox(cls, bbox: BBox, width: int, height: int) -> Grid:
        """A north-up grid over the box. Pixels smaller than the smallest normal float (a box of
        1e-320 degrees) are refused: their sizes lose their precision, or round to zero, and
        dividing by them overflows."""
        if not bbox.width / width >= sys.float_info.min:
            raise InvalidExtent("x", "too small to divide into pixels")
        if not bbox.height / height >= sys.float_info.min:
            raise InvalidExtent("y", "too small to divide into pixels")
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

    def pixel_size_in(self, crs: str) -> tuple[float, float] | None:
        """Size of one pixel measured in ``crs`` units at the grid's centre (None off its domain).

        Measured locally rather than from the grid's transformed bounding box, which grows with
        the rotation between the two CRSs and would make narrow views look coarser than they are.
        """
        t = self.transform
        cx, cy = t * (self.width / 2, self.height / 2)
        try:
            x0, y0 = transform_point(cx, cy, self.crs, crs)
            x1, y1 = transform_point(cx + t.a, cy, self.crs, crs)
            x2, y2 = transform_point(cx, cy + t.e, self.crs, crs)
        except Exception:  # noqa: BLE001 - outside the projection's domain
            return None
        size_x, size_y = math.hypot(x1 - x0, y1 - y0), math.hypot(x2 - x0, y2 - y0)
        if not (math.isfinite(size_x) and math.isfinite(size_y)) or size_x <= 0 or size_y <= 0:
            return None
        return size_x, size_y

    def expanded(self, pixels: int) -> Grid:
        """The same grid with ``pixels`` more on every side (context for neighbourhood functions)."""
        if pixels == 0:
            return self
        t = self.transform * Affine.translation(-pixels, -pixels)
        return Grid(self.crs, t, self.width + 2 * pixels, self.height + 2 * pixels)

    def coarsened(self, factor: int) -> Grid:
        """A grid over (at least) the same area with pixels ``factor`` times larger."""
        return Grid(
            self.crs, self.transform * Affine.scale(factor),
            math.ceil(self.width / factor), math.ceil(self.height / factor),
        )

    def window_of(self, box: BBox, margin: int = 1) -> tuple[int, int, int, int] | None:
        """(row0, row1, col0, col1) of the pixels a box touches, widened by ``margin``; None if none.

        Only for north-up grids, which every map request has.
        """
        t = self.transform
        col0 = _clamped(math.floor, (box.minx - t.c) / t.a - margin, self.width)
        col1 = _clamped(math.ceil, (box.maxx - t.c) / t.a + margin, self.width)
        row0 = _clamped(math.floor, (box.maxy - t.f) / t.e - margin, self.height)
        row1 = _clamped(math.ceil, (box.miny - t.f) / t.e + margin, self.height)
        if col0 >= col1 or row0 >= row1:
            return None
        return row0, row1, col0, col1

    def subgrid(self, window: tuple[int, int, int, int]) -> Grid:
        """The part of this grid a window covers, with the same pixel alignment."""
        row0, row1, col0, col1 = window
        return Grid(self.crs, self.transform * Affine.translation(col0, row0), col1 - col0, row1 - row0)


def _clamped(rounding: Callable[[float], int], pixels: float, size: int) -> int:
    """A pixel offset within 0..size, clamped before rounding: a box far outside a grid of tiny
    pixels is more pixels away than an integer conversion of a float can hold."""
    return rounding(min(max(pixels, 0.0), float(size)))


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


def alpha_of(valid: np.ndarray) -> np.ndarray:
    """An 8-bit alpha channel: 255 where ``valid``, 0 elsewhere. ``np.where(valid, 255, 0)`` makes
    int64, eight bytes a pixel: 32 MiB for a 2048 px map before it is cast."""
    return np.where(valid, np.uint8(255), np.uint8(0))
