#!/usr/bin/env python3
"""Deterministic generator of realistic demo raster data for ogcserver.

Everything is derived from one synthetic landscape in UTM zone 32N
(EPSG:32632) so that the products agree with each other:

* ``dem.tif`` - float32 elevation model (2 m, 2048 x 2048 px at scale 1)
  with a lake basin and an uncovered collar set to nodata (-9999).
* ``ortho/ortho_rRcC_YYYYMMDD.tif`` - six overlapping 4-band (red, green,
  blue, nir) uint8 aerial image tiles (0.5 m, one of them 1.0 m), each with
  its own acquisition date; one with an internal per-dataset mask, one with
  a nodata=0 collar.
* ``scene_multispectral.tif`` - a 6-band uint16 Sentinel-2-L2A-like scene
  (10 m) with a rotated swath collar (nodata=0) and a few clouds.
* ``MANIFEST.json`` - written last: files, sha256, sizes, CRS, bounds.

The landscape elevation is computed once on a regular "world" grid at the
DEM resolution (covering the multispectral scene) and bilinearly resampled
to every product grid.  All other landscape properties (land cover, lake
shore, forest, parcels, roads) are analytic functions of the map
coordinates (hash-based value noise, vector geometry), so overlapping
products show the same features.  Output is byte-identical between runs.

Usage::

    python samples/generate.py [--out DIR] [--scale S] [--force]

or ``from samples.generate import generate; generate(Path(...), scale=0.125)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile
from affine import Affine

SEED = 20261202
GENERATOR_VERSION = 1
CRS = "EPSG:32632"
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
MANIFEST_NAME = "MANIFEST.json"
NODATA_DEM = -9999.0

# --- geometry of the demo area (metres, EPSG:32632); all footprints are
# --- independent of ``scale``, which only changes the pixel counts.
DEM_X0, DEM_Y0 = 500000.0, 5200000.0  # upper-left corner
DEM_SIZE_M = 4096.0
DEM_PX = 2048
WORLD_MARGIN_M = 1024.0  # the landscape grid extends beyond the DEM
ORTHO_X0, ORTHO_Y0 = DEM_X0 + 256.0, DEM_Y0 - 256.0
ORTHO_TILE_M = 512.0
ORTHO_TILE_PX = 1024
ORTHO_OVERLAP_PX = 64
ORTHO_LOWRES_PX = 512
MS_SIZE_M = 6000.0
MS_PX = 600
MS_X0 = DEM_X0 + DEM_SIZE_M / 2 - MS_SIZE_M / 2
MS_Y0 = DEM_Y0 - DEM_SIZE_M / 2 + MS_SIZE_M / 2
MS_DATETIME = "2024-07-02T10:20:31Z"
MS_CLOUD_COVER = 3.5

NOISE_X0, NOISE_Y0 = 499000.0, 5201000.0  # origin of the noise lattices
LAKE_C = (501300.0, 5199050.0)
LAKE_R = 215.0
LAKE_AXIS = math.radians(-28.0)  # direction of the long axis
SITE_LAT, SITE_LON = 46.94, 9.0  # approx. centre of the area, for the sun

# Ortho tiles: (row, col, acquisition time, variant)
ORTHO_TILES = [
    (0, 0, "2021-05-18T09:47:12Z", None),
    (0, 1, "2022-08-03T11:05:40Z", None),
    (0, 2, "2023-06-14T10:32:00Z", "mask"),  # flight strip ends: internal mask
    (1, 0, "2021-09-21T10:12:27Z", "nodata"),  # nodata=0 collar
    (1, 1, "2024-04-27T09:58:03Z", "lowres"),  # 1.0 m instead of 0.5 m
    (1, 2, "2022-06-30T12:15:55Z", None),
]

# Surface reflectance of materials: blue, green, red, nir, swir1, swir2.
MATERIALS = {
    "water_deep": (0.040, 0.035, 0.020, 0.010, 0.006, 0.004),
    "water_shallow": (0.055, 0.072, 0.052, 0.030, 0.012, 0.008),
    "conifer": (0.022, 0.042, 0.024, 0.250, 0.120, 0.050),
    "deciduous": (0.028, 0.062, 0.034, 0.380, 0.180, 0.080),
    "decid_spring": (0.038, 0.085, 0.052, 0.330, 0.190, 0.090),
    "decid_autumn": (0.040, 0.070, 0.105, 0.280, 0.210, 0.120),
    "decid_bare": (0.050, 0.062, 0.078, 0.200, 0.230, 0.160),
    "meadow": (0.034, 0.074, 0.046, 0.360, 0.210, 0.100),
    "meadow_dry": (0.060, 0.090, 0.105, 0.270, 0.290, 0.190),
    "mown": (0.055, 0.095, 0.085, 0.280, 0.260, 0.170),
    "soil": (0.075, 0.105, 0.145, 0.210, 0.300, 0.250),
    "soil_dark": (0.050, 0.068, 0.092, 0.150, 0.230, 0.190),
    "crop_young": (0.045, 0.082, 0.080, 0.270, 0.250, 0.170),
    "crop_green": (0.030, 0.080, 0.040, 0.440, 0.220, 0.100),
    "crop_dense": (0.025, 0.068, 0.032, 0.480, 0.210, 0.090),
    "crop_ripe": (0.085, 0.135, 0.195, 0.300, 0.340, 0.240),
    "stubble": (0.105, 0.150, 0.200, 0.270, 0.360, 0.280),
    "rape_flower": (0.050, 0.170, 0.195, 0.400, 0.250, 0.120),
    "dry_veg": (0.070, 0.095, 0.120, 0.240, 0.300, 0.220),
    "rock": (0.150, 0.168, 0.188, 0.230, 0.270, 0.230),
    "asphalt": (0.075, 0.080, 0.085, 0.100, 0.120, 0.110),
    "gravel": (0.140, 0.158, 0.182, 0.225, 0.270, 0.240),
    "beach": (0.150, 0.165, 0.180, 0.220, 0.280, 0.240),
    "cloud": (0.450, 0.460, 0.470, 0.520, 0.380, 0.270),
}
MAT = {k: np.asarray(v, dtype=np.float32) for k, v in MATERIALS.items()}
# relative amplitude of tillage / row stripes visible on a field surface
STRIPES = {"soil": 0.12, "soil_dark": 0.12, "stubble": 0.15, "crop_young": 0.12,
           "mown": 0.12, "crop_ripe": 0.05}

# Crop calendars: (day of year, surface material) keyframes, interpolated.
CROPS = [
    ("winter_wheat", [(60, "crop_young"), (110, "crop_green"), (168, "crop_green"),
                      (192, "crop_ripe"), (206, "crop_ripe"), (215, "stubble"),
                      (268, "stubble"), (282, "soil"), (330, "crop_young")]),
    ("maize", [(100, "soil_dark"), (140, "soil"), (165, "crop_young"), (192, "crop_dense"),
               (262, "crop_dense"), (285, "dry_veg"), (300, "stubble")]),
    ("rapeseed", [(60, "crop_young"), (100, "crop_green"), (114, "rape_flower"),
                  (136, "rape_flower"), (152, "crop_green"), (186, "dry_veg"),
                  (200, "stubble"), (238, "soil"), (268, "crop_young")]),
    ("hay_meadow", [(70, "meadow_dry"), (110, "meadow"), (152, "meadow"), (160, "mown"),
                    (182, "meadow"), (222, "mown"), (240, "meadow"), (300, "meadow_dry")]),
    ("sugar_beet", [(100, "soil"), (150, "soil_dark"), (168, "crop_young"),
                    (195, "crop_dense"), (275, "crop_dense"), (290, "soil_dark")]),
    ("fallow", [(60, "dry_veg"), (150, "meadow"), (250, "dry_veg")]),
]
CROP_SHARE = [0.30, 0.20, 0.13, 0.18, 0.11, 0.08]
YEARS = (2021, 2022, 2023, 2024)
FIELD_MAX_SLOPE = 8.0
AGRI_THRESHOLD = 0.4

ORTHO_BANDS = ("red", "green", "blue", "nir")
MS_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
MS_WAVELENGTHS = (490, 560, 665, 842, 1610, 2190)


# ---------------------------------------------------------------- grids ---
@dataclass(frozen=True)
class Grid:
    """A north-up regular grid: upper-left corner, square pixel size, shape."""

    x0: float
    y0: float
    res: float
    width: int
    height: int

    @property
    def xs(self) -> np.ndarray:
        return self.x0 + (np.arange(self.width) + 0.5) * self.res

    @property
    def ys(self) -> np.ndarray:
        return self.y0 - (np.arange(self.height) + 0.5) * self.res

    @property
    def transform(self):
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0)

    def refine(self, factor: int) -> "Grid":
        return Grid(self.x0, self.y0, self.res / factor, self.width * factor, self.height * factor)

    def shifted(self, dx: float, dy: float) -> "Grid":
        return Grid(self.x0 + dx, self.y0 + dy, self.res, self.width, self.height)


@dataclass(frozen=True)
class Points:
    """Arbitrary map coordinates (arrays of equal shape)."""

    x: np.ndarray
    y: np.ndarray
    res: float = 0.0


def _xy(src):
    if isinstance(src, Grid):
        return src.xs[None, :], src.ys[:, None]
    return src.x, src.y


# ---------------------------------------------------------------- noise ---
def _hash01(ix, iy, seed: int) -> np.ndarray:
    """Integer lattice hash -> float32 in [0, 1). Works on broadcastable arrays."""
    h = (np.asarray(ix).astype(np.uint32) * np.uint32(0x8DA6B343)) ^ (
        np.asarray(iy).astype(np.uint32) * np.uint32(0xD8163841)
    )
    h = h ^ np.uint32((seed * 0x9E3779B1 + 0x632BE5AB) & 0xFFFFFFFF)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def _fade(t):
    return t * t * t * (t * (t * 6 - 15) + 10)


def _gradients(ix, iy, seed: int):
    ang = _hash01(ix, iy, seed) * np.float32(2 * math.pi)
    return np.cos(ang), np.sin(ang)


def noise(src, cell: float, seed: int):
    """Gradient (Perlin) noise mapped to about [0, 1], lattice spacing ``cell`` m.

    Deterministic function of the map coordinates: a Grid (evaluated
    separably, fast) and Points give the same values at the same place.
    Features finer than the pixel size are not representable: the mean
    value 0.5 is returned instead (band limiting).
    """
    if cell < 0.75 * src.res:
        return np.float32(0.5)
    if isinstance(src, Grid):
        u = (src.xs - NOISE_X0) / cell
        v = (NOISE_Y0 - src.ys) / cell
        iu = np.floor(u).astype(np.int64)
        iv = np.floor(v).astype(np.int64)
        fu = (u - iu).astype(np.float32)
        fv = (v - iv).astype(np.float32)
        su, sv = _fade(fu), _fade(fv)
        i0, j0 = int(iu.min()), int(iv.min())
        gx, gy = _gradients(np.arange(i0, int(iu.max()) + 2)[None, :],
                            np.arange(j0, int(iv.max()) + 2)[:, None], seed)
        il = iu - i0
        # lerp along x of the corner terms; linear in (v - j): b + c * fv
        b = (1 - su) * gx[:, il] * fu + su * gx[:, il + 1] * (fu - 1)
        c = (1 - su) * gy[:, il] + su * gy[:, il + 1]
        jl = iv - j0
        top = b[jl] + c[jl] * fv[:, None]
        bot = b[jl + 1] + c[jl + 1] * (fv - 1)[:, None]
        n = top + (bot - top) * sv[:, None]
    else:
        u = (np.asarray(src.x, dtype=np.float64) - NOISE_X0) / cell
        v = (NOISE_Y0 - np.asarray(src.y, dtype=np.float64)) / cell
        iu, iv = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        fu = (u - iu).astype(np.float32)
        fv = (v - iv).astype(np.float32)
        su, sv = _fade(fu), _fade(fv)

        def corner(di, dj):
            gx, gy = _gradients(iu + di, iv + dj, seed)
            return gx * (fu - di) + gy * (fv - dj)

        top = corner(0, 0) + (corner(1, 0) - corner(0, 0)) * su
        bot = corner(0, 1) + (corner(1, 1) - corner(0, 1)) * su
        n = top + (bot - top) * sv
    return np.clip(0.5 + 0.7 * n, 0.0, 1.0)


def fbm(src, cells, seed: int, gain: float = 0.5):
    total, amp, norm = 0.0, 1.0, 0.0
    for k, cell in enumerate(cells):
        total = total + amp * noise(src, cell, seed * 97 + k)
        norm += amp
        amp *= gain
    return total / norm


def ridged(src, cells, seed: int, gain: float = 0.55):
    """Ridged multifractal: sharp crests, weighted by the previous octave."""
    total, amp, norm, weight = 0.0, 1.0, 0.0, 1.0
    for k, cell in enumerate(cells):
        n = noise(src, cell, seed * 97 + k)
        r = 1.0 - np.abs(2.0 * n - 1.0)
        r = r * r
        total = total + amp * r * weight
        norm += amp
        weight = np.clip(r * 1.6, 0.0, 1.0)
        amp *= gain
    return total / norm


def _smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


# ------------------------------------------------------------ landscape ---
def lake_rr(src):
    """Normalised distance from the lake centre; the water is where < 1."""
    x, y = _xy(src)
    dx, dy = x - LAKE_C[0], y - LAKE_C[1]
    c, s = math.cos(LAKE_AXIS), math.sin(LAKE_AXIS)
    d = np.hypot((dx * c + dy * s) / 1.35, (-dx * s + dy * c) / 0.8) / LAKE_R
    n = (0.5 * noise(src, 260.0, 401) + 0.32 * noise(src, 105.0, 402)
         + 0.18 * noise(src, 42.0, 403))
    return (d / (0.35 + 1.3 * n)).astype(np.float32)


def forest_potential(src, slope, elev, rock_level):
    """Forest where > 0.5: large stands, preferably on slopes and higher up."""
    n = (0.6 * noise(src, 600.0, 11) + 0.28 * noise(src, 200.0, 12)
         + 0.12 * noise(src, 60.0, 13))
    f = 0.45 + 2.6 * (n - 0.5) + 0.018 * (slope - 9.0) + 0.0004 * (elev - 560.0)
    # trees thin out towards the bare rock at the top
    return f - 1.2 * _smoothstep(rock_level - 110.0, rock_level, elev)


def agri_potential(src):
    return 0.5 + 2.5 * (0.65 * noise(src, 950.0, 21) + 0.35 * noise(src, 310.0, 22) - 0.5)


class World:
    """Elevation on a regular grid at the DEM resolution, plus derived levels."""

    def __init__(self, scale: float):
        dem_px = max(16, int(round(DEM_PX * scale)))
        res = DEM_SIZE_M / dem_px
        margin = int(math.ceil(WORLD_MARGIN_M / res))
        self.dem_px, self.margin = dem_px, margin
        n = dem_px + 2 * margin
        self.grid = Grid(DEM_X0 - margin * res, DEM_Y0 + margin * res, res, n, n)
        self.dem_grid = Grid(DEM_X0, DEM_Y0, res, dem_px, dem_px)
        g = self.grid
        x, y = _xy(g)

        base = fbm(g, [3200, 1600, 800, 400, 200, 100], 1, 0.5)
        ridge = ridged(g, [1500, 750, 375, 187, 94, 47], 2, 0.55)
        trend = ((x - NOISE_X0) + (NOISE_Y0 - y)) / 9000.0
        mountains = _smoothstep(0.35, 0.85, 0.6 * trend + 0.6 * (noise(g, 2600.0, 3) - 0.5) + 0.2)
        rough = 0.1 + 0.9 * mountains
        h_lo = 0.8 * base + 0.55 * mountains * ridge
        h = h_lo + 0.05 * rough * (fbm(g, [48, 24, 12, 6], 4, 0.5) - 0.5)
        lo, hi = np.percentile(h[::4, ::4], [0.5, 99.5])
        rr = lake_rr(g)
        ring = (rr > 1.0) & (rr < 1.6)
        self.water_level = float(np.round(np.median(self._stretch(h, lo, hi)[ring]) - 6.0, 1))
        self.elev = self._lake(self._stretch(h, lo, hi), rr)
        dr, dc = np.gradient(self.elev, res)
        self.gx = dc.astype(np.float32)  # dz/dEast
        self.gy = (-dr).astype(np.float32)  # dz/dNorth
        # slope of the terrain without the small-scale roughness: land cover
        dr, dc = np.gradient(self._lake(self._stretch(h_lo, lo, hi), rr), res)
        self.slope_lo = np.degrees(np.arctan(np.hypot(dr, dc))).astype(np.float32)
        del dr, dc
        self.rock_level = float(np.percentile(self.elev[::4, ::4], 97.0))

    @staticmethod
    def _stretch(h, lo, hi):
        hn = np.clip((h - lo) / (hi - lo), 0.0, None)
        hn = np.where(hn > 0.9, 0.9 + 0.1 * np.tanh((hn - 0.9) / 0.1), hn)  # soft tops
        return 300.0 + 600.0 * hn ** 1.3

    def _lake(self, elev, rr):
        """Lake basin: a flattened shore rising to the terrain, a bowl below."""
        wl = self.water_level
        shore = wl + 0.4 + 14.0 * np.clip(rr - 1.0, 0.0, None) ** 1.2
        w = _smoothstep(1.0, 2.3, rr)
        depth = 0.8 + 16.0 * np.clip(1.0 - rr, 0.0, 1.0) ** 0.8
        return np.where(rr < 1.0, wl - depth + 0.01 * (elev - wl),
                        shore * (1 - w) + elev * w).astype(np.float32)

    def dem_array(self) -> np.ndarray:
        m, n = self.margin, self.dem_px
        return self.elev[m:m + n, m:m + n].copy()

    def sample(self, field: np.ndarray, src):
        """Bilinear resampling of a world field to a Grid or Points."""
        g = self.grid
        if isinstance(src, Grid):
            fx = (src.xs - g.x0) / g.res - 0.5
            fy = (g.y0 - src.ys) / g.res - 0.5
            ix = np.clip(np.floor(fx).astype(np.int64), 0, g.width - 2)
            iy = np.clip(np.floor(fy).astype(np.int64), 0, g.height - 2)
            tx = np.clip(fx - ix, 0, 1).astype(np.float32)
            ty = np.clip(fy - iy, 0, 1).astype(np.float32)
            j0, j1 = int(iy.min()), int(iy.max()) + 2
            sub = field[j0:j1]
            a = sub[:, ix]
            rows = a + (sub[:, ix + 1] - a) * tx[None, :]
            top = rows[iy - j0]
            return top + (rows[iy - j0 + 1] - top) * ty[:, None]
        fx = (np.asarray(src.x) - g.x0) / g.res - 0.5
        fy = (g.y0 - np.asarray(src.y)) / g.res - 0.5
        ix = np.clip(np.floor(fx).astype(np.int64), 0, g.width - 2)
        iy = np.clip(np.floor(fy).astype(np.int64), 0, g.height - 2)
        tx = np.clip(fx - ix, 0, 1).astype(np.float32)
        ty = np.clip(fy - iy, 0, 1).astype(np.float32)
        top = field[iy, ix] + (field[iy, ix + 1] - field[iy, ix]) * tx
        bot = field[iy + 1, ix] + (field[iy + 1, ix + 1] - field[iy + 1, ix]) * tx
        return top + (bot - top) * ty


class Parcels:
    """Rectangular field parcels on a rotated, staggered lattice."""

    def __init__(self, rng: np.random.Generator, world: World):
        self.angle = float(rng.uniform(0.22, 0.42))
        self.ox, self.oy = DEM_X0 + DEM_SIZE_M / 2, DEM_Y0 - DEM_SIZE_M / 2
        self.pb = self._edges(rng, 5400.0, 38.0, 135.0)
        self.qb = self._edges(rng, 5800.0, 70.0, 270.0)
        npp, nq = len(self.pb) - 1, len(self.qb) - 1
        self.np_, self.nq = npp, nq
        self.qoff = rng.uniform(0.0, 260.0, npp)
        count = npp * nq
        self.crop = rng.choice(len(CROPS), size=(len(YEARS), count), p=CROP_SHARE)
        self.jitter = rng.normal(0.0, 7.0, count)
        self.bright = rng.uniform(0.9, 1.1, count).astype(np.float32)
        self.orient = rng.random(count) < 0.5
        self.period = rng.uniform(2.4, 6.0, count).astype(np.float32)
        keep = rng.random(count) < 0.93

        # which parcels are farmed: decided at the parcel centre
        pc = 0.5 * (self.pb[:-1] + self.pb[1:])
        qc = 0.5 * (self.qb[:-1] + self.qb[1:])
        P = np.repeat(pc, nq)
        Q = np.tile(qc, npp) - np.repeat(self.qoff, nq)
        c, s = math.cos(self.angle), math.sin(self.angle)
        cx = self.ox + P * c - Q * s
        cy = self.oy + P * s + Q * c
        pts = Points(cx, cy)
        elev = world.sample(world.elev, pts)
        slope = world.sample(world.slope_lo, pts)
        fpot = forest_potential(pts, slope, elev, world.rock_level)
        self.is_field = (keep & (slope < FIELD_MAX_SLOPE) & (elev < world.rock_level - 180.0)
                         & (lake_rr(pts) > 1.3) & (agri_potential(pts) > AGRI_THRESHOLD)
                         & (fpot < 0.62))
        self._cache = {}

    @staticmethod
    def _edges(rng, half, wmin, wmax):
        edges = [-half]
        while edges[-1] < half:
            edges.append(edges[-1] + rng.uniform(wmin, wmax))
        return np.asarray(edges)

    def locate(self, x, y):
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = x - self.ox, y - self.oy
        p = dx * c + dy * s
        q = -dx * s + dy * c
        i = np.clip(np.searchsorted(self.pb, p, side="right") - 1, 0, self.np_ - 1)
        qq = q + self.qoff[i]
        j = np.clip(np.searchsorted(self.qb, qq, side="right") - 1, 0, self.nq - 1)
        bd = np.minimum(np.minimum(p - self.pb[i], self.pb[i + 1] - p),
                        np.minimum(qq - self.qb[j], self.qb[j + 1] - qq))
        return i * self.nq + j, p, qq, bd

    def surfaces(self, when: datetime):
        """Per-parcel reflectance (6, N) and stripe amplitude (N) at a date."""
        key = (when.year, when.timetuple().tm_yday)
        if key not in self._cache:
            yi = min(max(when.year - YEARS[0], 0), len(YEARS) - 1)
            doy = key[1] + self.jitter
            refl = np.zeros((6, self.crop.shape[1]), np.float32)
            amp = np.zeros(self.crop.shape[1], np.float32)
            for ci, (_, frames) in enumerate(CROPS):
                sel = self.crop[yi] == ci
                days = [d for d, _ in frames]
                vals = np.stack([MAT[m] for _, m in frames])
                for b in range(6):
                    refl[b, sel] = np.interp(doy[sel], days, vals[:, b])
                amp[sel] = np.interp(doy[sel], days, [STRIPES.get(m, 0.03) for _, m in frames])
            self._cache[key] = (refl, amp)
        return self._cache[key]


class Roads:
    """A few roads and tracks as smoothed polylines that avoid the lake."""

    def __init__(self, rng: np.random.Generator):
        self.lines = []  # (vertices (N, 2), half width m, material)
        xs = np.arange(498700.0, 505500.0, 450.0)
        ys = np.clip(5199360.0 + np.cumsum(rng.normal(0.0, 75.0, len(xs))), 5198700, 5199950)
        main = np.column_stack([xs, ys])
        self._add(main, 3.2, "asphalt")
        ys2 = np.arange(5201300.0, 5194600.0, -450.0)
        xs2 = np.clip(500980.0 + np.cumsum(rng.normal(0.0, 65.0, len(ys2))), 500650, 501250)
        self._add(np.column_stack([xs2, ys2]), 2.6, "asphalt")
        start = main[np.argmin(np.abs(main[:, 0] - 503100.0))]
        self._add(self._walk(rng, start, -0.9, 16, 330.0, 0.18), 2.3, "asphalt")
        # tracks: two start in the orthophoto area, the others anywhere
        starts = [main[np.argmin(np.abs(main[:, 0] - 500500.0))],
                  main[np.argmin(np.abs(main[:, 0] - 501500.0))]]
        for _ in range(5):
            starts.append([rng.uniform(500300.0, 503800.0), rng.uniform(5196300.0, 5199700.0)])
        for k, st in enumerate(starts):
            heading = rng.uniform(0.0, 2 * math.pi) if k >= 2 else (1.9 if k == 0 else -1.3)
            self._add(self._walk(rng, np.asarray(st, float), heading, 12, 110.0, 0.35),
                      1.5, "gravel")

    @staticmethod
    def _walk(rng, start, heading, n, step, turn):
        pts = [np.asarray(start, float)]
        for _ in range(n):
            heading += rng.normal(0.0, turn)
            pts.append(pts[-1] + step * np.array([math.cos(heading), math.sin(heading)]))
        return np.asarray(pts)

    @staticmethod
    def _chaikin(p, it):
        for _ in range(it):
            q = 0.75 * p[:-1] + 0.25 * p[1:]
            r = 0.25 * p[:-1] + 0.75 * p[1:]
            mid = np.empty((2 * len(q), 2))
            mid[0::2], mid[1::2] = q, r
            p = np.vstack([p[:1], mid, p[-1:]])
        return p

    def _add(self, pts, hw, material):
        p = self._chaikin(np.asarray(pts, float), 3)
        # densify, push vertices out of the lake, smooth again
        seg = np.hypot(*np.diff(p, axis=0).T)
        t = np.concatenate([[0.0], np.cumsum(seg)])
        tt = np.linspace(0.0, t[-1], max(2, int(t[-1] / 10.0) + 1))
        p = np.column_stack([np.interp(tt, t, p[:, 0]), np.interp(tt, t, p[:, 1])])
        for _ in range(200):
            rr = lake_rr(Points(p[:, 0], p[:, 1]))
            inside = rr < 1.22
            if not inside.any():
                break
            d = p[inside] - np.asarray(LAKE_C)
            p[inside] += 4.0 * d / np.hypot(d[:, 0], d[:, 1])[:, None]
        p = self._chaikin(p, 1)
        self.lines.append((p, hw, material))

    def coverage(self, g: Grid):
        """Anti-aliased coverage (H, W) per material, in [0, 1]."""
        out = {}
        x1, y1 = g.x0 + g.width * g.res, g.y0 - g.height * g.res
        for pts, hw, mat in self.lines:
            s = out.get(mat)
            if s is None:
                s = out[mat] = np.full((g.height, g.width), np.inf, np.float32)
            a, b = pts[:-1], pts[1:]
            pad = hw + 2 * g.res
            lo = np.minimum(a, b) - pad
            hi = np.maximum(a, b) + pad
            vis = (hi[:, 0] > g.x0) & (lo[:, 0] < x1) & (hi[:, 1] > y1) & (lo[:, 1] < g.y0)
            for k in np.nonzero(vis)[0]:
                c0 = max(0, int((lo[k, 0] - g.x0) / g.res))
                c1 = min(g.width, int(math.ceil((hi[k, 0] - g.x0) / g.res)))
                r0 = max(0, int((g.y0 - hi[k, 1]) / g.res))
                r1 = min(g.height, int(math.ceil((g.y0 - lo[k, 1]) / g.res)))
                if c0 >= c1 or r0 >= r1:
                    continue
                X = g.x0 + (np.arange(c0, c1) + 0.5) * g.res
                Y = g.y0 - (np.arange(r0, r1) + 0.5) * g.res
                ax, ay = a[k]
                dx, dy = b[k] - a[k]
                ll = dx * dx + dy * dy or 1.0
                t = np.clip(((X[None, :] - ax) * dx + (Y[:, None] - ay) * dy) / ll, 0.0, 1.0)
                d = np.hypot(X[None, :] - ax - t * dx, Y[:, None] - ay - t * dy) - hw
                np.minimum(s[r0:r1, c0:c1], d.astype(np.float32), out=s[r0:r1, c0:c1])
        return {m: np.clip(0.5 - s / g.res, 0.0, 1.0) for m, s in out.items()}


def _interp_material(doy: float, frames):
    days = [d for d, _ in frames]
    vals = np.stack([MAT[m] for _, m in frames])
    return np.array([np.interp(doy, days, vals[:, b]) for b in range(6)], np.float32)


def sun_vector(when: datetime):
    """Unit vector (east, north, up) towards the sun (simple solar model)."""
    doy = when.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365.0)
    hours = when.hour + when.minute / 60.0 + when.second / 3600.0
    ha = math.radians(15.0 * (hours + SITE_LON / 15.0 - 12.0))
    lat = math.radians(SITE_LAT)
    e = -math.cos(decl) * math.sin(ha)
    n = math.sin(decl) * math.cos(lat) - math.cos(decl) * math.cos(ha) * math.sin(lat)
    u = math.sin(decl) * math.sin(lat) + math.cos(decl) * math.cos(ha) * math.cos(lat)
    return e, n, max(u, 0.2)


class Landscape:
    def __init__(self, scale: float, rng: np.random.Generator):
        self.world = World(scale)
        self.parcels = Parcels(rng, self.world)
        self.roads = Roads(rng)

    def render(self, g: Grid, when: datetime, supersample: int = 1) -> np.ndarray:
        """Surface reflectance (6, H, W) float32 of the landscape on grid g."""
        if supersample > 1:
            r = self.render(g.refine(supersample), when, 1)
            s = supersample
            return r.reshape(6, g.height, s, g.width, s).mean(axis=(2, 4))
        w = self.world
        X, Y = _xy(g)
        doy = when.timetuple().tm_yday
        elev = w.sample(w.elev, g)
        gx, gy = w.sample(w.gx, g), w.sample(w.gy, g)
        slope = w.sample(w.slope_lo, g)
        rr = lake_rr(g)
        water = rr < 1.0

        def col(name):
            return MAT[name][:, None, None]

        def tex(cell, seed, k=1.0):  # zero-mean texture
            return k * (noise(g, cell, seed) - 0.5)

        # meadow everywhere as a base, drying out in late summer
        dry_season = np.interp(doy, [100, 160, 200, 232, 275], [0.15, 0.08, 0.45, 0.62, 0.3])
        dry = np.clip(dry_season + tex(40.0, 31, 1.3) + tex(9.0, 32, 0.7), 0.0, 1.0)
        refl = (col("meadow") * (1 - dry) + col("meadow_dry") * dry) * (1.0 + tex(2.0, 33, 0.35))

        # forest: conifer / deciduous mix with crown texture and seasons
        decid_col = _interp_material(doy, [(95, "decid_bare"), (118, "decid_spring"),
                                           (150, "deciduous"), (252, "deciduous"),
                                           (286, "decid_autumn"), (312, "decid_bare")])[:, None, None]
        decid = np.clip(0.8 + tex(300.0, 41, 3.0) - (elev - 540.0) / 300.0, 0.0, 1.0)
        crown = np.clip(0.5 + tex(2.8, 42, 1.6) + tex(1.3, 43, 0.9) + tex(6.0, 44, 0.6), 0.0, 1.0)
        forest_refl = (col("conifer") * (1 - decid) + decid_col * decid) * (0.35 + 1.05 * crown ** 1.3)
        fpot = forest_potential(g, slope, elev, w.rock_level) + tex(7.0, 47, 0.15)
        pid, p, q, bd = self.parcels.locate(X, Y)
        in_parcel = self.parcels.is_field[pid]
        forest = (fpot > 0.5) & ~in_parcel
        # clusters of trees and bushes in the open land
        bush = (noise(g, 4.0, 45) > 0.66) & (noise(g, 80.0, 46) > 0.6) & ~in_parcel
        refl = np.where(forest | bush, forest_refl, refl)

        # field parcels: crop state at the date, within-field variation, rows
        prefl, pamp = self.parcels.surfaces(when)
        field = in_parcel & ~water & (bd > 1.1)
        period = self.parcels.period[pid]
        coord = np.where(self.parcels.orient[pid], p, q).astype(np.float32)
        amp = pamp[pid] * np.clip((period / g.res - 2.0) / 2.0, 0.0, 1.0)
        rows = 1.0 + amp * np.sin(np.float32(2 * math.pi) * coord / period)
        within = 1.0 + tex(28.0, 51, 0.3) + tex(6.0, 52, 0.14)
        field_refl = prefl[:, pid] * (self.parcels.bright[pid] * within * rows)
        refl = np.where(field, field_refl, refl)

        # bare rock at the highest parts, blended over a noisy elevation band
        rock_a = _smoothstep(w.rock_level - 25.0, w.rock_level + 10.0,
                             elev + tex(80.0, 61, 90.0) + tex(12.0, 62, 36.0) + 1.0 * (slope - 25.0))
        rock_a = np.where(field, 0.0, rock_a)
        rock_refl = col("rock") * (1.0 + tex(7.0, 63, 0.5)) * (1.0 + tex(1.6, 64, 0.35))
        refl = refl * (1 - rock_a) + rock_refl * rock_a

        # lake: shallow to deep water from the elevation below the water level,
        # a muddy shore and reed belts in the shallows
        depth = w.water_level - elev
        wt = np.clip(depth / 4.0, 0.0, 1.0)
        water_refl = (col("water_shallow") * (1 - wt) + col("water_deep") * wt) * (1.0 + tex(3.0, 71, 0.12))
        reed = water & (depth < 1.3) & (noise(g, 30.0, 73) > 0.56)
        reed_refl = (0.5 * col("meadow_dry") + 0.5 * col("meadow")) * (0.7 + tex(1.5, 74, 0.6))
        water_refl = np.where(reed, reed_refl, water_refl)
        shore = ~water & (rr < 1.02)
        refl = np.where(shore, 0.5 * refl + 0.5 * col("soil_dark") * (1.0 + tex(1.5, 72, 0.4)), refl)
        refl = np.where(water, water_refl, refl)

        # roads and tracks on top
        for mat, a in self.roads.coverage(g).items():
            surf = col(mat) * (1.0 + tex(1.2, 81, 0.25))
            refl = refl * (1 - a) + surf * a

        # terrain illumination (the water surface is flat)
        se, sn, su = sun_vector(when)
        cos_i = (-gx * se - gy * sn + su) / np.sqrt(1.0 + gx * gx + gy * gy)
        illum = np.clip(cos_i / su, 0.0, 2.2)
        shade = np.where(water & ~reed, 1.0, 0.3 + 0.7 * illum)
        return (refl * shade).astype(np.float32)


# -------------------------------------------------------------- writing ---
def _ov_levels(width: int, height: int):
    return [f for f in (2, 4, 8) if min(width, height) // f >= 32]


def _blocksize(pref: int, width: int, height: int) -> int:
    need = 1 << max(6, int(math.ceil(math.log2(max(width, height)))))
    return min(pref, need)


def _write_cog(path: Path, data: np.ndarray, grid: Grid, *, predictor: str, blocksize: int,
               nodata=None, mask=None, descriptions=(), colorinterp=None, units=None,
               tags=None, band_tags=None) -> None:
    """Write a Cloud Optimized GeoTIFF via an in-memory GTiff and the COG driver."""
    count, height, width = data.shape
    bs = _blocksize(blocksize, width, height)
    levels = _ov_levels(width, height)
    profile = dict(driver="GTiff", width=width, height=height, count=count,
                   dtype=data.dtype.name, crs=CRS, transform=grid.transform,
                   tiled=True, blockxsize=bs, blockysize=bs, interleave="pixel")
    if nodata is not None:
        profile["nodata"] = nodata
    if colorinterp and colorinterp[:3] == [ColorInterp.red, ColorInterp.green, ColorInterp.blue]:
        profile["photometric"] = "RGB"
    tmp = path.with_name(path.name + ".part")
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(data)
            if mask is not None:
                ds.write_mask(mask)
            for i, d in enumerate(descriptions, start=1):
                ds.set_band_description(i, d)
            if colorinterp:
                ds.colorinterp = colorinterp
            for i, u in enumerate(units or (), start=1):
                ds.set_band_unit(i, u)
            if tags:
                ds.update_tags(**tags)
            for i, bt in enumerate(band_tags or (), start=1):
                ds.update_tags(i, **bt)
        options = dict(COMPRESS="DEFLATE", LEVEL="6", PREDICTOR=predictor, BLOCKSIZE=str(bs),
                       BIGTIFF="NO", STATISTICS="NO", OVERVIEWS="NONE")
        if levels:  # the COG driver builds them (nodata / mask aware) on its own
            options.update(OVERVIEWS="AUTO", OVERVIEW_COUNT=str(len(levels)),
                           OVERVIEW_RESAMPLING="AVERAGE")
        with mem.open() as src:
            rasterio.shutil.copy(src, str(tmp), driver="COG", **options)
    os.replace(tmp, path)


def _parse_time(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _time_tags(when: datetime) -> dict:
    return {"ACQUISITIONDATETIME": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "TIFFTAG_DATETIME": when.strftime("%Y:%m:%d %H:%M:%S")}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _describe(out_dir: Path, path: Path, kind: str, acquired=None) -> dict:
    with rasterio.open(path) as ds:
        entry = {
            "path": path.relative_to(out_dir).as_posix(),
            "kind": kind,
            "driver": ds.driver,
            "crs": ds.crs.to_string(),
            "bounds": [float(v) for v in ds.bounds],
            "res": [float(ds.res[0]), float(ds.res[1])],
            "width": ds.width,
            "height": ds.height,
            "count": ds.count,
            "dtype": ds.dtypes[0],
            "nodata": ds.nodata,
            "per_dataset_mask": ds.mask_flag_enums[0] == [rasterio.enums.MaskFlags.per_dataset],
            "overviews": ds.overviews(1),
            "bands": list(ds.descriptions),
        }
    if acquired:
        entry["acquisition_datetime"] = acquired
    entry["size_bytes"] = path.stat().st_size
    entry["sha256"] = _sha256(path)
    return entry


# ------------------------------------------------------------- products ---
def _write_dem(land: Landscape, out_dir: Path) -> Path:
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
    _write_cog(path, dem[None], g, predictor="FLOATING_POINT", blocksize=512,
               nodata=NODATA_DEM, descriptions=["elevation"], units=["m"],
               tags={"VERTICAL_UNITS": "m", "SOURCE": "synthetic terrain (ogcserver samples)"})
    return path


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


def _write_ortho(land, rng, out_dir, row, col, when, variant, scale) -> Path:
    g, dn, mask, nodata = _ortho_tile(land, rng, row, col, when, variant, scale)
    path = out_dir / "ortho" / f"ortho_r{row}c{col}_{when:%Y%m%d}.tif"
    tags = _time_tags(when)
    tags.update({"SENSOR": "synthetic-aerial-camera",
                 "GSD_M": f"{g.res:g}"})
    _write_cog(path, dn, g, predictor="STANDARD", blocksize=256, nodata=nodata, mask=mask,
               descriptions=list(ORTHO_BANDS),
               colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                            ColorInterp.undefined],
               tags=tags)
    return path


def _write_ms(land: Landscape, rng: np.random.Generator, out_dir: Path, scale: float) -> Path:
    when = _parse_time(MS_DATETIME)
    px = max(8, int(round(MS_PX * scale)))
    g = Grid(MS_X0, MS_Y0, MS_SIZE_M / px, px, px)
    ss = 2
    fine = g.refine(ss)
    refl = land.render(fine, when)
    # a few small cumulus clouds and their shadows
    X, Y = _xy(g)
    cx, cy = MS_X0 + MS_SIZE_M / 2, MS_Y0 - MS_SIZE_M / 2
    a = math.radians(12.0)
    u = (X - cx) * math.cos(a) - (Y - cy) * math.sin(a)
    v = (X - cx) * math.sin(a) + (Y - cy) * math.cos(a)
    valid = (np.abs(u) <= 2520.0) & (v >= -3300.0)

    def cloud_field(gr):
        # small cumulus clouds, clustered, away from the orthophoto area
        gx_, gy_ = _xy(gr)
        ortho = np.exp(-(np.hypot(gx_ - (ORTHO_X0 + 740.0), gy_ - (ORTHO_Y0 - 500.0)) / 1300.0) ** 2)
        return (0.45 * noise(gr, 300.0, 901) + 0.3 * noise(gr, 110.0, 902)
                + 0.1 * noise(gr, 35.0, 903) + 1.1 * (noise(gr, 2000.0, 904) - 0.5) - 0.3 * ortho)

    c = cloud_field(fine)
    valid_f = np.repeat(np.repeat(valid, ss, 0), ss, 1)
    thr = float(np.quantile(c[valid_f], 1.0 - MS_CLOUD_COVER / 100.0))
    opacity = np.clip((c - thr) / 0.04, 0.0, 1.0) ** 0.8
    se, sn, su = sun_vector(when)
    horiz = math.hypot(se, sn)
    dist = 1400.0 * horiz / su  # cloud height x tan(zenith)
    shadow_c = cloud_field(fine.shifted(dist * se / horiz, dist * sn / horiz))
    shadow = np.clip((shadow_c - thr) / 0.04, 0.0, 1.0)
    refl = refl * (1.0 - 0.6 * shadow)
    refl = refl * (1 - opacity) + MAT["cloud"][:, None, None] * (0.85 + 0.3 * c) * opacity
    refl = refl.reshape(6, px, ss, px, ss).mean(axis=(2, 4))

    dn = np.rint(refl * 10000.0 + 1000.0 + rng.normal(0.0, 25.0, refl.shape))
    dn = np.clip(dn, 1, 65535).astype(np.uint16)
    dn[:, ~valid] = 0
    path = out_dir / "scene_multispectral.tif"
    tags = _time_tags(when)
    tags.update({"SENSOR": "synthetic-msi", "CLOUD_COVER": f"{MS_CLOUD_COVER}",
                 "PROCESSING_LEVEL": "L2A", "BOA_ADD_OFFSET": "-1000",
                 "QUANTIFICATION_VALUE": "10000"})
    band_tags = [{"WAVELENGTH_NM": str(wl), "BAND_NAME": name}
                 for name, wl in zip(MS_BANDS, MS_WAVELENGTHS)]
    _write_cog(path, dn, g, predictor="STANDARD", blocksize=256, nodata=0,
               descriptions=list(MS_BANDS), tags=tags, band_tags=band_tags)
    return path


# ----------------------------------------------------------------- main ---
def generate(out_dir: Path, scale: float = 1.0, force: bool = False) -> dict:
    """Generate the demo data set into out_dir and return the manifest.

    If out_dir/MANIFEST.json exists and force is False, nothing is written
    and the existing manifest is returned.
    """
    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST_NAME
    if manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text())
        print(f"samples: {manifest_path} exists (scale {manifest.get('scale')}), "
              f"nothing to do (use --force to regenerate)", flush=True)
        return manifest
    if not scale > 0:
        raise ValueError("scale must be > 0")
    old = []
    if manifest_path.exists():
        try:
            old = [f["path"] for f in json.loads(manifest_path.read_text()).get("files", [])]
        except (ValueError, KeyError, TypeError):
            old = []
        manifest_path.unlink()
    (out_dir / "ortho").mkdir(parents=True, exist_ok=True)

    t_start = time.perf_counter()
    master = np.random.default_rng(SEED)
    streams = master.spawn(len(ORTHO_TILES) + 1)
    files = []

    def done(path, kind, t0, acquired=None):
        entry = _describe(out_dir, path, kind, acquired)
        files.append(entry)
        print(f"samples: wrote {entry['path']:<34} {entry['width']}x{entry['height']}x"
              f"{entry['count']} {entry['dtype']:<7} {entry['size_bytes'] / 1e6:7.2f} MB "
              f"{time.perf_counter() - t0:5.2f} s", flush=True)

    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_PAM_ENABLED=False):
        t0 = time.perf_counter()
        land = Landscape(scale, master)
        print(f"samples: landscape {land.world.grid.width}x{land.world.grid.height} px at "
              f"{land.world.grid.res:g} m, water level {land.world.water_level} m "
              f"{time.perf_counter() - t0:5.2f} s", flush=True)

        t0 = time.perf_counter()
        done(_write_dem(land, out_dir), "dem", t0)

        for k, (row, col, stamp, variant) in enumerate(ORTHO_TILES):
            t0 = time.perf_counter()
            when = _parse_time(stamp)
            path = _write_ortho(land, streams[k], out_dir, row, col, when, variant, scale)
            done(path, "ortho", t0, stamp)

        t0 = time.perf_counter()
        done(_write_ms(land, streams[-1], out_dir, scale), "multispectral", t0, MS_DATETIME)

    produced = {f["path"] for f in files}
    for rel in old:
        stale = out_dir / rel
        if rel not in produced and stale.is_file() and stale.suffix == ".tif":
            stale.unlink()

    manifest = {
        "generator": "samples/generate.py",
        "version": GENERATOR_VERSION,
        "seed": SEED,
        "scale": scale,
        "crs": CRS,
        "area_bounds": [DEM_X0, DEM_Y0 - DEM_SIZE_M, DEM_X0 + DEM_SIZE_M, DEM_Y0],
        "water_level_m": land.world.water_level,
        "total_bytes": sum(f["size_bytes"] for f in files),
        "files": files,
    }
    tmp = manifest_path.with_name(MANIFEST_NAME + ".part")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, manifest_path)
    print(f"samples: {len(files)} files, {manifest['total_bytes'] / 1e6:.1f} MB in "
          f"{time.perf_counter() - t_start:.1f} s -> {out_dir}", flush=True)
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help=f"output folder (default: {DEFAULT_OUT})")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies all pixel dimensions (default 1.0)")
    ap.add_argument("--force", action="store_true", help="regenerate even if MANIFEST.json exists")
    args = ap.parse_args(argv)
    if not args.scale > 0:
        ap.error("--scale must be > 0")
    generate(args.out, scale=args.scale, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
