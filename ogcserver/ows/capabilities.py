"""Capabilities documents from Jinja2 templates (autoescaped, strict), fed view models only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ogcserver.model.catalog import LayerInfo
from ogcserver.model.dimensions import Dimension
from ogcserver.model.geo import (
    BBox,
    axis_is_yx,
    crs_area_of_use,
    is_geographic,
    lonlat_intersection,
    to_lonlat,
    transform_bbox,
)
from ogcserver.model.time import format_time
from ogcserver.ows.crs import parse_crs

MAX_LISTED_TIMES = 1000


PACKAGE = Path(__file__).resolve().parents[1]


def templates_dir() -> Path:
    """Where the capabilities templates are: inside the installed package (a wheel maps the
    top-level ``capabilities_templates/`` into it), or beside the package in a source checkout."""
    for candidate in (PACKAGE / "capabilities_templates", PACKAGE.parent / "capabilities_templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no capabilities_templates folder in or beside {PACKAGE}")


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: object) -> bytes:
    return environment().get_template(template).render(**context).encode("utf-8")


def fmt(value: float) -> str:
    """Coordinates with enough digits for centimetres in metres and micro-degrees."""
    return f"{value:.10g}" if abs(value) < 1e6 else f"{value:.12g}"


def bbox_in(bounds: BBox, code: str) -> BBox | None:
    """The layer's bounds in an advertised CRS (x/y order), clipped to the CRS's area of use.

    Both may cross the antimeridian (a Pacific layer; EPSG:3832's area of use), so they are met
    as lon/lat boxes on the globe. In a geographic CRS a layer across 180 gets every longitude:
    readers of these boxes take west < east.
    """
    crs = parse_crs(code).internal
    try:
        if bounds.crs == crs:
            return bounds
        area = crs_area_of_use(crs)
        source = bounds
        if area is not None:
            source = lonlat_intersection(to_lonlat(bounds), area)
            if source is None:
                return None
        out = transform_bbox(source, crs)
    except Exception:  # noqa: BLE001 - a CRS the bounds cannot be expressed in is left out
        return None
    if is_geographic(crs) and (out.minx > out.maxx or out.maxx > 180.0):
        out = BBox(-180.0, out.miny, 180.0, out.maxy, crs)
    return out if out.is_valid() else None


def ordered(box: BBox, code: str, yx_allowed: bool) -> tuple[str, str, str, str]:
    """minx, miny, maxx, maxy attribute values, in EPSG axis order where the version wants it."""
    a, b, c, d = box.as_tuple()
    if yx_allowed and code != "CRS:84" and axis_is_yx(parse_crs(code).internal):
        a, b, c, d = b, a, d, c
    return fmt(a), fmt(b), fmt(c), fmt(d)


@dataclass(frozen=True)
class TimeView:
    """A layer's TIME dimension as capabilities list it: every acquisition time when they are
    few enough to list, else the range; the default (no TIME asked) is the whole range, which is
    what a request without TIME shows: every item, stacked by the mosaic rule."""

    values: str
    default: str
    listed: tuple[str, ...]


def time_view(info: LayerInfo) -> TimeView | None:
    if info.time_extent is None:
        return None
    first, last = (format_time(t) for t in info.time_extent)
    whole = f"{first}/{last}"
    if info.times and len(info.times) <= MAX_LISTED_TIMES:
        listed = tuple(format_time(t) for t in info.times)
        return TimeView(",".join(listed), whole, listed)
    return TimeView(f"{whole}/PT1S", whole, ())


@dataclass(frozen=True)
class DimensionView:
    """One dimension of a layer as WMS and WMTS capabilities list it. ``nearest``: whether a
    value between steps is answered with the nearest one (mosaic times) or refused (the steps
    of a multidimensional source)."""

    name: str
    units: str
    default: str
    values: str
    listed: tuple[str, ...]
    nearest: bool

    @property
    def identifier(self) -> str:
        """WMTS's name for it, as its KVP parameter and its {template} variable: Time,
        Elevation, else DIM_<NAME> (the WMS parameter of the same dimension)."""
        return self.name.capitalize() if self.name in ("time", "elevation") else f"DIM_{self.name.upper()}"


GREGORIAN = ("", "standard", "gregorian", "proleptic_gregorian")


def _duration(seconds: int) -> str:
    """A step as an ISO 8601 period: P1D, PT6H, PT30M, PT10S."""
    if seconds % 86400 == 0:
        return f"P{seconds // 86400}D"
    for unit, size in (("H", 3600), ("M", 60)):
        if seconds % size == 0:
            return f"PT{seconds // size}{unit}"
    return f"PT{seconds}S"


def regular_extent(dimension: Dimension) -> str | None:
    """A time axis of evenly spaced steps (daily, 6-hourly, ...) as ``start/end/period``, the
    WMS form that stays short however many steps there are; None for other axes (listed value
    by value). Only in the Gregorian calendar: a client reads the period with Gregorian dates."""
    if not dimension.is_time or dimension.calendar not in GREGORIAN or len(dimension.values) < 3:
        return None
    try:
        times = [datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ") for v in dimension.values]
    except ValueError:
        return None
    gaps = {int((b - a).total_seconds()) for a, b in pairwise(times)}
    if len(gaps) != 1 or min(gaps) <= 0:
        return None
    return f"{dimension.values[0]}/{dimension.values[-1]}/{_duration(gaps.pop())}"


def dimension_views(info: LayerInfo) -> list[DimensionView]:
    """A mosaic's TIME (its items' acquisition times), or a multidimensional source's axes."""
    views = [DimensionView(d.name, d.units, d.default_value, regular_extent(d) or ",".join(d.values), d.values, False)
             for d in info.dimensions]
    time = time_view(info)
    if time is not None and not any(v.name == "time" for v in views):
        views.insert(0, DimensionView("time", "ISO8601", time.default, time.values, time.listed, True))
    return views
