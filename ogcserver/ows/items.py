"""The vendor parameters that pick and stack mosaic items, shared by WMS, WMTS, WCS and KML:
FILTER (a CQL2-text subset), TIME, MOSAICORDER and MOSAICOPERATOR."""

from __future__ import annotations

from collections.abc import Mapping

from ogcserver.core.filters import parse_filter
from ogcserver.core.query import EVERY_ITEM, ItemQuery
from ogcserver.model.errors import InvalidValue
from ogcserver.model.mosaic import Operator, parse_ordering
from ogcserver.model.time import parse_time

PARAMETERS = ("FILTER", "TIME", "MOSAICORDER", "MOSAICOPERATOR")


def parse_item_query(params: Mapping[str, str], time_parameter: str = "TIME") -> ItemQuery:
    """The item selection a request asks for; EVERY_ITEM when it asks for none."""
    text_filter = params.get("FILTER", "").strip()
    text_time = params.get(time_parameter.upper(), "").strip()
    text_order = params.get("MOSAICORDER", "").strip()
    text_operator = params.get("MOSAICOPERATOR", "").strip().lower()
    if not (text_filter or text_time or text_order or text_operator):
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
        time=parse_time(text_time, time_parameter.upper()) if text_time and text_time.lower() != "current" else None,
        nearest_time=True,
        ordering=ordering,
        operator=operator,
    )

