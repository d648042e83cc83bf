"""Time values of requests (WMS/WMTS TIME, WCS time subsets, catalog ``datetime``) as ranges.

An instant given with reduced precision means its whole period: ``2022`` is the year,
``2022-06`` the month, ``2022-06-01`` the day, as users of acquisition dates expect; ``a/b`` is
a range with ``..`` for an open end. A trailing period (``a/b/P1D``, WMS's extent syntax) is
accepted and ignored: every acquisition time inside the range is wanted.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from ogcserver.model.catalog import TimeRange
from ogcserver.model.errors import InvalidValue
from ogcserver.model.instants import parse_utc

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
REDUCED = re.compile(r"^([0-9]{4})(?:-([0-9]{2}))?(?:-([0-9]{2}))?$")  # ASCII digits: ISO 8601 has no others


def _instant(text: str, parameter: str | None) -> TimeRange:
    text = text.strip()
    m = REDUCED.match(text)
    try:
        if m:
            year, month, day = int(m[1]), int(m[2] or 0), int(m[3] or 0)
            if not month:
                start, end = datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59)
            elif not day:
                start = datetime(year, month, 1)
                end = datetime(year, month, calendar.monthrange(year, month)[1], 23, 59, 59)
            else:
                start = datetime(year, month, day)
                end = start + timedelta(days=1, seconds=-1)
            return TimeRange(start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
        value = parse_utc(text).replace(microsecond=0)
    except ValueError as exc:
        raise InvalidValue(parameter, str(exc)) from None
    return TimeRange(value, value)


def parse_time(text: str, parameter: str | None = None) -> TimeRange:
    """A time or range as the acquisition times it covers (both ends included)."""
    parts = text.strip().split("/")
    if len(parts) == 1:
        return _instant(parts[0], parameter)
    if len(parts) > 3 or (len(parts) == 3 and not parts[2].strip().upper().startswith("P")):
        raise InvalidValue(parameter, f"'{text[:40]}' is not a time or a start/end range")
    start = EARLIEST if parts[0].strip() in ("", "..") else _instant(parts[0], parameter).start
    end = LATEST if parts[1].strip() in ("", "..") else _instant(parts[1], parameter).end
    if start > end:
        raise InvalidValue(parameter, f"the range '{text[:40]}' ends before it starts")
    return TimeRange(start, end)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
