"""Point and profile queries: a pixel's values across the steps of a layer's dimensions (a time
series over a TIME range, a vertical profile over an ELEVATION range), read as one column of
the source per item rather than one read per step."""

from __future__ import annotations

from dataclasses import dataclass

from ogcserver.core.read import ReadRequest, ViewReader
from ogcserver.model.catalog import CatalogItem
from ogcserver.model.dimensions import Slice, slices_for
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
    """The first item (in mosaic order) with a value at the point at some step, and its series."""
    dimensions = request.layer.info.dimensions
    x, y = point
    for item in views.select(request):
        try:
            values = views.reader.series(item.source, x, y, request.grid.crs, steps)
        except SourceUnavailable:
            continue
        if values is None or all(v != v for v in values):  # off the source, or NaN at every step
            continue
        series = tuple(StepValue(tuple(step.values(dimensions).items()), value)
                       for step, value in zip(steps, values))
        return item, series
    return None
