"""The map viewer page in a browser: open it, wait for its map to draw, and where a layer's
extent must appear in the map (computed here from the projection, not asked of the page)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import rasterio.warp

from ogcserver.settings import folder_pattern
from ogcserver.storage.readers.xarray_reader import XarrayReader
from tests.support.browser import Browser

BACKGROUND = np.array([238, 238, 238])  # the map's background (#eee)
MAP_STATE = "document.getElementById('map').dataset"


def open_viewer(browser: Browser, url: str) -> None:
    browser.open(url)
    browser.wait_for(f"{MAP_STATE}.state === 'idle'")


def redraw_after(browser: Browser, action: str) -> None:
    """Run a script that changes the map and wait until its tiles have loaded again."""
    loads = int(browser.evaluate(f"{MAP_STATE}.loads || 0"))
    browser.evaluate(action)
    browser.wait_for(f"Number({MAP_STATE}.loads || 0) > {loads} && {MAP_STATE}.state === 'idle'")


def map_rect(browser: Browser) -> tuple[float, float, float, float]:
    """The map's box in the page: left, top, width, height (CSS pixels, one per screen pixel)."""
    rect = browser.evaluate("JSON.stringify(document.getElementById('map').getBoundingClientRect())")
    r = json.loads(rect)
    return r["left"], r["top"], r["width"], r["height"]


def map_pixels(browser: Browser) -> np.ndarray:
    """What the map shows (RGB, its own size), without its controls (zoom, scale, coordinates)."""
    browser.evaluate("document.querySelector('.leaflet-control-container').style.display = 'none'")
    browser.settle(0.2)
    picture = browser.screenshot()
    left, top, width, height = (round(v) for v in map_rect(browser))
    browser.evaluate("document.querySelector('.leaflet-control-container').style.display = ''")
    return picture[top:top + height, left:left + width]


def project(lon: float, lat: float, crs: str) -> tuple[float, float]:
    if crs == "EPSG:4326":
        return lon, lat
    return 6378137 * math.radians(lon), 6378137 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def expected_rect(bounds: tuple[float, float, float, float], width: int, height: int,
                  crs: str = "EPSG:3857") -> tuple[float, float, float, float]:
    """Where the viewer draws a lon/lat extent (east past 180 across it) in its map: fitted in the
    middle with a margin of a tenth, in the map's CRS; (left, top, right, bottom) in map pixels."""
    (x0, y0), (x1, y1) = project(bounds[0], bounds[1], crs), project(bounds[2], bounds[3], crs)
    res = max((x1 - x0) / width, (y1 - y0) / height) * 1.1
    half_w, half_h = (x1 - x0) / res / 2, (y1 - y0) / res / 2
    return width / 2 - half_w, height / 2 - half_h, width / 2 + half_w, height / 2 + half_h


def drawn(view: np.ndarray) -> np.ndarray:
    """Where the map shows anything but its background."""
    return (np.abs(view.astype(int) - BACKGROUND) > 3).any(axis=2)


def inside_outside(shape: tuple[int, ...], rect: tuple[float, float, float, float],
                   margin: float = 4) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the pixels surely inside and surely outside a rectangle (a few pixels of the
    tiles' resampling at its edges left out)."""
    left, top, right, bottom = rect
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    inside = (cols >= left + margin) & (cols < right - margin) & (rows >= top + margin) & (rows < bottom - margin)
    outside = ((cols < left - margin) | (cols >= right + margin) | (rows < top - margin)
               | (rows >= bottom + margin))
    return inside, outside


MULTIDIMENSIONAL = (".nc", ".nc4")  # read through xarray, not GDAL


def true_lonlat_bounds(path: Path) -> tuple[float, float, float, float]:
    """Where the source's valid pixels lie in lon/lat, from its files' masks (read at most 256
    cells a side, so within a cell); east past 180 when it crosses the antimeridian."""
    files = [path] if path.is_file() else folder_pattern(path)[1]  # a folder: the rasters its layer takes
    if path.suffix.lower() in MULTIDIMENSIONAL or not files:
        return multidimensional_lonlat_bounds(path)
    lons, lats = [], []
    for f in files:
        with rasterio.open(f) as src:
            step = max(1, math.ceil(max(src.width, src.height) / 256))
            shape = (math.ceil(src.height / step), math.ceil(src.width / step))
            valid = src.dataset_mask(out_shape=shape) > 0
            rows, cols = np.nonzero(valid)
            corners = [(rows + dr) * step for dr in (0, 1)], [(cols + dc) * step for dc in (0, 1)]
            xs, ys = [], []
            by_gcps = src.transform.is_identity and len(src.gcps[0]) >= 3
            for r in corners[0]:
                for c in corners[1]:
                    r, c = np.minimum(r, src.height), np.minimum(c, src.width)
                    if by_gcps:  # placed by GDAL's GCP polynomial, as gdalwarp places it
                        with rasterio.transform.GCPTransformer(src.gcps[0]) as gcps:
                            x, y = gcps.xy(r, c, offset="ul")
                    else:
                        x, y = src.transform * (c, r)
                    xs.extend(np.atleast_1d(x))
                    ys.extend(np.atleast_1d(y))
            crs = src.gcps[1] if by_gcps else src.crs
            # points that have no lon/lat (a geostationary view's corners lie in space) are left out
            lon, lat = pyproj.Transformer.from_crs(crs.to_wkt(), "EPSG:4326", always_xy=True).transform(
                np.asarray(xs), np.asarray(ys), errcheck=False)
            finite = np.isfinite(lon) & np.isfinite(lat)
        lons.extend(np.asarray(lon)[finite])
        lats.extend(np.asarray(lat)[finite])
    lons_array = np.asarray(lons)
    if lons_array.max() - lons_array.min() > 180:  # across the antimeridian: continue east of 180
        lons_array = np.where(lons_array < 0, lons_array + 360, lons_array)
    return float(lons_array.min()), float(min(lats)), float(lons_array.max()), float(max(lats))


def multidimensional_lonlat_bounds(path: Path) -> tuple[float, float, float, float]:
    """Where the grids of the netCDF files lie in lon/lat, from their coordinates as xarray reads
    them (GDAL's netCDF driver and the server's HDF5 library do not share one process), within
    the globe (cell centres on the poles put the grid's edges beyond them)."""
    lons, lats = [], []
    for f in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in MULTIDIMENSIONAL):
        b = XarrayReader().describe(str(f)).bounds
        edge = np.linspace(0, 1, 33)
        xs = np.concatenate([b.minx + edge * b.width, np.full(33, b.maxx), b.maxx - edge * b.width, np.full(33, b.minx)])
        ys = np.concatenate([np.full(33, b.miny), b.miny + edge * b.height, np.full(33, b.maxy), b.maxy - edge * b.height])
        lon, lat = rasterio.warp.transform(b.crs, "EPSG:4326", xs.tolist(), ys.tolist())
        lons.extend(lon)
        lats.extend(lat)
    return (max(-180.0, min(lons)), max(-90.0, min(lats)), min(180.0, max(lons)), min(90.0, max(lats)))
