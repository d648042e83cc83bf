"""KML times of steps in any CF calendar: real xsd:dateTime instants, in the steps' order."""

from __future__ import annotations

from datetime import datetime

from ogcserver.ows.kml.slider_times import slider_time


def test_gregorian_days_are_kept():
    for calendar in ("standard", "proleptic_gregorian", "noleap", ""):
        assert slider_time("2001-03-01T06:00:00Z", calendar) == "2001-03-01T06:00:00Z"


def test_days_gregorian_lacks_are_placed_by_their_place_in_the_year():
    assert slider_time("2001-02-29T00:00:00Z", "all_leap") == "2001-02-28T20:07:52Z"  # day 59 of 366 on 365
    assert slider_time("2001-02-30T00:00:00Z", "360_day") == "2001-03-01T19:40:00Z"
    assert slider_time("2004-02-29T00:00:00Z", "all_leap") == "2004-02-29T00:00:00Z"  # a leap year: the same day


def test_a_360_day_year_keeps_its_order_and_stays_in_its_year():
    steps = [f"2001-{m:02d}-{d:02d}T12:00:00Z" for m in range(1, 13) for d in range(1, 31)]
    instants = [slider_time(s, "360_day") for s in steps]
    assert instants == sorted(instants) and len(set(instants)) == 360
    assert all(datetime.strptime(i, "%Y-%m-%dT%H:%M:%SZ").year == 2001 for i in instants if i)


def test_steps_without_an_instant():
    assert slider_time("0000-01-01T00:00:00Z", "360_day") is None  # xsd:dateTime has no year 0 in Python's range
    assert slider_time("level 3", "standard") is None
