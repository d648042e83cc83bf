"""One deadline per request, checked inside every long step, on an injected clock (never the wall's).

The clock moves one second each time it is read, so a step that checks the deadline often runs
out of it quickly, and one that does not check it runs to its end, whatever the machine's speed.
"""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest
from rasterio.transform import from_origin

from ogcserver.app import core_of
from ogcserver.core.functions.library import Aspect, Convolve, Hillshade, Slope
from ogcserver.model.budget import Budget, request_budget
from ogcserver.model.errors import RenderTimeout
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid, Raster
from tests.support import rasters
from tests.system.test_read_budgets import app_for, get_map

X0, Y0 = rasters.ORIGIN
TWO_BIG_CONVOLUTIONS = [{"function": "convolve", "kernel": "smooth", "size": 31},
                        {"function": "convolve", "kernel": "edges", "size": 31}]


class TickingClock:
    """A clock that advances one second per reading, and counts the readings."""

    def __init__(self) -> None:
        self.readings = itertools.count()
        self.read = 0

    def __call__(self) -> float:
        self.read = next(self.readings)
        return float(self.read)


def test_a_big_convolution_checks_the_deadline_between_row_strips():
    size = 1536
    grid = Grid.from_bbox(BBox(X0, Y0 - size * 10, X0 + size * 10, Y0, rasters.UTM), size, size)
    raster = Raster(np.ones((1, size, size), dtype=np.float32), np.ones((size, size), dtype=bool), grid, ("b",))
    clock = TickingClock()
    with request_budget(Budget(deadline=3, max_bytes=1 << 30, clock=clock)), pytest.raises(RenderTimeout):
        Convolve(function="convolve", size=31).apply(raster)
    assert clock.read == 4  # stopped at the first strip past the deadline, long before the end


@pytest.mark.parametrize("function", [Hillshade(function="hillshade"), Slope(function="slope"), Aspect(function="aspect")],
                         ids=lambda f: f.function)
def test_a_big_terrain_function_checks_the_deadline_between_row_strips(function):
    size = 1536
    grid = Grid.from_bbox(BBox(X0, Y0 - size * 10, X0 + size * 10, Y0, rasters.UTM), size, size)
    dem = rasters.texture((size, size), 1, seed=5, dtype="float32", scale=300)
    raster = Raster(dem, np.ones((size, size), dtype=bool), grid, ("dem",))
    clock = TickingClock()
    with request_budget(Budget(deadline=3, max_bytes=1 << 30, clock=clock)), pytest.raises(RenderTimeout):
        function.apply(raster)
    assert clock.read == 4  # stopped at the first strip past the deadline, long before the end


@pytest.fixture()
def dem_app(tmp_path):
    dem = rasters.texture((400, 400), 1, seed=3, dtype="float32", scale=500)
    rasters.write(tmp_path / "dem.tif", dem, from_origin(X0, Y0, 10, 10))
    return app_for(tmp_path, [{"name": "dem", "source": str(tmp_path / "dem.tif"), "styles": ["edges"]}],
                   {"render_timeout": 8},
                   processing=[{"name": "edges", "chain": [*TWO_BIG_CONVOLUTIONS, {"function": "stretch"}]}])


@pytest.mark.parametrize("protocol", ["wms", "wcs"])
def test_a_chain_past_the_deadline_answers_the_timeout_exception_and_frees_the_worker(dem_app, protocol):
    engine = core_of(dem_app).engine
    client = dem_app.test_client()
    box = (X0, Y0 - 4000, X0 + 4000, Y0)
    if protocol == "wms":
        def request():
            return get_map(client, "dem", 1536, bbox=box, STYLES="edges")
    else:
        def request():
            return client.get("/wcs", query_string={
                "SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": "dem",
                "SCALESIZE": "E(1536),N(1536)", "FORMAT": "image/tiff",
                "RENDERINGRULE": json.dumps({"chain": TWO_BIG_CONVOLUTIONS})})
    engine.clock = clock = TickingClock()
    r = request()
    assert r.status_code == 503, r.data[:300]
    assert b"NoApplicableCode" in r.data and b"time limit" in r.data
    assert clock.read <= 8 + 1  # not one check more than the deadline allowed
    engine.clock = time.monotonic  # the next request has its own deadline: the worker is free
    small = get_map(client, "dem", 64, bbox=box, STYLES="edges")
    assert small.status_code == 200, small.data[:300]


def test_encoding_checks_the_deadline(tmp_path):
    rasters.write(tmp_path / "rgb.tif", rasters.texture((256, 256), 3, seed=1), from_origin(X0, Y0, 10, 10))
    app = app_for(tmp_path, [{"name": "rgb", "source": str(tmp_path / "rgb.tif")}], {"render_timeout": 1})
    engine = core_of(app).engine
    reads = []
    inner = engine.reader.read

    def read_then_jump(*args):  # the read ends at the deadline: only the encoder is left to notice
        out = inner(*args)
        reads.append(1)
        return out

    engine.reader.read = read_then_jump
    now = [0.0]
    engine.clock = lambda: now[0] + (5.0 if reads else 0.0)
    r = get_map(app.test_client(), "rgb", 256)
    assert r.status_code == 503 and b"time limit" in r.data
