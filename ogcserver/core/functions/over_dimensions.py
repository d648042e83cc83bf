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
from ogcserver.model.reduction import Running, running_bytes

Statistic = Literal["mean", "min", "max", "sum", "std"]
STATISTICS: tuple[str, ...] = ("mean", "min", "max", "sum", "std")
StepValues = Mapping[str, str]  # a value per dimension name, as a request writes it
StepReader = Callable[[Slice], Raster | None]
# a statistic of some steps' values on the requested grid (``reduce_by_step``, or faster)
StepsReducer = Callable[[str, list[Slice]], Raster | None]


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


def _check_names(dimensions: tuple[Dimension, ...], values: StepValues) -> None:
    known = {d.name for d in dimensions}
    for name in values:
        if name not in known:
            raise InvalidDimensionValue(name, f"the layer has no dimension '{name[:40]}' "
                                              f"(it has: {', '.join(sorted(known)) or 'none'})")


def reduce_by_step(statistic: str, steps: list[Slice], read_step: StepReader, grid: Grid,
                   count: int) -> Raster | None:
    """The statistic of the steps, each read (``read_step``) on the grid and added as it comes."""
    running = Running(statistic, grid)
    with holding(f"the {statistic} of {len(steps)} steps on {grid.width}x{grid.height} pixels",
                 running_bytes(statistic, grid, count)):
        for step in steps:
            check_deadline()
            raster = read_step(step)
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
                reduce_steps: StepsReducer) -> Raster | None:
    """The function's values from ``reduce_steps`` (a statistic of some steps on the requested
    grid, or None where nothing lies), for a request that asked ``asked``. The steps are counted
    (at most ``max_steps`` in all, else an InvalidDimensionValue) before the first read."""
    if not dimensions:
        named = next(iter({**over.steps, **over.reference, **asked}), "time")
        raise InvalidDimensionValue(named, f"the layer has no dimension to {over.operation} over")
    _check_names(dimensions, over.steps)
    _check_names(dimensions, over.reference)
    single = over.operation == "change"
    steps = slices_for(dimensions, {**asked, **over.steps}, max_steps, single=single)
    if over.operation == "aggregate":
        return reduce_steps(over.statistic, steps)
    reference = slices_for(dimensions, {**asked, **over.reference}, max_steps, single=False)
    if single and len(reference) != 1:
        name = next(iter(over.reference))
        raise InvalidDimensionValue(name, f"a change compares two steps; its reference names {len(reference)}")
    if len(steps) + len(reference) > max_steps:
        name = next(iter(over.reference))
        raise InvalidDimensionValue(name, f"the request names {len(steps) + len(reference)} steps with its "
                                          f"reference; at most {max_steps} (limits.max_steps)")
    current = reduce_steps("mean", steps)
    return _difference(current, reduce_steps("mean", reference))
