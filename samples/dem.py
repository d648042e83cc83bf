"""The elevation model: float32 with the lake and an uncovered collar as nodata."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from samples.area import DEM_SIZE_M, DEM_X0, NODATA_DEM
from samples.cog import write_cog
from samples.grids import Points
from samples.landscape import Landscape, lake_rr
from samples.noise import noise


def write_dem(land: Landscape, out_dir: Path) -> Path:
    w = land.world
    g = w.dem_grid
    dem = w.dem_array()
    X = g.xs[None, :]
    invalid = lake_rr(g) < 1.0
    # irregular uncovered collar along the east edge
    ycol = Points(np.full(g.height, DEM_X0 + DEM_SIZE_M), g.ys)
    width_m = (50.0 + 300.0 * (0.6 * noise(ycol, 700.0, 501) + 0.4 * noise(ycol, 170.0, 502))
               + 45.0 * (noise(ycol, 35.0, 503) - 0.5))
    invalid |= X > (DEM_X0 + DEM_SIZE_M - width_m)[:, None]
    dem = np.where(invalid, np.float32(NODATA_DEM), dem).astype(np.float32)
    path = out_dir / "dem.tif"
    write_cog(path, dem[None], g, predictor="FLOATING_POINT", blocksize=512,
               nodata=NODATA_DEM, descriptions=["elevation"], units=["m"],
               tags={"VERTICAL_UNITS": "m", "SOURCE": "synthetic terrain (ogcserver samples)"})
    return path
