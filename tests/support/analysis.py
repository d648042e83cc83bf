"""Generated inputs for analysis tests and benchmarks, and single-process numpy references of
the chains they run (written from the formulas, not from the server's code)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import yaml

from tests.support import rasters

DEM_NODATA = -9999.0


def dem(path: Path, shape: tuple[int, int], seed: int = 3, overviews: tuple[int, ...] = (2, 4)) -> Path:
    """A float32 DEM on the test UTM grid with a nodata hole."""
    values = rasters.texture(shape, 1, seed=seed, dtype="float32", scale=500) + 200
    values[0, 100:150, 100:150] = DEM_NODATA
    return rasters.write(path, values, rasters.from_origin(*rasters.ORIGIN, rasters.RES, rasters.RES),
                         nodata=DEM_NODATA, overviews=overviews, descriptions=("elevation",))


def multispectral(path: Path, shape: tuple[int, int]) -> Path:
    values = rasters.texture(shape, 4, seed=4, dtype="uint16", scale=12000)
    values[:, :, :20] = 0
    return rasters.write(path, values, rasters.from_origin(*rasters.ORIGIN, rasters.RES, rasters.RES), nodata=0,
                         descriptions=("blue", "green", "red", "nir"))


def config(folder: Path, dem_path: Path, ms_path: Path | None = None, access: dict | None = None, **analysis) -> Path:
    """A configuration publishing the inputs and, on their collections, the products the tests make."""
    layers = [{"name": "dem", "source": str(dem_path), "styles": ["shade"]},
              {"name": "shaded", "collection": "dem_shade"}]
    if ms_path is not None:
        layers += [{"name": "ms", "source": str(ms_path)}, {"name": "ndvi", "collection": "ndvi_product"}]
    raw = {
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "processing": [{"name": "shade", "chain": [{"function": "hillshade"}]}],
        "analysis": {"workers": 2, "chunk_size": 512, "memory_limit_mb": 1024, **analysis},
        "services": [{"name": "demo", "layers": layers}],
    }
    if access is not None:
        raw["access"] = access
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def utm_ring(x0: float, y0: float, x1: float, y1: float) -> dict:
    """A GeoJSON Polygon in lon/lat through the corners of a box of the test UTM grid (its edges
    are straight in lon/lat, so they bend by well under a pixel against the grid here)."""
    from ogcserver.model.geo import transform_coords

    xs, ys = transform_coords(np.array([x0, x1, x1, x0, x0], float), np.array([y0, y0, y1, y1, y0], float),
                              rasters.UTM, "EPSG:4326")
    return {"type": "Polygon", "coordinates": [list(zip(xs.tolist(), ys.tolist()))]}


def hillshade(values: np.ndarray, nodata: float, res: float, azimuth: float = 315, altitude: float = 45):
    """gdaldem's hillshade (Horn's method); pixels whose 3x3 neighbourhood is not all data are 0
    and invalid. Returns (uint8 values, valid)."""
    z = values.astype(np.float64)
    z[values == nodata] = np.nan
    p = np.pad(z, 1, constant_values=np.nan)
    a, b, c = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d, f = p[1:-1, :-2], p[1:-1, 2:]
    g, h, i = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * res)
    dy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * res)
    ok = np.isfinite(dx) & np.isfinite(dy) & np.isfinite(z)
    az, alt = math.radians(azimuth), math.radians(altitude)
    with np.errstate(invalid="ignore"):
        cang = (math.sin(alt) - (-dy * math.cos(az) + dx * math.sin(az)) * math.cos(alt)) / np.sqrt(1 + dx * dx + dy * dy)
        shade = np.where(cang <= 0, 1.0, 1.0 + 254.0 * cang)
    return np.where(ok, np.floor(shade + 0.5), 0).astype(np.uint8), ok


def ndvi(values: np.ndarray, nodata: float):
    """(nir - red) / (nir + red) in float32 where every band has data."""
    ok = (values != nodata).all(axis=0)
    nir, red = values[3].astype(np.float32), values[2].astype(np.float32)
    with np.errstate(all="ignore"):
        return (nir - red) / (nir + red), ok
