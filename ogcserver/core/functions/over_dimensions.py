"""Functions over a layer's dimensions: a statistic of many steps (aggregate), the mean of some
steps minus the mean of a reference period (anomaly), one step minus another (change).

They make the input of a chain out of many reads of one view, so the chain's functions (stretch,
colormap, band math, ...) follow as after any read. Steps are reduced as they are read: one
step's values and a few running sums per pixel are held, never the steps themselves, so memory
does not grow with the number of steps (that number is bounded by ``limits.max_steps``, and the
time it takes by the request's deadline).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ogcserver.core.config import Frozen
from ogcserver.model.budget import check_deadline, holding
from ogcserver.model.dimensions import Dimension, Slice, slices_for
from ogcserver.model.errors import InvalidDimensionValue
from ogcserver.model.image import Grid, Raster

Statistic = Literal["mean", "min", "max", "sum", "std"]
STATISTICS: tuple[str, ...] = ("mean", "min", "max", "sum", "std")
# bytes per pixel and band of the running values each statistic keeps (count: int32, sums: float64)
RUNNING_BYTES = {"mean": 12, "sum": 12, "std": 20, "min": 12, "max": 12}
StepValues = Mapping[str, str]  # a value per dimension name, as a request writes it
StepReader = Callable[[StepValues], Raster | None]


class OverDimensions(Frozen):
    """What a template computes across steps before its chain.

    ``steps`` names the steps by dimension (``{"time": "2020-01/2020-12"}``); a dimension it does
    not name takes the request's value (TIME, ELEVATION, DIM_<NAME>), else its default step.
    ``reference`` names the steps compared with, the same way: the reference period of an
    anomaly, the one other step of a change.
    """

    operation: Literal["aggregate", "anomaly", "change"] = "aggregate"
    statistic: Statistic = "mean"  # of an aggregate
    steps: dict[str, str] = Field(default_factory=dict, max_length=8)
    reference: dict[str, str] = Field(default_factory=dict, max_length=8)

    @model_validator(mode="after")
    def _reference_fits_operation(self) -> OverDimensions:
        if self.operation == "aggregate" and self.reference:
            raise ValueError("an aggregate has no 'reference' (anomaly and change compare with one)")
        if self.operation != "aggregate" and not self.reference:
            raise ValueError(f"{self.operation} needs a 'reference': the steps compared with, e.g. "
                             "{\"time\": \"1991/2020\"}")
        if self.operation != "aggregate" and self.statistic != "mean":
            raise ValueError(f"{self.operation} compares means; 'statistic' is for aggregates")
        if any(len(v) > 200 for v in (*self.steps.values(), *self.reference.values())):
            raise ValueError("a step value is longer than 200 characters")
        return self


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
        data = np.where(valid, out, np.nan).astype(np.float32)
        return Raster(data, valid, self.grid, self.names)


def running_bytes(statistic: str, grid: Grid, count: int) -> int:
    return RUNNING_BYTES[statistic] * grid.width * grid.height * count


def _check_names(dimensions: tuple[Dimension, ...], values: StepValues) -> None:
    known = {d.name for d in dimensions}
    for name in values:
        if name not in known:
            raise InvalidDimensionValue(name, f"the layer has no dimension '{name[:40]}' "
                                              f"(it has: {', '.join(sorted(known)) or 'none'})")


def _reduce(statistic: str, steps: list[Slice], dimensions: tuple[Dimension, ...], read_step: StepReader,
            grid: Grid, count: int) -> Raster | None:
    running = Running(statistic, grid)
    with holding(f"the {statistic} of {len(steps)} steps on {grid.width}x{grid.height} pixels",
                 running_bytes(statistic, grid, count)):
        for step in steps:
            check_deadline()
            raster = read_step(step.values(dimensions))
            if raster is not None:
                running.add(raster)
        return running.result()


def _difference(current: Raster | None, reference: Raster | None) -> Raster | None:
    """Current minus reference where both have values."""
    if current is None or reference is None:
        return None
    valid = current.valid & reference.valid
    if not valid.any():
        return None
    data = np.where(valid, current.data.astype(np.float32) - reference.data.astype(np.float32), np.nan)
    return Raster(data.astype(np.float32), valid, current.grid, current.band_names)


def reduce_over(over: OverDimensions, dimensions: tuple[Dimension, ...], asked: StepValues, max_steps: int,
                read_step: StepReader, grid: Grid, count: int) -> Raster | None:
    """The function's values on ``grid`` from ``read_step`` (one step's values, or None where
    nothing lies), for a request that asked ``asked``. The steps are counted (at most
    ``max_steps`` in all, else an InvalidDimensionValue) and the running values' memory is
    reserved before the first read."""
    if not dimensions:
        named = next(iter({**over.steps, **over.reference, **asked}), "time")
        raise InvalidDimensionValue(named, f"the layer has no dimension to {over.operation} over")
    _check_names(dimensions, over.steps)
    _check_names(dimensions, over.reference)
    single = over.operation == "change"
    steps = slices_for(dimensions, {**asked, **over.steps}, max_steps, single=single)
    if over.operation == "aggregate":
        return _reduce(over.statistic, steps, dimensions, read_step, grid, count)
    reference = slices_for(dimensions, {**asked, **over.reference}, max_steps, single=False)
    if single and len(reference) != 1:
        name = next(iter(over.reference))
        raise InvalidDimensionValue(name, f"a change compares two steps; its reference names {len(reference)}")
    if len(steps) + len(reference) > max_steps:
        name = next(iter(over.reference))
        raise InvalidDimensionValue(name, f"the request names {len(steps) + len(reference)} steps with its "
                                          f"reference; at most {max_steps} (limits.max_steps)")
    current = _reduce("mean", steps, dimensions, read_step, grid, count)
    return _difference(current, _reduce("mean", reference, dimensions, read_step, grid, count))
