"""Nearest placement without the warper: the same pixels as GDAL's nearest warp (rasterio's
reproject, the call the multidimensional reader makes otherwise) wherever it is made, and no
placement where GDAL's own rounding decides."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio.enums
import rasterio.warp
from affine import Affine
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid
from ogcserver.storage.readers.nearest import pick_nearest
from ogcserver.storage.readers.xarray_reader import XarrayReader
from tests.support import cubes

WGS84 = "EPSG:4326"


def warped(values: np.ndarray, transform: Affine, crs: str, grid: Grid) -> np.ndarray:
    out = np.full((grid.height, grid.width), np.nan, values.dtype)
    rasterio.warp.reproject(values, out, src_transform=transform, src_crs=crs, src_nodata=np.nan,
                            dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan,
                            resampling=rasterio.enums.Resampling.nearest, init_dest_nodata=True)
    return out


# cell sizes and view/cell ratios that put pixel centres on cell edges (ties) as well as between
CELLS = st.sampled_from([0.25, 2.5, 1 / 3, 0.1, 1.875, 1 / 120, 0.7071])
RATIOS = st.sampled_from([1.0, 2.0, 0.5, 1 / 3, 3.0, 0.25, 1.5, 0.9, 1.137])


@settings(max_examples=400, deadline=None)
@given(rows=st.integers(1, 300), cols=st.integers(1, 300), cell=CELLS, aspect=st.sampled_from([1.0, 2.0, 0.5]),
       x_ratio=RATIOS, y_ratio=RATIOS, start=st.tuples(st.floats(0, 0.9), st.floats(0, 0.9)),
       on_edges=st.booleans(), fill=st.tuples(st.floats(0, 1), st.floats(0, 1)), seed=st.integers(0, 9))
def test_picks_are_the_warpers_pixels(rows, cols, cell, aspect, x_ratio, y_ratio, start, on_edges, fill, seed):
    """Views inside the source, their corner anywhere or on a cell's corner, any share of it."""
    source = Affine(cell, 0, -10.5, 0, -cell * aspect, 60.5)
    values = np.random.default_rng(seed).random((rows, cols)).astype(np.float32)
    values[values < 0.1] = np.nan
    x0, y0 = start[0] * cols, start[1] * rows  # the view's corner, in source cells
    if on_edges:
        x0, y0 = float(int(x0)), float(int(y0))
    width = max(1, int(fill[0] * (cols - x0) / x_ratio))
    height = max(1, int(fill[1] * (rows - y0) / y_ratio))
    view = Grid(WGS84, source @ Affine.translation(x0, y0) @ Affine.scale(x_ratio, y_ratio), width, height)
    picked = pick_nearest(values, source, WGS84, view)
    assume(picked is not None)  # a view of one pixel wider than the source, or the doubtful edge
    np.testing.assert_array_equal(picked, warped(values, source, WGS84, view))


@pytest.mark.parametrize("box, size", [
    (BBox(-10, 35, 30, 60, WGS84), (256, 256)),  # a continent of a 0.25 degree grid
    (BBox(5, 45, 12, 50, WGS84), (256, 256)),  # a region, zoomed in
    (BBox(-179.9, -89.9, 179.9, 89.9, WGS84), (300, 150)),  # coarser than the cells
])
def test_views_inside_the_source_are_picked(box, size):
    source = Affine(0.25, 0, -180, 0, -0.25, 90)
    values = np.random.default_rng(1).random((720, 1440)).astype(np.float32)
    view = Grid.from_bbox(box, *size)
    picked = pick_nearest(values, source, WGS84, view)
    assert picked is not None
    np.testing.assert_array_equal(picked, warped(values, source, WGS84, view))


@pytest.mark.parametrize("view", [
    Grid(WGS84, Affine(0.1, 0, -10.55, 0, -0.1, 60.5), 50, 50),  # a centre on the first column's west edge
    Grid(WGS84, Affine(0.1, 0, -10.5, 0, -0.1, 60.55), 50, 50),  # a centre on the first row's north edge
    Grid(WGS84, Affine(0.1, 0, -12, 0, -0.1, 60), 50, 50),  # west of the source
    Grid(WGS84, Affine(0.1, 0, 5, 0, -0.1, 60), 200, 50),  # past the east edge: GDAL looks a turn away
    Grid("EPSG:3857", Affine(1000, 0, 0, 0, -1000, 6e6), 50, 50),  # another CRS
    Grid(WGS84, Affine(0.1, 0.01, -10, 0.01, -0.1, 60), 50, 50),  # rotated
])
def test_doubtful_views_are_left_to_the_warper(view):
    source = Affine(0.1, 0, -10.5, 0, -0.1, 60.5)
    assert pick_nearest(np.ones((100, 100), np.float32), source, WGS84, view) is None


def test_a_nearest_view_inside_the_source_is_placed_without_the_warper(tmp_path, monkeypatch):
    """The reader's map of a view inside the grid is GDAL's nearest warp of the whole decoded
    step, and no warp is made for it."""
    cube = cubes.four_d(tmp_path / "cube.nc")
    reader = XarrayReader()
    info = reader.describe(str(cube), variable="ta")
    truth = cubes.decoded(cube, "ta").isel(time=3, level=2).values  # north-up, -180..180
    view = Grid.from_bbox(BBox(-100.3, -40.7, 50.2, 30.1, WGS84), 37, 23)
    expected = warped(truth, Affine(5, 0, -180, 0, -5, 90), WGS84, view)

    def no_warp(*args, **kwargs):
        raise AssertionError("warped")

    monkeypatch.setattr(rasterio.warp, "reproject", no_warp)
    raster = reader.read(info, view, [1], Resampling.NEAREST)
    np.testing.assert_array_equal(np.where(raster.valid, raster.data[0], np.nan), expected)
