"""Parse a CQL2-text catalog filter into ``ogcserver.model.filters``, accepting only a safe subset.

The grammar is pygeofilter's; this module bounds what reaches it (length, parenthesis depth),
then converts its syntax tree into our typed nodes, rejecting everything outside the subset
with ``BadFilter``. Every value stays a value: nothing here builds SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from lark import Lark, UnexpectedInput, v_args
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_text import parser as cql2_text
from shapely.geometry import shape

from ogcserver.model.errors import BadFilter
from ogcserver.model.filters import (
    ID_PROPERTY,
    TIME_PROPERTY,
    And,
    Between,
    Comparison,
    ComparisonOp,
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
    kind_of,
)

PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_:.\-]{0,63}")
SPATIAL_PROPERTIES = frozenset({"geometry", "footprint"})
# S_INTERSECTS(geometry, POLYGON((...))) nests three parentheses inside a single condition
_PREDICATE_PARENS = 3
_INT64 = 2**63

_COMPARISONS: dict[type, ComparisonOp] = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
_MIRRORED: dict[ComparisonOp, ComparisonOp] = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
# pygeofilter maps both T_INTERSECTS and T_OVERLAPS to TimeOverlaps; _Transformer lets only
# the first through, so here TimeOverlaps means T_INTERSECTS
_TEMPORAL = {
    ast.TimeBefore: "t_before",
    ast.TimeAfter: "t_after",
    ast.TimeDuring: "t_during",
    ast.TimeOverlaps: "t_intersects",
    ast.TimeEquals: "t_equals",
}
_COLUMN_KINDS: dict[str, Kind] = {ID_PROPERTY: "string", TIME_PROPERTY: "datetime"}
_KIND_WORDS: dict[Kind, str] = {"string": "text", "datetime": "TIMESTAMP or DATE values"}


@lru_cache(maxsize=512)  # tiles of one filtered map ask for the same text again and again
def parse_filter(
    text: str, max_length: int = 4096, max_nodes: int = 200, max_depth: int = 16, max_in_values: int = 256
) -> Filter:
    """Parse CQL2 text into a filter; anything outside the supported subset raises BadFilter.

    Length and parenthesis depth are checked before the grammar runs, so hostile text is cheap.
    """
    _check_text(text, max_length, max_depth + _PREDICATE_PARENS)
    return _Converter(max_nodes, max_depth, max_in_values).convert(_syntax_tree(text), 1)


def _reject(message: str) -> NoReturn:
    raise BadFilter(message)


def _check_text(text: str, max_length: int, max_parens: int) -> None:
    if not text.strip():
        _reject("the filter is empty")
    if len(text) > max_length:
        _reject(f"the filter is longer than {max_length} characters")
    if "\x00" in text:
        _reject("the filter contains a NUL character")
    if _paren_depth(text) > max_parens:
        _reject(f"the filter nests parentheses deeper than {max_parens}")


def _paren_depth(text: str) -> int:
    """Deepest parenthesis nesting outside quotes (the grammar's strings have no escapes)."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


@v_args(meta=False, inline=True)
class _Transformer(cql2_text.CQLTransformer):
    """pygeofilter's CQL2 transformer with strict ISO 8601 literals and our temporal operators.

    pygeofilter reads timestamps with dateparser, which spends seconds on some invalid input
    (hour 25: over 5 s) and milliseconds on valid input. T_OVERLAPS and T_INTERSECTS become
    the same node, so the operator is checked here, where its name is still known.
    """

    def DATETIME(self, token: str) -> datetime:  # noqa: N802 - lark names callbacks by terminal
        try:
            return datetime.fromisoformat(token)
        except ValueError:
            _reject("a TIMESTAMP or INTERVAL holds an invalid date or time")

    def DATE(self, token: str) -> date:  # noqa: N802
        try:
            return date.fromisoformat(token)
        except ValueError:
            _reject("a DATE holds an invalid date")

    def binary_temporal_predicate(self, lhs: Any, op: str, rhs: Any) -> ast.TemporalPredicate:
        if op.lower() not in _TEMPORAL.values():
            _reject(f"{op.upper()} is not supported; use T_BEFORE, T_AFTER, T_DURING, T_INTERSECTS or T_EQUALS")
        return super().binary_temporal_predicate(lhs, op, rhs)


@cache
def _parser() -> Lark:
    """pygeofilter's CQL2-text grammar behind our own Lark front end: pygeofilter's instance
    runs in debug mode, which prints the whole parser state to stdout on every syntax error."""
    module = Path(cql2_text.__file__)
    return Lark.open(
        "grammar.lark",
        rel_to=str(module),
        parser="lalr",
        maybe_placeholders=False,
        transformer=_Transformer(),
        import_paths=[str(module.parent.parent)],
    )


def _syntax_tree(text: str) -> Any:
    try:
        return _parser().parse(text)
    except BadFilter:  # from _Transformer's callbacks
        raise
    except UnexpectedInput as exc:
        where = f" at column {exc.column}" if exc.column > 0 else " at its end"
        raise BadFilter(f"the filter has a syntax error{where}") from None
    except Exception as exc:
        raise BadFilter("the filter could not be parsed") from exc


class _Converter:
    """pygeofilter's syntax tree into our nodes, counting conditions and depth on the way."""

    def __init__(self, max_nodes: int, max_depth: int, max_in_values: int) -> None:
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.max_in_values = max_in_values
        self.nodes = 0

    def convert(self, node: Any, depth: int) -> Filter:
        if depth > self.max_depth:
            _reject(f"the filter nests conditions deeper than {self.max_depth} levels")
        self.nodes += 1
        if self.nodes > self.max_nodes:
            _reject(f"the filter has more than {self.max_nodes} conditions")
        handler = self._HANDLERS.get(type(node))
        if handler is None:
            _reject(_unsupported(node))
        return handler(self, node, depth)

    def _items(self, node: ast.Combination, depth: int) -> tuple[Filter, ...]:
        return tuple(self.convert(item, depth + 1) for item in _flatten(node))

    def _and(self, node: ast.And, depth: int) -> Filter:
        return And(self._items(node, depth))

    def _or(self, node: ast.Or, depth: int) -> Filter:
        return Or(self._items(node, depth))

    def _not(self, node: ast.Not, depth: int) -> Filter:
        return Not(self.convert(node.sub_node, depth + 1))

    def _comparison(self, node: ast.Comparison, depth: int) -> Filter:
        op, lhs, rhs = _COMPARISONS[type(node)], node.lhs, node.rhs
        if isinstance(rhs, ast.Attribute) and not isinstance(lhs, ast.Attribute):
            op, lhs, rhs = _MIRRORED[op], rhs, lhs
        prop = _property(lhs)
        value = _value(prop, rhs)
        if kind_of(value) == "boolean" and op not in ("=", "<>"):
            _reject("booleans can only be compared with = or <>")
        return Comparison(op, prop, value)

    def _between(self, node: ast.Between, depth: int) -> Filter:
        prop = _property(node.lhs)
        low, high = _value(prop, node.low), _value(prop, node.high)
        if _one_kind((low, high)) == "boolean":
            _reject("BETWEEN does not apply to booleans")
        return Between(prop, low, high, node.not_)

    def _in(self, node: ast.In, depth: int) -> Filter:
        if len(node.sub_nodes) > self.max_in_values:
            _reject(f"IN lists at most {self.max_in_values} values")
        prop = _property(node.lhs)
        items = tuple(_value(prop, item) for item in node.sub_nodes)
        _one_kind(items)
        return In(prop, items, node.not_)

    def _like(self, node: ast.Like, depth: int) -> Filter:
        prop = _property(node.lhs)
        if prop.name == TIME_PROPERTY:
            _reject("LIKE does not apply to 'datetime'")
        pattern = node.pattern
        if not isinstance(pattern, str):
            _reject("LIKE needs a text pattern")
        if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
            _reject("a LIKE pattern cannot end with an escape character")
        return Like(prop, pattern, node.not_)

    def _is_null(self, node: ast.IsNull, depth: int) -> Filter:
        return IsNull(_property(node.lhs), node.not_)

    def _temporal(self, node: ast.TemporalPredicate, depth: int) -> Filter:
        prop = _property(node.lhs)
        if prop.name != TIME_PROPERTY:
            _reject(f"temporal operators apply to '{TIME_PROPERTY}' only")
        start, end = _period(node.rhs)
        op = _TEMPORAL[type(node)]
        if op == "t_equals" and start != end:
            _reject("T_EQUALS compares 'datetime' with an instant, not an INTERVAL")
        return Temporal(op, prop, start, end)  # type: ignore[arg-type]

    def _intersects(self, node: ast.GeometryIntersects, depth: int) -> Filter:
        lhs, rhs = node.lhs, node.rhs
        if isinstance(rhs, ast.Attribute) and not isinstance(lhs, ast.Attribute):
            lhs, rhs = rhs, lhs
        if not (isinstance(lhs, ast.Attribute) and lhs.name in SPATIAL_PROPERTIES):
            _reject("S_INTERSECTS applies to 'geometry' (or 'footprint') only")
        if isinstance(rhs, ast.Function) and rhs.name == "bbox":
            return _bbox(rhs.arguments)
        if isinstance(rhs, values.Geometry):
            return _polygon(rhs.geometry)
        _reject("S_INTERSECTS needs a POLYGON or BBOX literal")

    _HANDLERS: ClassVar[dict[type, Callable[..., Any]]] = {
        ast.And: _and,
        ast.Or: _or,
        ast.Not: _not,
        **dict.fromkeys(_COMPARISONS, _comparison),
        ast.Between: _between,
        ast.In: _in,
        ast.Like: _like,
        ast.IsNull: _is_null,
        **dict.fromkeys(_TEMPORAL, _temporal),
        ast.GeometryIntersects: _intersects,
    }


def _flatten(node: ast.Combination) -> list[Any]:
    """The operands of a chain of one operator; the grammar nests ``a AND b AND c`` to the left,
    so this walks without recursion and a long chain counts as one level."""
    items: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if type(current) is type(node):
            stack += [current.rhs, current.lhs]
        else:
            items.append(current)
    return items


def _unsupported(node: Any) -> str:
    spatial = (ast.SpatialComparisonPredicate, ast.SpatialDistancePredicate, ast.Relate, ast.BBox)
    if isinstance(node, spatial):
        return "S_INTERSECTS is the only spatial operator supported"
    if isinstance(node, ast.Include):
        return "INCLUDE and EXCLUDE are not supported"
    return "the filter uses a condition that is not supported"


def _not_a_value(node: Any) -> NoReturn:
    if isinstance(node, ast.Function):
        _reject("function calls are not supported")
    if isinstance(node, ast.Arithmetic):
        _reject("arithmetic is not supported")
    _reject("expected text, a number, a boolean, TIMESTAMP(...) or DATE(...)")


def _property(node: Any) -> Property:
    if not isinstance(node, ast.Attribute):
        if isinstance(node, ast.Function | ast.Arithmetic):
            _not_a_value(node)
        _reject("a condition must name a property")
    if not PROPERTY_NAME.fullmatch(node.name):
        _reject(f"property names must match {PROPERTY_NAME.pattern}")
    if node.name in SPATIAL_PROPERTIES:
        _reject(f"'{node.name}' can only be used in S_INTERSECTS")
    return Property(node.name)


def _value(prop: Property, node: Any) -> Value:
    """A literal, of the kind its property holds: text for 'id', times for 'datetime'."""
    value = _literal(node)
    kind, wanted = kind_of(value), _COLUMN_KINDS.get(prop.name)
    if wanted is not None and kind != wanted:
        _reject(f"'{prop.name}' can only be compared with {_KIND_WORDS[wanted]}")
    if wanted is None and kind == "datetime":
        _reject(f"TIMESTAMP and DATE values can only be compared with '{TIME_PROPERTY}'")
    return value


def _literal(node: Any) -> Value:
    if isinstance(node, ast.Attribute):
        _reject("comparing two properties is not supported")
    if isinstance(node, bool | str):
        return node
    if isinstance(node, int):
        if not -_INT64 <= node < _INT64:
            _reject("integers must fit in 64 bits")
        return node
    if isinstance(node, float):
        if not math.isfinite(node):
            _reject("numbers must be finite")
        return node
    if isinstance(node, date):
        return _instant(node)
    _not_a_value(node)


def _one_kind(items: tuple[Value, ...]) -> Kind:
    kinds = {kind_of(item) for item in items}
    if len(kinds) > 1:
        _reject("the values of IN or BETWEEN must all be of one type")
    return kinds.pop()


def _instant(value: date) -> datetime:
    """UTC, whole seconds (the catalog's precision); a DATE is its midnight UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        _reject("a time is out of range")
    return utc.replace(microsecond=0)


def _period(node: Any) -> tuple[datetime, datetime]:
    if isinstance(node, values.Interval):
        start, end = _instant(node.start), _instant(node.end)
        if start > end:
            _reject("an INTERVAL must not end before it starts")
        return start, end
    if isinstance(node, date):
        instant = _instant(node)
        return instant, instant
    _reject("temporal operators need a TIMESTAMP, DATE or INTERVAL")


def _lonlat(x: Any, y: Any) -> tuple[float, float]:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)):
        _reject("coordinates must be numbers")
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        _reject("coordinates must be longitude and latitude in degrees")
    return float(x), float(y)


def _bbox(args: list[Any]) -> SpatialIntersects:
    if len(args) != 4:
        _reject("BBOX takes four numbers: minx, miny, maxx, maxy")
    (minx, miny), (maxx, maxy) = _lonlat(args[0], args[1]), _lonlat(args[2], args[3])
    if minx > maxx or miny > maxy:
        _reject("BBOX needs minx <= maxx and miny <= maxy")
    ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]
    return SpatialIntersects({"type": "Polygon", "coordinates": [ring]}, (minx, miny, maxx, maxy))


def _polygon(geometry: dict[str, Any]) -> SpatialIntersects:
    if geometry.get("type") != "Polygon":
        _reject("S_INTERSECTS supports POLYGON and BBOX geometries only")
    if "crs" in geometry:
        _reject("SRID is not supported; coordinates are longitude and latitude")
    rings = [[list(_position(c)) for c in ring] for ring in geometry["coordinates"]]
    if any(len(ring) < 4 or ring[0] != ring[-1] for ring in rings):
        _reject("polygon rings must be closed and have at least four positions")
    polygon = {"type": "Polygon", "coordinates": rings}
    if not shape(polygon).is_valid:
        _reject("the polygon is not valid (its rings cross or touch)")
    xs, ys = [x for x, _ in rings[0]], [y for _, y in rings[0]]
    return SpatialIntersects(polygon, (min(xs), min(ys), max(xs), max(ys)))


def _position(coordinate: tuple[Any, ...]) -> tuple[float, float]:
    if len(coordinate) != 2:
        _reject("polygon positions must have two coordinates")
    return _lonlat(*coordinate)
