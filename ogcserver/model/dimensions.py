"""A layer's dimensions besides x and y (time, elevation, any other axis of a multidimensional
source) and how a request's value picks their steps.

Steps are kept as the text protocols write them (times as ``YYYY-MM-DDTHH:MM:SSZ``, numbers in
their shortest form), so one rule serves every calendar: a 360-day year's ``2001-02-30`` compares
with other times as text, which is their order, without a Gregorian date standing in for it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ogcserver.model.errors import InvalidDimensionValue

TIME = "time"
ELEVATION = "elevation"
ISO8601 = "ISO8601"
DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ]|\s*$)", re.A)
# days of each month in the CF calendars whose months do not follow the Gregorian rule alone
FIXED_MONTHS = {"360_day": (30,) * 12,
                "noleap": (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), "365_day": (),
                "all_leap": (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), "366_day": ()}
FIXED_MONTHS["365_day"], FIXED_MONTHS["366_day"] = FIXED_MONTHS["noleap"], FIXED_MONTHS["all_leap"]


@dataclass(frozen=True)
class Dimension:
    """One axis of a layer besides x and y.

    ``name`` is the protocols' name (``time``, ``elevation``, or the source's own axis name in
    lower case, which WMS asks for as ``DIM_<NAME>``); ``axis`` the source's name for it;
    ``values`` every step in the source's order; ``default`` the index of the step a request
    without a value gets (the latest time, the level nearest the surface, else the first).
    """

    name: str
    axis: str
    units: str
    values: tuple[str, ...]
    default: int = 0
    calendar: str = ""  # the CF calendar of a time axis (standard, noleap, 360_day, ...)

    @property
    def default_value(self) -> str:
        return self.values[self.default]

    @property
    def is_time(self) -> bool:
        return self.units == ISO8601


def format_number(value: float) -> str:
    """A coordinate value as protocols write it: ``1000``, ``0.5``, ``-12.25``."""
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.10g}"


@functools.lru_cache(maxsize=8192)
def time_key(text: str) -> str:
    """A time as comparable text: ``2014-02-24T06:00:00Z`` and ``2014-02-24T06:00Z`` alike.
    Cached: every request matches its value against each step of the layer (a yearly mean does
    it once per step it reads)."""
    text = text.strip().upper().removesuffix("Z").removesuffix("+00:00").replace(" ", "T")
    if "T" in text:
        day, _, clock = text.partition("T")
        parts = (clock.split(".")[0].split(":") + ["00", "00"])[:3]
        text = f"{day}T{':'.join(p.zfill(2) for p in parts)}"
    return text


def month_days(calendar: str, year: int, month: int) -> int:
    """Days of a month in a CF calendar (standard, gregorian, proleptic_gregorian, julian,
    noleap/365_day, all_leap/366_day, 360_day; any other: the Gregorian rule)."""
    if calendar in FIXED_MONTHS:
        return FIXED_MONTHS[calendar][month - 1]
    if month != 2:
        return FIXED_MONTHS["noleap"][month - 1]
    julian = calendar == "julian" or (calendar in ("standard", "gregorian", "") and year < 1583)
    leap = year % 4 == 0 and (julian or year % 100 != 0 or year % 400 == 0)
    return 29 if leap else 28


def names_a_day(text: str) -> bool:
    """Text starting with a day, ``YYYY-MM-DD`` (whether any calendar has it or not)."""
    return DATE.match(text) is not None


def is_calendar_date(text: str, calendar: str | None = None) -> bool:
    """Whether text naming a day (``2001-02-30``, ``2001-02-30T06:00Z``) names one of
    ``calendar`` (None: of any CF calendar, e.g. 30 February of a 360-day year). Text naming no
    particular day (a year, a month, a number) is not a day of any calendar to refuse: True."""
    m = DATE.match(text)
    if not m:
        return True
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if not 1 <= month <= 12 or day < 1:
        return False
    longest = month_days(calendar, year, month) if calendar is not None else \
        max(month_days(c, year, month) for c in ("standard", "360_day", "all_leap"))
    return day <= longest


def _in_calendar(dimension: Dimension, text: str) -> str:
    """``text`` when it names a day of the layer's calendar, else an InvalidDimensionValue."""
    if not is_calendar_date(text, dimension.calendar or "standard"):
        raise InvalidDimensionValue(dimension.name, f"'{text[:40]}' is not a date of this layer's "
                                                    f"{dimension.calendar or 'standard'} calendar")
    return text


