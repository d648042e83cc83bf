"""The dimensions of a layer over several files: the union of their steps, each file's own
indices for a step of the layer, the span a catalog records, and the start/end/period form of
evenly spaced times in capabilities."""

from __future__ import annotations

from dataclasses import replace

from ogcserver.model.dimensions import ISO8601, Dimension, Slice, local_slice, spanning, time_span
from ogcserver.ows.capabilities import regular_extent


def days(*texts: str) -> Dimension:
    return Dimension("time", "time", ISO8601, tuple(f"2020-03-{d}T00:00:00Z" for d in texts), len(texts) - 1)


LEVELS = Dimension("elevation", "level", "hPa", ("500", "850", "1000"), 2)


def test_the_union_of_the_files_steps_in_order_with_the_latest_time_by_default():
    (time, level) = spanning([(days("03", "04"), LEVELS), (days("01", "02"), LEVELS)])
    assert time.values == days("01", "02", "03", "04").values and time.default == 3
    assert level == LEVELS


def test_numbers_merge_by_value_and_keep_the_first_files_default():
    (level,) = spanning([(LEVELS,), (replace(LEVELS, values=("1000", "925"), default=0),)])
    assert level.values == ("500", "850", "925", "1000") and level.default_value == "1000"


def test_a_step_of_the_layer_is_each_files_own_index_or_none():
    layer = spanning([(days("01", "02"),), (days("03", "04"),)])
    fourth = Slice((("time", 3),))
    assert local_slice(fourth, layer, (days("03", "04"),)) == Slice((("time", 1),))
    assert local_slice(fourth, layer, (days("01", "02"),)) is None
    assert local_slice(fourth, layer, ()) is None  # a file without the axis
    assert local_slice(fourth, layer, layer) == fourth


def test_the_catalog_records_the_first_and_last_time():
    assert time_span((LEVELS, days("04", "02", "03"))) == {"time_first": "2020-03-02T00:00:00Z",
                                                          "time_last": "2020-03-04T00:00:00Z"}
    assert time_span((LEVELS,)) == {}


def test_evenly_spaced_gregorian_times_are_a_period():
    assert regular_extent(days("01", "02", "03")) == "2020-03-01T00:00:00Z/2020-03-03T00:00:00Z/P1D"
    six_hourly = replace(days("01"), values=tuple(f"2020-03-01T{h:02d}:00:00Z" for h in (0, 6, 12, 18)))
    assert regular_extent(six_hourly).endswith("/PT6H")
    assert regular_extent(days("01", "02", "04")) is None  # a gap: listed
    assert regular_extent(days("01", "02")) is None  # two steps: as short listed
    assert regular_extent(replace(days("01", "02", "03"), calendar="noleap")) is None
    assert regular_extent(LEVELS) is None
