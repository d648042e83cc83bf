"""A parsed catalog filter (a safe CQL2-text subset) as plain, immutable values.

The core parses user text into these nodes; catalog stores compile them to SQL. Nothing here
holds SQL or user syntax, so a store can trust the shape of what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ID_PROPERTY = "id"              # the item's key
TIME_PROPERTY = "datetime"      # the item's acquisition time

Value = str | int | float | bool | datetime  # datetimes are timezone-aware UTC
Kind = Literal["string", "number", "boolean", "datetime"]
ComparisonOp = Literal["=", "<>", "<", "<=", ">", ">="]
TemporalOp = Literal["t_before", "t_after", "t_during", "t_intersects", "t_equals"]


@dataclass(frozen=True)
class Property:
    name: str


@dataclass(frozen=True)
class Comparison:
    op: ComparisonOp
    prop: Property
    value: Value


@dataclass(frozen=True)
class Like:
    """``pattern`` keeps CQL2 syntax: ``%`` any run, ``_`` one character, ``\\`` escapes."""

    prop: Property
    pattern: str
    negate: bool = False


@dataclass(frozen=True)
class Between:
    prop: Property
    low: Value
    high: Value
    negate: bool = False


@dataclass(frozen=True)
class In:
    prop: Property
    values: tuple[Value, ...]
    negate: bool = False


@dataclass(frozen=True)
class IsNull:
    prop: Property
    negate: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    expr: Filter


@dataclass(frozen=True)
class Temporal:
    """A temporal predicate against an instant (``start == end``) or a closed interval."""

    op: TemporalOp
    prop: Property
    start: datetime
    end: datetime


@dataclass(frozen=True)
class SpatialIntersects:
    """The item footprint intersects ``geometry`` (a GeoJSON Polygon in lon/lat).

    ``bbox`` is (minx, miny, maxx, maxy) of the geometry, for stores that only index boxes;
    it alone is hashed, since a dict cannot be.
    """

    geometry: dict[str, Any] = field(hash=False)
    bbox: tuple[float, float, float, float]


Filter = Comparison | Like | Between | In | IsNull | And | Or | Not | Temporal | SpatialIntersects


def kind_of(value: Value) -> Kind:
    """The type a value is compared as; int and float are both numbers, bool is not."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    return "string"


def iso_utc(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``, the catalog's stored form, in which text order is time order.

    A naive datetime is taken as UTC; microseconds are dropped.
    """
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return utc.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
