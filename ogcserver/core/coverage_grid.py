"""The grid of a coverage request: explicit where the client fixed it, else derived from the coverage.

In the native CRS a derived axis keeps the coverage's own pixels (those whose centres lie in the
area asked for), so such requests return source pixels untouched; in other CRSs it gets a
resolution like the native one, as gdalwarp would choose.
"""

from __future__ import annotations

import math
from typing import Literal

from affine import Affine

from ogcserver.core.query import CoverageQuery
from ogcserver.model.catalog import LayerInfo
from ogcserver.model.errors import AreaOutsideCoverage, InvalidExtent
from ogcserver.model.geo import BBox, crs_object, transform_bbox
from ogcserver.model.image import Grid

EPS = 1e-6  # of a pixel: pixel centres this close to an area's edge count as inside


def native_grid(info: LayerInfo) -> Grid:
    """The coverage's own grid: its native bounds at its finest native resolution."""
    rx, ry = info.resolution
    b = info.bounds
    width, height = max(1, round(b.width / rx)), max(1, round(b.height / ry))
    return Grid(info.crs, Affine(rx, 0.0, b.minx, 0.0, -ry, b.maxy), width, height)


def same_crs(a: str, b: str) -> bool:
    return a == b or crs_object(a).equals(crs_object(b), ignore_axis_order=True)


def _in(box: BBox, crs: str) -> BBox:
    try:
        out = transform_bbox(box, crs)
    except Exception:  # noqa: BLE001 - outside the CRS's domain
        raise AreaOutsideCoverage("the area asked for cannot be expressed in the coverage's CRS") from None
    if not all(math.isfinite(v) for v in out.as_tuple()):
        raise AreaOutsideCoverage("the area asked for cannot be expressed in the coverage's CRS")
    return out


def _snap(lo: float, hi: float, origin: float, res: float, count: int) -> tuple[int, int]:
    """First and end index of the native cells whose centres lie in [lo, hi] (a point: its cell)."""
    if hi - lo <= EPS * res:
        first = math.floor((lo - origin) / res)
        first, end = first, first + 1
    else:
        first = math.ceil((lo - origin) / res - 0.5 - EPS)
        end = math.floor((hi - origin) / res - 0.5 + EPS) + 1
    first, end = max(first, 0), min(end, count)
    if first >= end:
        raise AreaOutsideCoverage("the area asked for holds no pixel of the coverage")
    return first, end


def _suggested_resolution(native: Grid, crs: str) -> float:
    """A square pixel size in ``crs`` keeping the native pixel count along the diagonal (gdalwarp)."""
    box = _in(native.bbox, crs)
    return math.hypot(box.width, box.height) / math.hypot(native.width, native.height)


def output_grid(info: LayerInfo, query: CoverageQuery) -> Grid:
    """The output grid (north up) of a coverage request."""
    native = native_grid(info)
    crs = query.crs if query.crs is not None and not same_crs(query.crs, info.crs) else info.crs
    derived = [query.size[i] is None and query.resolution[i] is None for i in (0, 1)]
    area = query.area
    if crs == info.crs:
        area = _in(area, crs) if area is not None else native.bbox
        spans: list[tuple[float, float, int | None]] = []
        for i, (lo, hi, origin, res, count) in enumerate((
            (area.minx, area.maxx, native.transform.c, native.transform.a, native.width),
            (-area.maxy, -area.miny, -native.transform.f, -native.transform.e, native.height),
        )):
            if derived[i]:
                first, end = _snap(lo, hi, origin, res, count)
                spans.append((origin + first * res, origin + end * res, end - first))
            else:
                spans.append((lo, hi, None))
    else:
        area = _in(area, crs) if area is not None else _in(native.bbox, crs)
        if any(derived):
            area = _clip(area, _in(native.bbox, crs))
        res = _suggested_resolution(native, crs) if any(derived) else 0.0
        spans = []
        for i, (lo, hi) in enumerate(((area.minx, area.maxx), (-area.maxy, -area.miny))):
            if derived[i]:
                if hi - lo < res:  # a slice: one pixel around the point
                    mid = (lo + hi) / 2
                    lo, hi = mid - res / 2, mid + res / 2
                spans.append((lo, hi, max(1, round((hi - lo) / res))))
            else:
                spans.append((lo, hi, None))
    return _grid(crs, spans, query)


def _clip(area: BBox, bounds: BBox) -> BBox:
    clipped = BBox(
        max(area.minx, bounds.minx), max(area.miny, bounds.miny),
        min(area.maxx, bounds.maxx), min(area.maxy, bounds.maxy), area.crs,
    )
    if not (clipped.minx <= clipped.maxx and clipped.miny <= clipped.maxy):
        raise AreaOutsideCoverage("the area asked for does not overlap the coverage")
    return clipped


def _grid(crs: str, spans: list[tuple[float, float, int | None]], query: CoverageQuery) -> Grid:
    """Spans are (low, high, derived pixel count or None) per axis, y negated (rows run south)."""
    counts, steps = [], []
    for i, (lo, hi, derived) in enumerate(spans):
        size, resolution, extent = query.size[i], query.resolution[i], hi - lo
        axis: Literal["x", "y"] = "x" if i == 0 else "y"
        if not extent > 0:
            raise InvalidExtent(axis, "empty")
        if extent == math.inf:  # e.g. -1e308 to 1e308: each bound finite, their distance not
            raise InvalidExtent(axis, "too large")
        if size is not None:
            n, step = size, extent / size
        elif resolution is not None:
            n, step = max(1, round(extent / resolution)), resolution  # keeps the resolution asked for
        else:
            n = max(1, round((derived or 1) * query.scale[i]))
            step = extent / n
        counts.append(n)
        steps.append(step)
    transform = Affine(steps[0], 0.0, spans[0][0], 0.0, -steps[1], -spans[1][0])
    return Grid(crs, transform, counts[0], counts[1])
