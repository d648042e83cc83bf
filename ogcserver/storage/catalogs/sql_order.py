"""Mosaic orderings as SQL ORDER BY clauses with parameters, for the SQLite and PostGIS stores.

Attribute names and targets only ever travel as parameters; the fragments here are fixed text.
Every ordering ends with the item key, so equal sort values still give one deterministic order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ogcserver.model.filters import iso_utc
from ogcserver.model.mosaic import Ordering

Dialect = Literal["sqlite", "postgres"]
MAX_LOCKED = 256


def _mark(dialect: Dialect) -> str:
    return "?" if dialect == "sqlite" else "%s"


def _value(attribute: str, dialect: Dialect) -> tuple[str, list]:
    """The SQL expression of an item attribute, for sorting."""
    if attribute == "datetime":
        return "i.acquired", []
    if attribute == "id":
        return "i.key", []
    if dialect == "sqlite":
        return "json_extract(i.properties, ?)", [f'$."{attribute}"']
    return "(i.properties -> %s)", [attribute]


def _centre(dialect: Dialect) -> tuple[str, str]:
    if dialect == "sqlite":
        return "((r.minx + r.maxx) / 2)", "((r.miny + r.maxy) / 2)"
    return "ST_X(ST_Centroid(i.bbox))", "ST_Y(ST_Centroid(i.bbox))"


def order_by(ordering: Ordering, focus: tuple[float, float] | None, dialect: Dialect) -> tuple[str, list]:
    """``ORDER BY ...`` text and parameters; ``focus`` is the lon/lat point for centre/north-west."""
    m = _mark(dialect)
    if ordering.kind == "attribute":
        expr, params = _value(ordering.attribute, dialect)
        direction = "DESC" if ordering.descending else "ASC"
        return f"ORDER BY {expr} IS NULL, {expr} {direction}, i.key", params + params
    if ordering.kind == "closest":
        expr, params = _value(ordering.attribute, dialect)
        if isinstance(ordering.target, datetime):
            if dialect == "sqlite":
                distance = f"abs(julianday({expr}) - julianday({m}))"
                target: object = iso_utc(ordering.target)
            else:
                distance = f"abs(extract(epoch from ({expr} - {m}::timestamptz)))"
                target = ordering.target
        elif dialect == "sqlite":
            distance, target = f"abs({expr} - {m})", ordering.target
        else:  # only numbers have a distance; anything else sorts after them, as in SQLite
            number = f"CASE WHEN jsonb_typeof({expr}) = 'number' THEN ({expr})::float8 END"
            distance, target = f"abs({number} - {m})", float(ordering.target or 0)
            params = params + params
        return f"ORDER BY {distance} IS NULL, {distance}, i.key", params + [target] + params + [target]
    if ordering.kind in ("center", "northwest"):
        cx, cy = _centre(dialect)
        fx, fy = focus or (0.0, 0.0)
        return (f"ORDER BY ({cx} - {m}) * ({cx} - {m}) + ({cy} - {m}) * ({cy} - {m}), i.key", [fx, fx, fy, fy])
    if ordering.kind == "lock":
        ids = list(ordering.ids[:MAX_LOCKED])
        cases = " ".join(f"WHEN {m} THEN {n}" for n in range(len(ids)))
        return f"ORDER BY CASE i.key {cases} END, i.key", ids
    raise ValueError(f"unknown ordering {ordering.kind!r}")


def locked_ids(ordering: Ordering, dialect: Dialect) -> tuple[str, list]:
    """The WHERE condition a lock ordering adds: only the listed items."""
    if ordering.kind != "lock":
        return "", []
    ids = list(ordering.ids[:MAX_LOCKED])
    marks = ", ".join(_mark(dialect) for _ in ids)
    return f"i.key IN ({marks})", ids

