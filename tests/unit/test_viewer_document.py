"""What the viewer is told of a layer: its dimensions in one shape, and the map CRS it is seen in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ogcserver.model.catalog import LayerInfo
from ogcserver.model.dimensions import ISO8601, Dimension
from ogcserver.model.geo import BBox
from ogcserver.ows.capabilities import MAX_LISTED_TIMES
from ogcserver.ows.viewer import dimensions, view_crs

WGS84 = "EPSG:4326"
INFO = LayerInfo(
    name="c", title="c", abstract="", keywords=(), service="s", crs=WGS84,
    bounds=BBox(9, 46, 10, 47, WGS84), lonlat_bounds=BBox(9, 46, 10, 47, WGS84),
    resolution=(0.01, 0.01), band_count=1, dtype="uint8", band_names=("b",), nodata=None, item_count=2,
    is_mosaic=True, styles=(), default_style="default", advertised_crs=(WGS84,),
)
FIRST = datetime(2020, 6, 1, tzinfo=UTC)


def test_a_layer_without_time_has_no_dimension():
    assert dimensions(INFO) == []


def test_a_few_times_are_listed_and_the_whole_range_is_the_default():
    times = (FIRST, FIRST + timedelta(days=365))
    info = replace(INFO, time_extent=times, times=times)
    assert dimensions(info) == [{
        "name": "time", "parameter": "TIME", "units": "ISO8601",
        "values": ["2020-06-01T00:00:00Z", "2021-06-01T00:00:00Z"],
        "default": "2020-06-01T00:00:00Z/2021-06-01T00:00:00Z",
    }]


def test_too_many_times_to_list_give_the_range_instead():
    times = tuple(FIRST + timedelta(hours=h) for h in range(MAX_LISTED_TIMES + 1))
    info = replace(INFO, time_extent=(times[0], times[-1]), times=times)
    (time,) = dimensions(info)
    assert "values" not in time
    assert (time["start"], time["end"], time["period"]) == ("2020-06-01T00:00:00Z", "2020-07-12T16:00:00Z", None)
    assert time["default"] == "2020-06-01T00:00:00Z/2020-07-12T16:00:00Z"


def test_layers_past_web_mercators_latitudes_are_seen_in_plate_carree():
    assert view_crs(INFO) == "EPSG:3857"
    assert view_crs(replace(INFO, lonlat_bounds=BBox(-180, -90, 180, 90, WGS84))) == "EPSG:4326"
    assert view_crs(replace(INFO, lonlat_bounds=BBox(0, 60, 90, 89, WGS84))) == "EPSG:4326"
    assert view_crs(replace(INFO, lonlat_bounds=BBox(0, -88, 90, -60, WGS84))) == "EPSG:4326"
    assert view_crs(replace(INFO, lonlat_bounds=BBox(177, 66, 180, 69, WGS84))) == "EPSG:3857"


def test_a_multidimensional_layer_gets_a_control_per_axis_with_its_wms_parameter():
    axes = (Dimension("time", "time", ISO8601, ("2014-02-24T00:00:00Z", "2014-02-24T06:00:00Z"), default=1),
            Dimension("elevation", "level", "hPa", ("1000", "850", "500")),
            Dimension("member", "member", "", ("0", "1")))
    info = replace(INFO, is_mosaic=False, dimensions=axes)
    assert dimensions(info) == [
        {"name": "time", "parameter": "TIME", "units": ISO8601, "default": "2014-02-24T06:00:00Z",
         "values": ["2014-02-24T00:00:00Z", "2014-02-24T06:00:00Z"]},
        {"name": "elevation", "parameter": "ELEVATION", "units": "hPa", "default": "1000",
         "values": ["1000", "850", "500"]},
        {"name": "member", "parameter": "DIM_MEMBER", "units": "", "default": "0", "values": ["0", "1"]},
    ]