def _in_time_range(value: str, low: str, high: str) -> bool:
    """A step within [low, high]; a reduced time (``2014``, ``2014-02``) means its whole period."""
    key = time_key(value)
    return (not low or key >= time_key(low)) and (not high or key[: len(time_key(high))] <= time_key(high))


def _number(text: str, dimension: Dimension) -> float:
    try:
        number = float(text)
    except ValueError:
        raise InvalidDimensionValue(dimension.name, f"'{text[:40]}' is not a number") from None
    if not math.isfinite(number):
        raise InvalidDimensionValue(dimension.name, f"'{text[:40]}' is not a finite number")
    return number


def _matches(dimension: Dimension, text: str) -> list[int]:
    """Indices of the steps one value or one ``start/end[/period]`` range names."""
    parts = text.split("/")
    if len(parts) > 3 or (len(parts) == 3 and not parts[2].strip().upper().startswith("P")):
        raise InvalidDimensionValue(dimension.name, f"'{text[:40]}' is not a value or a start/end range")
    if dimension.is_time:
        if len(parts) == 1:
            key = time_key(_in_calendar(dimension, text))
            return [i for i, v in enumerate(dimension.values) if time_key(v)[: len(key)] == key]
        start, end = ("" if p.strip() == ".." else _in_calendar(dimension, p.strip()) for p in parts[:2])
        if start and end and time_key(start) > time_key(end):
            raise InvalidDimensionValue(dimension.name, f"the range '{text[:40]}' ends before it starts")
        return [i for i, v in enumerate(dimension.values) if _in_time_range(v, start, end)]
    numbers = [float(v) for v in dimension.values]
    if len(parts) == 1:
        asked = _number(text, dimension)
        return [i for i, n in enumerate(numbers) if math.isclose(n, asked, rel_tol=1e-9, abs_tol=1e-12)]
    low = -math.inf if parts[0].strip() in ("", "..") else _number(parts[0], dimension)
    high = math.inf if parts[1].strip() in ("", "..") else _number(parts[1], dimension)
    if low > high:
        raise InvalidDimensionValue(dimension.name, f"the range '{text[:40]}' ends before it starts")
    return [i for i, n in enumerate(numbers) if low <= n <= high]


def steps_of(dimension: Dimension, text: str | None) -> tuple[int, ...]:
    """The steps a request's value names, in the source's order: a value, a comma-separated list
    or ranges; none given (or ``current``/``default``): the default step. A value naming no step
    is an InvalidDimensionValue (the layers advertise nearestValue="0")."""
    if text is None or not text.strip() or text.strip().lower() in ("current", "default"):
        return (dimension.default,)
    found: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            raise InvalidDimensionValue(dimension.name, f"'{text[:40]}' has an empty value")
        matched = _matches(dimension, part.strip())
        if not matched:
            raise InvalidDimensionValue(
                dimension.name, f"'{part.strip()[:40]}' names no {dimension.name} step of this layer "
                                f"({dimension.values[0]} to {dimension.values[-1]})")
        found.update(matched)
    return tuple(sorted(found))


@dataclass(frozen=True)
class Slice:
    """The step of every dimension one 2-D read takes, as (source axis, index) pairs."""

    steps: tuple[tuple[str, int], ...] = ()

    def label(self, dimensions: tuple[Dimension, ...]) -> str:
        """The steps as text, e.g. ``time=2014-02-24T00:00:00Z`` (band descriptions)."""
        return ", ".join(f"{name}={value}" for name, value in self.values(dimensions).items())

    def values(self, dimensions: tuple[Dimension, ...]) -> dict[str, str]:
        """The steps as request values, by dimension name (each names exactly its step)."""
        by_axis = {d.axis: d for d in dimensions}
        return {by_axis[a].name: by_axis[a].values[i] for a, i in self.steps if a in by_axis}


NO_SLICE = Slice()


