"""Month lengths of the CF calendars, as cftime counts them, decide which days a time axis has."""

from __future__ import annotations

import cftime
import pytest

from ogcserver.model.dimensions import is_calendar_date, month_days

CALENDARS = ("standard", "gregorian", "proleptic_gregorian", "julian", "noleap", "365_day", "all_leap", "366_day",
             "360_day")


@pytest.mark.parametrize("calendar", CALENDARS)
@pytest.mark.parametrize("year", (1500, 1600, 1700, 1900, 2000, 2001, 2004))
def test_month_lengths_are_cftimes(calendar, year):
    for month in range(1, 13):
        following = cftime.datetime(year + month // 12, month % 12 + 1, 1, calendar=calendar)
        length = (following - cftime.datetime(year, month, 1, calendar=calendar)).days
        assert month_days(calendar, year, month) == length, (calendar, year, month)


def test_days_of_some_calendar_or_of_the_layers():
    assert is_calendar_date("2001-02-30") and is_calendar_date("2001-02-29T06:00:00Z")  # 360_day, all_leap
    assert not is_calendar_date("2001-02-31") and not is_calendar_date("2001-13-01")
    assert not is_calendar_date("2001-00-10") and not is_calendar_date("2001-04-00")
    assert is_calendar_date("2001-02-30", "360_day") and not is_calendar_date("2001-01-31", "360_day")
    assert not is_calendar_date("2000-02-29", "noleap") and is_calendar_date("2000-02-29", "standard")
    assert is_calendar_date("1900-02-29", "julian") and not is_calendar_date("1900-02-29", "proleptic_gregorian")
    assert is_calendar_date("2001-02", "360_day")  # a month names no particular day
