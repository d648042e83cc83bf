"""The synthetic landscape: terrain, lake, forest, parcels and roads, and the reflectance
they show on a given day."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from samples.area import (
    AGRI_THRESHOLD,
    CROP_SHARE,
    CROPS,
    DEM_PX,
    DEM_SIZE_M,
    DEM_X0,
    DEM_Y0,
    FIELD_MAX_SLOPE,
    LAKE_AXIS,
    LAKE_C,
    LAKE_R,
    MAT,
    NOISE_X0,
    NOISE_Y0,
    SITE_LAT,
    SITE_LON,
    STRIPES,
    WORLD_MARGIN_M,
    YEARS,
)
from samples.grids import Grid, Points, xy
from samples.noise import fbm, noise, ridged, smoothstep


def lake_rr(src):
    """Normalised distance from the lake centre; the water is where < 1."""
    x, y = xy(src)
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
    return f - 1.2 * smoothstep(rock_level - 110.0, rock_level, elev)


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
        x, y = xy(g)

        base = fbm(g, [3200, 1600, 800, 400, 200, 100], 1, 0.5)
        ridge = ridged(g, [1500, 750, 375, 187, 94, 47], 2, 0.55)
        trend = ((x - NOISE_X0) + (NOISE_Y0 - y)) / 9000.0
        mountains = smoothstep(0.35, 0.85, 0.6 * trend + 0.6 * (noise(g, 2600.0, 3) - 0.5) + 0.2)
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
        w = smoothstep(1.0, 2.3, rr)
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
        X, Y = xy(g)
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
        rock_a = smoothstep(w.rock_level - 25.0, w.rock_level + 10.0,
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
