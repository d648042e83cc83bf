"""The aerial image tiles: 4-band uint8, overlapping, each with its own date (one masked, one
with a nodata collar, one coarser)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
from rasterio.enums import ColorInterp

from samples.area import (
    ORTHO_BANDS,
    ORTHO_LOWRES_PX,
    ORTHO_OVERLAP_PX,
    ORTHO_TILE_M,
    ORTHO_TILE_PX,
    ORTHO_X0,
    ORTHO_Y0,
)
from samples.cog import time_tags, write_cog
from samples.grids import Grid
from samples.landscape import Landscape


def _ortho_tile(land: Landscape, rng: np.random.Generator, row: int, col: int, when: datetime,
                variant, scale: float):
    tile_px = max(16, int(round(ORTHO_TILE_PX * scale)))
    overlap = max(1, int(round(ORTHO_OVERLAP_PX * scale)))
    res = ORTHO_TILE_M / tile_px
    x0 = ORTHO_X0 + col * (tile_px - overlap) * res
    y0 = ORTHO_Y0 - row * (tile_px - overlap) * res
    if variant == "lowres":
        lr_px = max(8, int(round(ORTHO_LOWRES_PX * scale)))
        g = Grid(x0, y0, ORTHO_TILE_M / lr_px, lr_px, lr_px)
        refl = land.render(g, when, supersample=2)
    else:
        g = Grid(x0, y0, res, tile_px, tile_px)
        refl = land.render(g, when)
    h, wd = g.height, g.width

    # camera: exposure, white balance and a little haze differ per flight
    gain = (1.0 + rng.uniform(-0.05, 0.05)) * (1.0 + rng.uniform(-0.035, 0.035, 4))
    haze = np.array([0.004, 0.007, 0.012, 0.0]) * rng.uniform(0.5, 1.5)
    white = np.array([0.5, 0.5, 0.5, 0.68])
    v = refl[[2, 1, 0, 3]] * gain[:, None, None].astype(np.float32) + haze[:, None, None].astype(np.float32)
    grain = (1.0 + 0.022 * rng.standard_normal((1, h, wd), dtype=np.float32)
             + 0.009 * rng.standard_normal((4, h, wd), dtype=np.float32))
    v = np.clip(v * grain / white[:, None, None].astype(np.float32), 0.0, 1.0) ** np.float32(1 / 1.65)
    dn = np.clip(np.rint(v * 255.0), 1, 255).astype(np.uint8)

    cols = (np.arange(wd) + 0.5) / wd
    rows = (np.arange(h) + 0.5) / h
    mask = nodata = None
    if variant == "mask":
        # the flight strip ends: a piecewise straight seam line to the east
        knots = 0.72 + rng.uniform(-0.07, 0.07, 7)
        bx = np.interp(rows, np.linspace(0, 1, 7), knots)
        invalid = cols[None, :] >= bx[:, None]
        invalid |= (rows[:, None] < 0.16 + 0.05 * rng.random()) & (cols[None, :] > 0.52)
        mask = np.where(invalid, 0, 255).astype(np.uint8)
        dn[:, invalid] = 0
    elif variant == "nodata":
        # collar of an orthorectified image along the west and south edges
        jit_r = rng.integers(0, 3, h) / wd
        jit_c = rng.integers(0, 3, wd) / h
        invalid = cols[None, :] < (0.025 + 0.06 * rows + jit_r)[:, None]
        invalid |= rows[:, None] > (0.955 - 0.05 * cols + jit_c)[None, :]
        dn[:, invalid] = 0
        nodata = 0
    return g, dn, mask, nodata


def write_ortho(land, rng, out_dir, row, col, when, variant, scale) -> Path:
    g, dn, mask, nodata = _ortho_tile(land, rng, row, col, when, variant, scale)
    path = out_dir / "ortho" / f"ortho_r{row}c{col}_{when:%Y%m%d}.tif"
    tags = time_tags(when)
    tags.update({"SENSOR": "synthetic-aerial-camera",
                 "GSD_M": f"{g.res:g}"})
    write_cog(path, dn, g, predictor="STANDARD", blocksize=256, nodata=nodata, mask=mask,
               descriptions=list(ORTHO_BANDS),
               colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                            ColorInterp.undefined],
               tags=tags)
    return path
