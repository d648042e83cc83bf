"""ISO 8601 instants as UTC datetimes, for any text a caller sends.

``datetime.fromisoformat`` accepts ``0001-01-01T00:00:00+14:00``, whose UTC time lies before
year 1: converting it raises OverflowError, not ValueError. Every request time goes through
here, so such text is refused like any other bad date.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

CALENDAR_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(.)")  # the character after a calendar date


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC (a naive value is taken as UTC); ValueError past years 1..9999."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} falls outside the years 1 to 9999 in UTC") from None


def parse_utc(text: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime; ValueError for anything else.
    ``fromisoformat`` also takes digits of other scripts (2014 in Arabic-Indic digits) and any
    character between a date and its time (``2014-02-24%00``): ISO 8601 has neither."""
    stripped = text.strip()
    separator = CALENDAR_DATE.match(stripped)
    if not stripped.isascii() or (separator is not None and separator[1] not in "Tt "):
        raise ValueError(f"'{text[:40]}' is not an ISO 8601 date or time")
    try:
        value = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text[:40]}' is not an ISO 8601 date or time") from None
    return as_utc(value)