def slices_for(dimensions: tuple[Dimension, ...], asked: Mapping[str, str], max_steps: int,
               single: bool) -> list[Slice]:
    """Every combination of the steps a request names (each dimension's default where it names
    none); ``single``: one picture is wanted, so a range gives its last step. More than
    ``max_steps`` slices is an InvalidDimensionValue before anything is read."""
    per_dimension: list[tuple[str, tuple[int, ...]]] = []
    for dimension in dimensions:
        steps = steps_of(dimension, asked.get(dimension.name))
        per_dimension.append((dimension.axis, steps[-1:] if single else steps))
    total = math.prod(len(steps) for _axis, steps in per_dimension)
    if total > max_steps:
        widest = max(zip(dimensions, per_dimension), key=lambda pair: len(pair[1][1]))[0]
        raise InvalidDimensionValue(
            widest.name, f"the request names {total} steps; at most {max_steps} (limits.max_steps)")
    slices = [NO_SLICE]
    for axis, steps in per_dimension:
        slices = [Slice((*s.steps, (axis, i))) for s in slices for i in steps]
    return slices


def with_defaults(dimensions: tuple[Dimension, ...], defaults: Mapping[str, str]) -> tuple[Dimension, ...]:
    """The dimensions with the configured default steps (the last step a value names); a name
    or value that fits no dimension is an InvalidDimensionValue, so the layer says why."""
    known = {d.name for d in dimensions}
    for name in defaults:
        if name not in known:
            raise InvalidDimensionValue(name, f"the layer has no dimension '{name[:40]}' "
                                              f"(it has: {', '.join(sorted(known)) or 'none'})")
    return tuple(
        replace(d, default=steps_of(d, defaults[d.name])[-1]) if d.name in defaults else d for d in dimensions
    )


def _order_key(dimension: Dimension) -> Callable[[str], Any]:
    """How a dimension's steps sort: times as their text, numbers by value."""
    if dimension.is_time:
        return time_key
    return lambda text: (float(text), text) if _is_number(text) else (math.inf, text)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spanning(per_item: list[tuple[Dimension, ...]]) -> tuple[Dimension, ...]:
    """The dimensions of a layer made of several files (a time step, a model run or a tile per
    file): each axis the first file has, with the union of every file's steps in order; the
    default is the latest time, else the first file's default step. An axis a file lacks is
    left out of that file's reads (``local_slice``), not of the layer."""
    if not per_item or all(dims == per_item[0] for dims in per_item):
        return per_item[0] if per_item else ()
    merged: list[Dimension] = []
    for first in per_item[0]:
        values = {v for dims in per_item for d in dims if d.axis == first.axis for v in d.values}
        ordered = tuple(sorted(values, key=_order_key(first)))
        default = len(ordered) - 1 if first.is_time else ordered.index(first.default_value)
        merged.append(replace(first, values=ordered, default=default))
    return tuple(merged)


def local_slice(step: Slice, layer: tuple[Dimension, ...], own: tuple[Dimension, ...]) -> Slice | None:
    """A step of a layer's dimensions as the indices of one file's own axes; None when the file
    has no step of that value (a file of other days than the one asked)."""
    if not step.steps or layer == own:
        return step
    by_axis = {d.axis: d for d in layer}
    own_axes = {d.axis: d for d in own}
    local: list[tuple[str, int]] = []
    for axis, index in step.steps:
        mine, theirs = own_axes.get(axis), by_axis.get(axis)
        if mine is None or theirs is None:
            return None
        value = theirs.values[index]
        if value not in mine.values:
            return None
        local.append((axis, mine.values.index(value)))
    return Slice(tuple(local))


# catalog properties of a multidimensional item: its first and last time, so that a layer over
# many files selects those holding the time asked for before it counts them against max_items
TIME_FIRST, TIME_LAST = "time_first", "time_last"


def time_span(dimensions: tuple[Dimension, ...]) -> dict[str, str]:
    """An item's first and last time step as catalog properties (none without a time axis)."""
    for dimension in dimensions:
        if dimension.is_time and dimension.values:
            ordered = sorted(dimension.values, key=time_key)
            return {TIME_FIRST: ordered[0], TIME_LAST: ordered[-1]}
    return {}
