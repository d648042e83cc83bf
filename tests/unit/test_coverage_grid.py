"""The output grid of coverage requests: native pixels kept, explicit grids honoured, scaling."""

from __future__ import annotations

import pytest
from affine import Affine

from ogcserver.core.coverage_grid import native_grid, output_grid
from ogcserver.core.query import CoverageQuery
from ogcserver.model.catalog import LayerInfo
from ogcserver.model.errors import AreaOutsideCoverage, InvalidValue
from ogcserver.model.geo import BBox

UTM = "EPSG:32632"
INFO = LayerInfo(
    name="c", title="c", abstract="", keywords=(), service="s", crs=UTM,
    bounds=BBox(500000, 5197000, 503000, 5200000, UTM), lonlat_bounds=BBox(9, 46.9, 9.04, 46.95, "EPSG:4326"),
    resolution=(10.0, 10.0), band_count=1, dtype="float32", band_names=("b",), nodata=None, item_count=1,
    is_mosaic=False, styles=(), default_style="default", advertised_crs=(UTM,),
)


def grid(**kw):
    return output_grid(INFO, CoverageQuery("c", **kw))


def test_native_grid_is_the_source_grid():
    g = native_grid(INFO)
    assert (g.width, g.height) == (300, 300) and g.transform == Affine(10, 0, 500000, 0, -10, 5200000)
    assert grid() == g


@pytest.mark.parametrize("area, window", [
    ((500000, 5199000, 501000, 5200000), (0, 0, 100, 100)),   # pixel edges
    ((500005, 5199005, 500995, 5199995), (0, 0, 100, 100)),   # pixel centres
    ((500006, 5199006, 500994, 5199994), (1, 1, 98, 98)),     # centres strictly inside only
    ((499000, 5199000, 501000, 5201000), (0, 0, 100, 100)),   # clipped to the coverage
])
def test_native_areas_keep_native_pixels(area, window):
    col, row, width, height = window
    g = grid(area=BBox(*area, UTM))
    assert (g.width, g.height) == (width, height)
    assert g.transform == Affine(10, 0, 500000 + 10 * col, 0, -10, 5200000 - 10 * row)


def test_a_slice_keeps_the_pixel_holding_the_point():
    g = grid(area=BBox(500000, 5199503, 503000, 5199503, UTM))
    assert (g.width, g.height) == (300, 1) and g.transform.f == 5199510


def test_outside_is_refused():
    with pytest.raises(AreaOutsideCoverage):
        grid(area=BBox(0, 0, 10, 10, UTM))


def test_explicit_size_and_resolution():
    box = BBox(500000, 5199000, 501000, 5200000, UTM)
    assert grid(area=box, size=(50, 40)).transform == Affine(20, 0, 500000, 0, -25, 5200000)
    g = grid(area=box, resolution=(30.0, 30.0))  # the resolution asked for, the box rounded to it
    assert (g.width, g.height, g.transform.a) == (33, 33, 30.0)
    with pytest.raises(InvalidValue):
        grid(area=BBox(500000, 5199000, 500000, 5200000, UTM), size=(10, 10))


def test_scale_multiplies_the_native_pixel_count():
    g = grid(scale=(0.5, 0.25))
    assert (g.width, g.height) == (150, 75) and g.transform == Affine(20, 0, 500000, 0, -40, 5200000)
    g = grid(scale=(2.0, 2.0), size=(None, 10))  # a fixed size wins over the scale on its axis
    assert (g.width, g.height) == (600, 10)


def test_other_crs_keeps_the_pixel_count_along_the_diagonal():
    g = grid(crs="EPSG:3857")
    assert g.crs == "EPSG:3857" and abs(g.width * g.height / 300**2 - 1) < 0.2
    assert g.transform.a == pytest.approx(-g.transform.e, rel=0.02)  # square pixels
