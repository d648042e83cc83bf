"""Compile a parsed catalog filter to a parameterised SQL condition for SQLite or PostgreSQL.

The SQL text is made only of fixed fragments and placeholders; every property name, path and
value travels as a parameter, so even a hand-built filter cannot inject SQL. Both dialects
follow one rule for item properties (a JSON object): a property is compared as the literal's
type, and a value of another type, a JSON null or a missing key make the comparison unknown
(SQL NULL), which NOT keeps unknown, so ``NOT (cloud < 10)`` never selects an item without a
numeric cloud. SQLite and PostgreSQL order mixed JSON types differently, hence the rule.

Table contract: ``i`` is the items table (``key`` text, ``acquired``, ``properties`` JSON;
PostGIS also ``footprint`` geometry in EPSG:4326); SQLite joins its R*Tree as ``r``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ogcserver.model.filters import (
    ID_PROPERTY,
    TIME_PROPERTY,
    And,
    Between,
    Comparison,
    Filter,
    In,
    IsNull,
    Kind,
    Like,
    Not,
    Or,
    Property,
    SpatialIntersects,
    Temporal,
    Value,
    iso_utc,
    kind_of,
)

Dialect = Literal["sqlite", "postgres"]

_COLUMNS = {ID_PROPERTY: "i.key", TIME_PROPERTY: "i.acquired"}
_COLUMN_KINDS: dict[str, Kind] = {ID_PROPERTY: "string", TIME_PROPERTY: "datetime"}
_SQLITE_TYPES: dict[Kind, str] = {
    "string": "= 'text'",
    "number": "IN ('integer', 'real')",
    "boolean": "IN ('true', 'false')",
}
_POSTGRES_TYPES: dict[Kind, str] = {"string": "'string'", "number": "'number'", "boolean": "'boolean'"}
_GLOB_SPECIAL = "*?["


@dataclass
class _Sql:
    """An SQL fragment and its parameters, in placeholder order."""

    text: str
    params: list[Any] = field(default_factory=list)


def compile_filter(expr: Filter, dialect: Dialect) -> tuple[str, list]:
    """An SQL boolean expression for ``expr`` and its parameters (``?`` for sqlite, ``%s`` for psycopg)."""
    if dialect not in _DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    sql = _compile(expr, _DIALECTS[dialect])
    return sql.text, sql.params


def _compile(expr: Filter, d: _Sqlite | _Postgres) -> _Sql:
    match expr:
        case And(items) | Or(items):
            joiner = " AND " if isinstance(expr, And) else " OR "
            return _join("(", _listed([_compile(item, d) for item in items], joiner), ")")
        case Not(inner):
            return _negate(_compile(inner, d))
        case Comparison(op, prop, value):
            return _join(d.operand(prop, kind_of(value)), f" {op} ", d.value(prop, value))
        case Between(prop, low, high, negate):
            operand = d.operand(prop, kind_of(low))
            between = " NOT BETWEEN " if negate else " BETWEEN "
            return _join(operand, between, d.value(prop, low), " AND ", d.value(prop, high))
        case In(prop, values, negate):
            operand = d.operand(prop, kind_of(values[0]))
            listed = _listed([d.value(prop, v) for v in values], ", ")
            return _join(operand, " NOT IN (" if negate else " IN (", listed, ")")
        case Like(prop, pattern, negate):
            like = d.like(prop, pattern)
            return _negate(like) if negate else like
        case IsNull(prop, negate):
            return _join(d.present(prop), " IS NOT NULL" if negate else " IS NULL")
        case Temporal():
            return _temporal(expr, d)
        case SpatialIntersects():
            return d.intersects(expr)
    raise TypeError(f"not a filter node: {type(expr).__name__}")


def _join(*parts: _Sql | str) -> _Sql:
    """Concatenate fragments and fixed SQL text, keeping the parameters in order."""
    text, params = [], []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        else:
            text.append(part.text)
            params += part.params
    return _Sql("".join(text), params)


def _listed(parts: list[_Sql], separator: str) -> _Sql:
    return _Sql(separator.join(p.text for p in parts), [x for p in parts for x in p.params])


def _negate(sql: _Sql) -> _Sql:
    return _Sql(f"NOT ({sql.text})", sql.params)


def _temporal(expr: Temporal, d: _Sqlite | _Postgres) -> _Sql:
    """Instant ``acquired`` against an instant or interval: during is strict, intersects is not."""
    col = d.operand(expr.prop, "datetime")
    start, end = d.value(expr.prop, expr.start), d.value(expr.prop, expr.end)
    if expr.op == "t_before":
        return _join(col, " < ", start)
    if expr.op == "t_after":
        return _join(col, " > ", end)
    if expr.op == "t_during":
        return _join("(", col, " > ", start, " AND ", col, " < ", end, ")")
    if expr.op == "t_intersects":
        return _join(col, " BETWEEN ", start, " AND ", end)
    return _join(col, " = ", start)  # t_equals: the parser only lets an instant through


def _column(prop: Property, kind: Kind) -> str | None:
    """The item column a property maps to (None: a member of ``i.properties``)."""
    wanted = _COLUMN_KINDS.get(prop.name)
    if kind != wanted and (wanted is not None or kind == "datetime"):
        raise ValueError(f"a {kind} value cannot be compared with property {prop.name!r}")
    return _COLUMNS.get(prop.name)


def _glob(pattern: str) -> str:
    """A CQL2 LIKE pattern as an SQLite GLOB, which (unlike SQLite LIKE) is case-sensitive
    as PostgreSQL's LIKE is."""
    out, chars = [], iter(pattern)
    for char in chars:
        if char in "%_":
            out.append("*" if char == "%" else "?")
            continue
        if char == "\\":
            char = next(chars, "\\")
        out.append(f"[{char}]" if char in _GLOB_SPECIAL else char)
    return "".join(out)


