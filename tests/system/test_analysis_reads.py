"""What one chunk of an analysis reads, in process (no cluster): the items of a time range, an
output CRS other than the layer's, and the owner's grant."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject

from ogcserver.composition import build_core
from ogcserver.core.analysis.compute import chunk_values
from ogcserver.core.analysis.inputs import spec_from_inputs
from ogcserver.core.analysis.plan import chunks
from ogcserver.model.access import Constraints


@pytest.fixture(scope="module")
def core(settings):
    return build_core(settings)


def whole(core, spec):
    grid = spec.grid()
    (chunk,) = chunks(grid, 4096)
    return chunk_values(core.engine, spec, grid, chunk)


def test_a_time_range_reads_only_its_items(core):
    layer = core.engine.operator_layer("newest")
    area = {"output": "t", "bbox": [501000, 5198000, 502000, 5199000]}  # where both items overlap
    old = whole(core, spec_from_inputs(core.engine, layer, {**area, "time": "2020"}))
    new = whole(core, spec_from_inputs(core.engine, layer, {**area, "time": "2021-06/2023"}))
    both = whole(core, spec_from_inputs(core.engine, layer, area))
    inside = old.valid & new.valid
    assert inside.all()
    assert (old.data[:, inside] == 100).all() and (new.data[:, inside] == 200).all()
    assert (both.data[:, inside] == 200).all()  # without a range, the newest on top


def test_another_crs_is_the_source_warped_there(core, data_dir):
    layer = core.engine.operator_layer("dem")
    spec = spec_from_inputs(core.engine, layer, {"output": "w", "crs": "EPSG:3857", "resolution": 14,
                                                 "bbox": [1002500, 5931000, 1005000, 5933500]})
    raster = whole(core, spec)
    grid = spec.grid()
    with rasterio.open(data_dir / "dem.tif") as src:
        want = np.full((grid.height, grid.width), -9999, dtype=np.float32)
        reproject(rasterio.band(src, 1), want, dst_transform=grid.transform, dst_crs="EPSG:3857",
                  resampling=Resampling.nearest, dst_nodata=-9999)
    both = raster.valid & (want != -9999)
    assert both.sum() > 0.5 * want.size
    assert (raster.data[0][both] == want[both]).mean() > 0.99  # nearest: a few pixels on cell edges may differ


def test_the_owner_grant_area_limits_what_a_chunk_reads(core):
    layer = core.engine.operator_layer("dem")
    from ogcserver.model.geo import transform_coords

    xs, ys = transform_coords(np.array([500000.0, 501000.0, 501000.0, 500000.0]),
                              np.array([5199000.0, 5199000.0, 5200000.0, 5200000.0]), "EPSG:32632", "EPSG:4326")
    ring = tuple(zip(xs.tolist(), ys.tolist()))
    granted = Constraints(area=(ring + (ring[0],),))
    spec = spec_from_inputs(core.engine, layer, {"output": "g", "bbox": [500000, 5197000, 503000, 5200000]},
                            constraints=granted)
    raster = whole(core, spec)
    assert raster.valid[:100, :100].mean() > 0.95 and not raster.valid[150:, :].any() and not raster.valid[:, 150:].any()
