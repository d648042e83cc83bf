"""Map grids and point sets the landscape functions are evaluated on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine


@dataclass(frozen=True)
class Grid:
    """A north-up regular grid: upper-left corner, square pixel size, shape."""

    x0: float
    y0: float
    res: float
    width: int
    height: int

    @property
    def xs(self) -> np.ndarray:
        return self.x0 + (np.arange(self.width) + 0.5) * self.res

    @property
    def ys(self) -> np.ndarray:
        return self.y0 - (np.arange(self.height) + 0.5) * self.res

    @property
    def transform(self):
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0)

    def refine(self, factor: int) -> Grid:
        return Grid(self.x0, self.y0, self.res / factor, self.width * factor, self.height * factor)

    def shifted(self, dx: float, dy: float) -> Grid:
        return Grid(self.x0 + dx, self.y0 + dy, self.res, self.width, self.height)


@dataclass(frozen=True)
class Points:
    """Arbitrary map coordinates (arrays of equal shape)."""

    x: np.ndarray
    y: np.ndarray
    res: float = 0.0


def xy(src):
    if isinstance(src, Grid):
        return src.xs[None, :], src.ys[:, None]
    return src.x, src.y
