"""Vendor parameters shared by WMS, WMTS, WCS and KML: the ones that pick and stack mosaic
items (FILTER, a CQL2-text subset; TIME; MOSAICORDER; MOSAICOPERATOR) and RENDERINGRULE, an
ad-hoc processing chain."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import ValidationError

from ogcserver.core.filters import parse_filter
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.core.query import EVERY_ITEM, ItemQuery
from ogcserver.model.catalog import TimeRange
from ogcserver.model.dimensions import is_calendar_date, names_a_day
from ogcserver.model.errors import InvalidValue
from ogcserver.model.mosaic import Operator, parse_ordering
from ogcserver.model.time import parse_time
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import Params

PARAMETERS = ("FILTER", "TIME", "MOSAICORDER", "MOSAICOPERATOR")


def is_item_parameter(name: str) -> bool:
    """A parameter that picks items or dimension steps: the above, ELEVATION or DIM_<NAME>."""
    upper = name.upper()
    return upper in PARAMETERS or upper == "ELEVATION" or (upper.startswith("DIM_") and len(upper) > 4)
MAX_RULE_DEPTH = 32  # nesting of JSON arrays and objects in a RENDERINGRULE


def dimension_values(params: Mapping[str, str] | Params, time_parameter: str = "TIME") -> tuple[tuple[str, str], ...]:
    """Values asked for the layers' dimensions: TIME, ELEVATION and DIM_<NAME> (any other
    dimension, named case-blind as WMS 1.3.0's sample dimensions are), by dimension name."""
    names = params.names() if isinstance(params, Params) else list(params)
    found = {"time": params.get(time_parameter.upper(), ""), "elevation": params.get("ELEVATION", "")}
    for name in names:
        if name.upper().startswith("DIM_") and len(name) > 4:
            found[name[4:].lower()] = params.get(name, "") or ""
    return tuple((name, (value or "").strip()) for name, value in found.items() if value and value.strip())


def parse_item_query(params: Mapping[str, str] | Params, time_parameter: str = "TIME") -> ItemQuery:
    """The item selection a request asks for; EVERY_ITEM when it asks for none."""
    text_filter = (params.get("FILTER", "") or "").strip()
    text_time = (params.get(time_parameter.upper(), "") or "").strip()
    text_order = (params.get("MOSAICORDER", "") or "").strip()
    text_operator = (params.get("MOSAICOPERATOR", "") or "").strip().lower()
    dimensions = dimension_values(params, time_parameter)
    if not (text_filter or text_time or text_order or text_operator or dimensions):
        return EVERY_ITEM
    try:
        ordering = parse_ordering(text_order) if text_order else None
    except ValueError as exc:
        raise InvalidValue("MOSAICORDER", str(exc)) from None
    try:
        operator = Operator(text_operator) if text_operator else None
    except ValueError:
        names = ", ".join(o.value for o in Operator)
        raise InvalidValue("MOSAICOPERATOR", f"'{text_operator[:20]}' is not one of {names}") from None
    return ItemQuery(
        where=parse_filter(text_filter) if text_filter else None,
        time=_acquisition_time(text_time, time_parameter.upper()),
        nearest_time=True,
        ordering=ordering,
        operator=operator,
        dimensions=dimensions,
    )


def _acquisition_time(text: str, parameter: str) -> TimeRange | None:
    """TIME as acquisition times; None for none, ``current`` and ``default`` (the dimension's
    default, as WMTS's REST paths name it), and a day only other calendars have (30 February of a
    360-day year): that picks a step of a time dimension by its text alone."""
    if not text or text.lower() in ("current", "default"):
        return None
    try:
        return parse_time(text, parameter)
    except InvalidValue:
        ends = [part.strip() for part in text.split("/")[:2] if part.strip() not in ("", "..")]
        other_calendars = all(names_a_day(end) and is_calendar_date(end) for end in ends)
        if ends and other_calendars and not all(is_calendar_date(end, "standard") for end in ends):
            return None
        raise  # Gregorian days refused for another reason (a time past year 9999 in UTC, ...)


def parse_rendering_rule(raw: str | None) -> ProcessingTemplate | None:
    """An ad-hoc processing chain: {"bands": [...], "chain": [{"function": ...}, ...]} as JSON."""
    if raw is None or raw.strip() == "":
        return None
    try:
        rule = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: arrays nested about a thousand deep
        raise OwsError("InvalidParameterValue", "RENDERINGRULE is not valid JSON", "RENDERINGRULE") from None
    if _depth(rule) > MAX_RULE_DEPTH:
        raise OwsError("InvalidParameterValue", f"RENDERINGRULE nests deeper than {MAX_RULE_DEPTH} levels",
                       "RENDERINGRULE")
    if not isinstance(rule, dict):
        raise OwsError("InvalidParameterValue", "RENDERINGRULE must be a JSON object", "RENDERINGRULE")
    try:
        return ProcessingTemplate.model_validate({**rule, "name": "request"})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise OwsError("InvalidParameterValue", f"RENDERINGRULE {where}: {first['msg']}"[:300], "RENDERINGRULE") from None


def _depth(value: object) -> int:
    """How deeply arrays and objects nest (counted without recursion, so any depth is safe)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_RULE_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest
