"""Point and profile queries: a pixel's values across the steps of a layer's dimensions (a time
series over a TIME range, a vertical profile over an ELEVATION range), read as one column of
the source per item rather than one read per step."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ogcserver.core.read import ReadRequest, ViewReader
from ogcserver.model.catalog import CatalogItem
from ogcserver.model.dimensions import Slice, local_slice, slices_for
from ogcserver.model.errors import SourceUnavailable


@dataclass(frozen=True)
class StepValue:
    """One value of a series and the step it belongs to (a value per dimension name)."""

    step: tuple[tuple[str, str], ...]
    value: float


def series_steps(request: ReadRequest) -> list[Slice]:
    """The steps of a point query that names several (a range or a list in TIME, ELEVATION or
    DIM_<NAME>); empty for one step. More than ``max_steps`` is refused before reading."""
    dimensions = request.layer.info.dimensions
    if not dimensions or not request.asked:
        return []
    steps = slices_for(dimensions, request.asked, request.max_steps, single=False)
    return steps if len(steps) > 1 else []


def point_series(views: ViewReader, request: ReadRequest, steps: list[Slice],
                 point: tuple[float, float]) -> tuple[CatalogItem, tuple[StepValue, ...]] | None:
    """The series at the point: each step's value from the first item (in mosaic order) that
    holds the step and has a value there (a layer spanning files takes each step from its own
    file), with the first item that gave a value; None when no item has any."""
    dimensions = request.layer.info.dimensions
    x, y = point
    values: list[float | None] = [None] * len(steps)
    first: CatalogItem | None = None
    for item in views.candidates(request, steps=steps):
        wanted = [(i, local_slice(step, dimensions, item.source.dimensions)) for i, step in enumerate(steps)
                  if values[i] is None]
        own = [(i, step) for i, step in wanted if step is not None]
        if not own:
            continue
        try:
            found = views.reader.series(item.source, x, y, request.grid.crs, [step for _i, step in own])
        except SourceUnavailable:
            continue
        if found is None or all(v != v for v in found):  # off the source, or NaN at every step
            continue
        first = first or item
        for (i, _step), value in zip(own, found):
            values[i] = value
        if all(v is not None for v in values):
            break
    if first is None:
        return None
    return first, tuple(StepValue(tuple(step.values(dimensions).items()), math.nan if value is None else value)
                        for step, value in zip(steps, values))