class _Sqlite:
    """Items' ``acquired`` is iso_utc text; properties are JSON text read with json_extract."""

    @staticmethod
    def operand(prop: Property, kind: Kind) -> _Sql:
        column = _column(prop, kind)
        if column is not None:
            return _Sql(column)
        path = _sqlite_path(prop)
        return _Sql(
            f"CASE WHEN json_type(i.properties, ?) {_SQLITE_TYPES[kind]} THEN json_extract(i.properties, ?) END",
            [path, path],
        )

    @staticmethod
    def value(prop: Property, value: Value) -> _Sql:
        return _Sql("?", [iso_utc(value) if kind_of(value) == "datetime" else value])  # type: ignore[arg-type]

    @staticmethod
    def present(prop: Property) -> _Sql:
        column = _COLUMNS.get(prop.name)
        return _Sql(column) if column else _Sql("json_extract(i.properties, ?)", [_sqlite_path(prop)])

    @staticmethod
    def like(prop: Property, pattern: str) -> _Sql:
        return _join(_Sqlite.operand(prop, "string"), " GLOB ", _Sql("?", [_glob(pattern)]))

    @staticmethod
    def intersects(expr: SpatialIntersects) -> _Sql:
        """Box overlap through the R*Tree: SQLite has no exact geometry test. An item across the
        antimeridian has its east edge beyond 180: it is also looked for one turn further east."""
        minx, miny, maxx, maxy = expr.bbox
        test = "(r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ?)"
        return _Sql(f"({test} OR {test})", [minx, maxx, miny, maxy, minx + 360.0, maxx + 360.0, miny, maxy])


def _sqlite_path(prop: Property) -> str:
    return f'$."{prop.name}"'


class _Postgres:
    """Items' ``acquired`` is timestamptz; properties are jsonb, compared as jsonb values."""

    @staticmethod
    def operand(prop: Property, kind: Kind) -> _Sql:
        column = _column(prop, kind)
        if column is not None:
            return _Sql(column)
        return _Sql(
            f"CASE WHEN jsonb_typeof(i.properties -> %s) = {_POSTGRES_TYPES[kind]} THEN i.properties -> %s END",
            [prop.name, prop.name],
        )

    @staticmethod
    def value(prop: Property, value: Value) -> _Sql:
        if prop.name in _COLUMNS:
            return _Sql("%s", [value])
        return _Sql("%s::jsonb", [json.dumps(value)])

    @staticmethod
    def present(prop: Property) -> _Sql:
        column = _COLUMNS.get(prop.name)
        return _Sql(column) if column else _Sql("(i.properties ->> %s)", [prop.name])

    @staticmethod
    def like(prop: Property, pattern: str) -> _Sql:
        """LIKE needs text: ``->>`` rather than the jsonb value."""
        column = _column(prop, "string")
        text = _Sql(column) if column else _Sql(
            "CASE WHEN jsonb_typeof(i.properties -> %s) = 'string' THEN i.properties ->> %s END", [prop.name, prop.name]
        )
        return _join(text, " LIKE ", _Sql("%s", [pattern]), " ESCAPE '\\'")

    @staticmethod
    def intersects(expr: SpatialIntersects) -> _Sql:
        return _Sql("ST_Intersects(i.footprint, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326))", [json.dumps(expr.geometry)])


_DIALECTS: dict[str, _Sqlite | _Postgres] = {"sqlite": _Sqlite(), "postgres": _Postgres()}
