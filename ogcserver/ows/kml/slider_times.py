"""Times Google Earth's time slider can place, for the steps of any CF calendar.

KML's TimeSpan and TimeStamp hold xsd:dateTime, a Gregorian instant: a 360-day year's
2001-02-30 (or an all_leap year's 2001-02-29) is not one, and Google Earth leaves out a time it
cannot parse. The steps of an axis in a calendar with such days are mapped onto the Gregorian
year by their place in their own year (day 59 of 360 is day 59.8 of 365): the steps keep their
order and their spacing, so the slider plays the series evenly with its seasons where a viewer
expects them, while each overlay's name shows the step's own date and its image is that step's.
Calendars whose every day is a Gregorian day (standard, proleptic_gregorian, noleap) are kept.
"""

from __future__ import annotations

import calendar as gregorian
import re
from datetime import datetime, timedelta

from ogcserver.model.dimensions import month_days

MAPPED = frozenset({"360_day", "all_leap", "366_day", "julian"})  # calendars with days Gregorian lacks
STEP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})", re.A)


def slider_time(step: str, calendar: str) -> str | None:
    """The xsd:dateTime of a time step for KML; None when it has none (a year outside 1-9999)."""
    m = STEP.match(step)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    if not 1 <= year <= 9999:
        return None
    if calendar not in MAPPED:
        return step
    own_year = sum(month_days(calendar, year, k) for k in range(1, 13))
    elapsed = (sum(month_days(calendar, year, k) for k in range(1, month)) + day - 1
               + (hour * 3600 + minute * 60 + second) / 86400)
    real_year = 366 if gregorian.isleap(year) else 365
    instant = datetime(year, 1, 1) + timedelta(seconds=round(elapsed * real_year / own_year * 86400))
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ") if instant.year == year else None
