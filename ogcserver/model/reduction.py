"""A statistic of many steps' rasters, pixel by pixel, kept in a few running arrays.

Shared by the core, which reduces the mosaic of each step on the requested grid, and by readers
that reduce a source's steps on its own grid before warping once: both add steps in the same
order with the same arithmetic, so where warping is a copy (nearest, or the source's own grid)
the two give the same values, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ogcserver.model.dimensions import Slice
from ogcserver.model.image import Grid, Raster

# bytes per pixel and band of the running values each statistic keeps (count: int32, sums: float64)
RUNNING_BYTES = {"mean": 12, "sum": 12, "std": 20, "min": 12, "max": 12}


class Running:
    """One statistic of a sequence of rasters, pixel by pixel, kept in a few arrays.

    A pixel takes part where a step is valid there (nodata and NaN are skipped, as xarray's
    ``skipna`` does); a pixel valid in no step is invalid in the result, for every statistic.
    """

    def __init__(self, statistic: str, grid: Grid) -> None:
        self.statistic = statistic
        self.grid = grid
        self.names: tuple[str, ...] = ()
        self.n = np.zeros((grid.height, grid.width), np.int32)
        self.value: np.ndarray | None = None  # made at the first step, with its bands
        self.squares: np.ndarray | None = None

    def _start(self, count: int) -> np.ndarray:
        shape = (count, self.grid.height, self.grid.width)
        if self.statistic in ("min", "max"):
            return np.full(shape, np.inf if self.statistic == "min" else -np.inf, np.float64)
        if self.statistic == "std":
            self.squares = np.zeros(shape, np.float64)
        return np.zeros(shape, np.float64)

    def add(self, raster: Raster) -> None:
        if self.value is None:
            self.value = self._start(raster.count)
        valid = raster.valid & np.isfinite(raster.data).all(axis=0)
        self.names = raster.band_names
        self.n += valid
        data = raster.data.astype(np.float64)
        if self.statistic == "min":
            np.fmin(self.value, np.where(valid, data, np.inf), out=self.value)
        elif self.statistic == "max":
            np.fmax(self.value, np.where(valid, data, -np.inf), out=self.value)
        else:
            data = np.where(valid, data, 0.0)
            self.value += data
            if self.squares is not None:
                self.squares += data * data

    def result(self) -> Raster | None:
        """The statistic as float32; None where no step had a value anywhere."""
        valid = self.n > 0
        if self.value is None or not valid.any():
            return None
        n = np.maximum(self.n, 1)
        if self.statistic in ("mean", "std"):
            mean = self.value / n
            out = mean if self.squares is None else np.sqrt(np.maximum(self.squares / n - mean * mean, 0.0))
        else:
            out = self.value
        return as_statistic(Raster(out, valid, self.grid, self.names))


def as_statistic(raster: Raster) -> Raster:
    """A statistic's values as every reduction gives them: float32, NaN where none."""
    return Raster(np.where(raster.valid, raster.data, np.nan).astype(np.float32), raster.valid, raster.grid,
                  raster.band_names)


def running_bytes(statistic: str, grid: Grid, count: int) -> int:
    """Bytes of the running values of a statistic of ``count`` bands on ``grid``."""
    return RUNNING_BYTES[statistic] * grid.width * grid.height * count


@dataclass(frozen=True)
class StepReduction:
    """A statistic of some steps of one source, asked of a reader in one call rather than a read
    a step, so that it can read the steps together and reduce them before warping."""

    statistic: str
    steps: tuple[Slice, ...]
