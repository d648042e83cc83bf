"""Deterministic value noise on map coordinates: the same place gives the same value in
every product, whatever its grid."""

from __future__ import annotations

import math

import numpy as np

from samples.area import NOISE_X0, NOISE_Y0
from samples.grids import Grid


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


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)
