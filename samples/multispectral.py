"""The Sentinel-2-like scene: 6-band uint16 with a rotated swath collar and a few clouds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from samples.area import (
    MAT,
    MS_BANDS,
    MS_CLOUD_COVER,
    MS_DATETIME,
    MS_PX,
    MS_SIZE_M,
    MS_WAVELENGTHS,
    MS_X0,
    MS_Y0,
    ORTHO_X0,
    ORTHO_Y0,
)
from samples.cog import parse_time, time_tags, write_cog
from samples.grids import Grid, xy
from samples.landscape import Landscape, sun_vector
from samples.noise import noise


def write_ms(land: Landscape, rng: np.random.Generator, out_dir: Path, scale: float) -> Path:
    when = parse_time(MS_DATETIME)
    px = max(8, int(round(MS_PX * scale)))
    g = Grid(MS_X0, MS_Y0, MS_SIZE_M / px, px, px)
    ss = 2
    fine = g.refine(ss)
    refl = land.render(fine, when)
    # a few small cumulus clouds and their shadows
    X, Y = xy(g)
    cx, cy = MS_X0 + MS_SIZE_M / 2, MS_Y0 - MS_SIZE_M / 2
    a = math.radians(12.0)
    u = (X - cx) * math.cos(a) - (Y - cy) * math.sin(a)
    v = (X - cx) * math.sin(a) + (Y - cy) * math.cos(a)
    valid = (np.abs(u) <= 2520.0) & (v >= -3300.0)

    def cloud_field(gr):
        # small cumulus clouds, clustered, away from the orthophoto area
        gx_, gy_ = xy(gr)
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
    tags = time_tags(when)
    tags.update({"SENSOR": "synthetic-msi", "CLOUD_COVER": f"{MS_CLOUD_COVER}",
                 "PROCESSING_LEVEL": "L2A", "BOA_ADD_OFFSET": "-1000",
                 "QUANTIFICATION_VALUE": "10000"})
    band_tags = [{"WAVELENGTH_NM": str(wl), "BAND_NAME": name}
                 for name, wl in zip(MS_BANDS, MS_WAVELENGTHS)]
    write_cog(path, dn, g, predictor="STANDARD", blocksize=256, nodata=0,
               descriptions=list(MS_BANDS), tags=tags, band_tags=band_tags)
    return path
