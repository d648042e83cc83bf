"""Mosaic rules: which items come first, and how overlapping pixels are combined."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal

from ogcserver.model.instants import parse_utc

ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.\-]{0,63}$")  # item property names (also in filters)


class Operator(str, Enum):
    """How the pixels of overlapping items combine (items arrive in mosaic order, top first)."""

    FIRST = "first"    # the topmost item with a valid pixel wins
    LAST = "last"      # the bottom-most item with a valid pixel wins
    MIN = "min"
    MAX = "max"
    MEAN = "mean"
    BLEND = "blend"    # weighted mean, weights ramping up over blend_width pixels from an item's edge


OrderKind = Literal["attribute", "closest", "center", "northwest", "lock"]


@dataclass(frozen=True)
class Ordering:
    """The order items are stacked in, top first.

    attribute: by ``attribute`` ("datetime", "id" or an item property), descending or not;
    closest: by distance of ``attribute`` to ``target`` (a number or a datetime);
    center: by distance of the item's centre to the view's centre;
    northwest: by distance of the item's centre to the view's north-west corner;
    lock: only the items ``ids``, in that order.
    Ties are broken by item id, so the order is always deterministic.
    """

    kind: OrderKind = "attribute"
    attribute: str = "datetime"
    descending: bool = True
    target: float | datetime | None = None
    ids: tuple[str, ...] = ()


NEWEST = Ordering("attribute", "datetime", True)
OLDEST = Ordering("attribute", "datetime", False)
BY_NAME = Ordering("attribute", "id", False)


PRESETS = {"newest": NEWEST, "oldest": OLDEST, "name": BY_NAME,
           "center": Ordering("center"), "northwest": Ordering("northwest")}
MAX_LOCK_IDS = 256


def parse_ordering(text: str) -> Ordering:
    """An ordering from its text form, shared by the config file and the request parameter:
    ``newest``, ``oldest``, ``name``, ``center``, ``northwest``, ``by:<attribute>[:asc|:desc]``,
    ``closest:<attribute>:<number or ISO date>``, ``lock:<id>,<id>,...``. Raises ValueError."""
    text = text.strip()
    if text.lower() in PRESETS:
        return PRESETS[text.lower()]
    kind, _, rest = text.partition(":")
    kind = kind.lower()
    if kind == "by" and rest:
        attribute, _, direction = rest.rpartition(":") if rest.lower().endswith((":asc", ":desc")) else (rest, "", "asc")
        return Ordering("attribute", _attribute(attribute), direction.lower() == "desc")
    if kind == "closest" and ":" in rest:
        # dates hold colons, property names may (eo:cloud_cover): split after "datetime" or last
        attribute, _, value = rest.partition(":") if rest.startswith("datetime:") else rest.rpartition(":")
        return Ordering("closest", _attribute(attribute), target=_target(_attribute(attribute), value))
    if kind == "lock" and rest:
        ids = tuple(i.strip() for i in rest.split(",") if i.strip())
        if not ids or len(ids) > MAX_LOCK_IDS:
            raise ValueError(f"lock takes 1 to {MAX_LOCK_IDS} item ids")
        return Ordering("lock", ids=ids)
    raise ValueError(
        f"'{text[:40]}' is not an ordering (newest, oldest, name, center, northwest, "
        "by:<attribute>[:asc|:desc], closest:<attribute>:<value>, lock:<id>,...)")


def _attribute(name: str) -> str:
    if not ATTRIBUTE.match(name):
        raise ValueError(f"'{name[:40]}' is not an attribute name")
    return name


def _target(attribute: str, value: str) -> float | datetime:
    if attribute == "datetime":
        return parse_utc(value)
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not a number") from None
    if not math.isfinite(number):
        raise ValueError("the target must be a finite number")
    return number
