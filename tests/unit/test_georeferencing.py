"""The source window a view of a GCP-placed raster needs, against every source pixel's own place."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import GCPTransformer

from ogcserver.model.geo import BBox
from ogcserver.storage.readers.georeferencing import by_ground_model, placement, window_size
from tests.system.test_gcps import GCP_SHAPE, gcp_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return gcp_scene(tmp_path_factory.mktemp("gcps") / "scene.tif")


@pytest.mark.parametrize("part", [(0.1, 0.2, 0.3, 0.35), (0.5, 0.5, 0.9, 0.95), (0.0, 0.0, 1.0, 1.0)])
def test_window_holds_every_pixel_placed_in_the_view(scene, part):
    """The estimate covers every source pixel whose centre the GCP polynomial places in the box,
    and not much more (the margin is two pixels a side)."""
    with rasterio.open(scene) as ds:
        assert by_ground_model(ds)
        whole = placement(ds).bounds
        box = BBox(whole.minx + part[0] * whole.width, whole.miny + part[1] * whole.height,
                   whole.minx + part[2] * whole.width, whole.miny + part[3] * whole.height, whole.crs)
        rows, cols = np.mgrid[0:ds.height, 0:ds.width]
        with GCPTransformer(ds.gcps[0]) as transformer:
            xs, ys = transformer.xy(rows.ravel(), cols.ravel())
        xs, ys = np.asarray(xs), np.asarray(ys)
        placed = (xs >= box.minx) & (xs <= box.maxx) & (ys >= box.miny) & (ys <= box.maxy)
        need_w = cols.ravel()[placed].max() - cols.ravel()[placed].min() + 1
        need_h = rows.ravel()[placed].max() - rows.ravel()[placed].min() + 1
        width, height = window_size(ds, box)
    assert need_w <= width <= min(GCP_SHAPE[1], need_w + 8)
    assert need_h <= height <= min(GCP_SHAPE[0], need_h + 8)
