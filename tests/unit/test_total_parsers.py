"""Request parsers are total: any text parses into bounded values or raises the domain's
InvalidValue (or the protocol's OwsError), never OverflowError, RecursionError or the like."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from ogcserver.core.functions.expression import Expression
from ogcserver.model.dimensions import names_a_day
from ogcserver.model.errors import ChainError, InvalidValue, UnsupportedCrs
from ogcserver.model.mosaic import parse_ordering
from ogcserver.model.time import parse_time
from ogcserver.ows.crs import parse_crs
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.items import parse_rendering_rule
from ogcserver.ows.kvp import Params
from ogcserver.ows.wms.parse import parse_bbox

EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("text", [*EDGE_TIMES, f"{EDGE_TIMES[0]}/..", f"../{EDGE_TIMES[1]}",
                                  f"{EDGE_TIMES[0]}/{EDGE_TIMES[1]}"])
def test_times_beyond_the_calendar_in_utc_are_invalid_values(text):
    with pytest.raises(InvalidValue, match="outside the years 1 to 9999"):
        parse_time(text)


def test_times_at_the_calendar_edges_in_utc_still_parse():
    first = parse_time("0001-01-01T00:00:00Z")
    assert first.start == datetime(1, 1, 1, tzinfo=UTC)
    last = parse_time("9999-12-31T23:59:59+00:00")
    assert last.end == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    shifted = parse_time("0001-01-01T10:00:00+09:00")
    assert shifted.start == datetime(1, 1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["\u0662\u0660\u0661\u0664-02-24", "2014-0\uff12-24", "2014-02-24%00", "2014-02-24x06:00",
                                  "2014-02-24%00/2014-03-01", "\u0662\u0660\u0661\u0664"])
def test_times_iso_8601_does_not_have_are_invalid_values(text):
    """Python's parsers take digits of any script and any character between a date and its
    time; a request time holding them named a period it does not write (a map, a catalog search)."""
    with pytest.raises(InvalidValue, match="not an ISO 8601 date or time"):
        parse_time(text)


@pytest.mark.parametrize("text", ["2014-02-24 06:00:00", "2014-02-24t06:00:00Z", "2014-02-24T06", "2014-W09-1",
                                  "20140224"])
def test_iso_8601_forms_python_reads_still_parse(text):
    assert parse_time(text).start.date().isoformat() == "2014-02-24"


@pytest.mark.parametrize("text", [f"closest:datetime:{t}" for t in EDGE_TIMES])
def test_a_closest_date_ordering_outside_the_calendar_is_refused(text):
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        parse_ordering(text)


@pytest.mark.parametrize("text", ["1" + "0" * 400, "b1 * " + "9" * 300, "1e400", "-1e309 + b1", "b1 ** 1e400",
                                  "b1 + 3.5e38"])
def test_numbers_past_float32_are_refused_in_expressions(text):
    with pytest.raises(InvalidValue, match="finite number"):
        Expression(text)


@pytest.mark.parametrize("text", ["-" * 500 + "1", "(" * 250 + "1" + ")" * 250, "b1\x00", "b1 +" * 130 + "b1",
                                  "min(" * 40 + "b1" + ", 1)" * 40, "x" * 513])
def test_deep_long_or_odd_expressions_are_refused(text):
    with pytest.raises(InvalidValue):
        Expression(text)


def test_the_largest_float32_constant_is_still_a_number():
    out = Expression("b1 * 0 + 3.4e38").evaluate({1: np.zeros((1, 1), dtype=np.float32)})
    assert np.isfinite(out).all() and out[0, 0] == np.float32(3.4e38)


@pytest.mark.parametrize("rule", [
    '{"chain": [{"function": "expression", "expression": "1' + "0" * 400 + '"}]}',
    '{"chain": ' + "[" * 2000 + "]" * 2000 + "}",
    '{"bands": [' + "9" * 400 + '], "chain": []}',
    '{"bands": [1e400], "chain": []}',
    '{"chain": [{"function": "clip", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1e400, 0], [1, 1], [0, 0]]]}}]}',
])
def test_hostile_rendering_rules_are_invalid_parameter_values(rule):
    with pytest.raises(OwsError) as raised:
        parse_rendering_rule(rule)
    assert raised.value.code == "InvalidParameterValue" and raised.value.locator == "RENDERINGRULE"


@pytest.mark.parametrize("raw", ["9" * 400, "99999999999", "1_000", "\u0661\u0662", "\u00b2", "+-1", "1e3", ""])
def test_integers_are_ascii_and_bounded(raw):
    params = Params([("WIDTH", raw)])
    with pytest.raises(OwsError) as raised:
        params.int("WIDTH", minimum=1)
    assert raised.value.code in ("InvalidParameterValue", "MissingParameterValue")


def test_ordinary_integers_still_parse():
    assert Params([("WIDTH", " 256 ")]).int("WIDTH") == 256
    assert Params([("WIDTH", "-3")]).int("WIDTH") == -3
    assert Params([("WIDTH", "999999999")]).int("WIDTH") == 999_999_999
    assert json.loads("1")  # keep json imported for the rule texts above


ARABIC_3857 = "\u0663\u0668\u0665\u0667"


@pytest.mark.parametrize("text", [f"EPSG:{ARABIC_3857}", f"urn:ogc:def:crs:EPSG::{ARABIC_3857}",
                                  f"http://www.opengis.net/def/crs/EPSG/0/{ARABIC_3857}", "EPSG:\u00b3857"])
def test_crs_codes_are_ascii_digits(text):
    with pytest.raises(UnsupportedCrs):
        parse_crs(text)
    assert parse_crs("EPSG:3857").code == "EPSG:3857"


@pytest.mark.parametrize("bbox", ["\u0660,0,1,1", "0,0,1,\u0661", "0,0,\uff11,1"])
def test_bbox_numbers_are_ascii_digits(bbox):
    with pytest.raises(OwsError) as raised:
        parse_bbox(Params([("BBOX", bbox)]), parse_crs("CRS:84"), "1.3.0")
    assert raised.value.locator == "BBOX"
    assert parse_bbox(Params([("BBOX", "0,0,1,1")]), parse_crs("CRS:84"), "1.3.0").maxx == 1


def test_dimension_days_and_band_names_are_ascii_digits():
    assert not names_a_day("\u0662\u0660\u0660\u0661-01-01") and names_a_day("2001-01-01")
    with pytest.raises(ChainError):
        Expression("b\u0661 * 2")
    assert Expression("b1 * 2")
