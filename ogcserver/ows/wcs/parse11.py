"""WCS 1.1.1 GetCoverage (KVP).

BOUNDINGBOX is written in the axis order of its CRS (a URN; EPSG:4326 is lat,lon) and, as in
every 1.1 grid, bounds grid points, that is pixel centres. GRIDOFFSETS and GRIDORIGIN (in
GRIDBASECRS axis order) place the output grid points; without them the coverage's own grid is
used. RANGESUBSET picks bands: ``contents[:interpolation][bands[1,3]]``.
"""

from __future__ import annotations

import math
import re

from ogcserver.core.catalog import Layer
from ogcserver.core.query import CoverageQuery
from ogcserver.model.geo import BBox, transform_bbox
from ogcserver.ows.crs import RequestCrs
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import Params
from ogcserver.ows.wcs.axes import request_crs
from ogcserver.ows.wcs.common import band_index, coverage_format, interpolation, number
from ogcserver.ows.wcs.models import GetCoverage

SIMPLE_GRID = "urn:ogc:def:method:WCS:1.1:2dSimpleGrid"
GRID_IN_CRS = "urn:ogc:def:method:WCS:1.1:2dGridIn2dCrs"
SQUARE_CS = "urn:ogc:def:cs:OGC:0.0:Grid2dSquareCS"
CRS84 = "urn:ogc:def:crs:OGC:1.3:CRS84"
RANGE = re.compile(  # field[:interpolation][axis[key,key]]
    r"^\s*([A-Za-z_][\w.\-]*)\s*(?::\s*([A-Za-z]+))?\s*(?:\[\s*([A-Za-z_][\w.\-]*)\s*\[([^\]]*)\]\s*\])?\s*$"
)
EPS = 1e-6


def _pair(values: list[float], crs: RequestCrs) -> tuple[float, float]:
    """Two values in the CRS's axis order, as x, y."""
    return (values[1], values[0]) if crs.yx else (values[0], values[1])


def _numbers(raw: str, count: int, locator: str) -> list[float]:
    parts = raw.split(",")
    if len(parts) != count:
        raise OwsError("InvalidParameterValue", f"{locator} needs {count} comma-separated numbers", locator)
    return [number(p, locator) for p in parts]


def _bounding_box(params: Params) -> BBox:
    parts = params.require("BOUNDINGBOX").split(",")
    if len(parts) not in (4, 5):
        raise OwsError("InvalidParameterValue", "BOUNDINGBOX is lowerCorner,upperCorner[,crs]", "BoundingBox")
    crs = request_crs(parts[4] if len(parts) == 5 else CRS84, "BoundingBox")
    values = [number(p, "BoundingBox") for p in parts[:4]]
    (minx, miny), (maxx, maxy) = _pair(values[:2], crs), _pair(values[2:], crs)
    if not (minx <= maxx and miny <= maxy):
        message = "the BoundingBox lower corner must be below its upper corner"
        raise OwsError("InvalidParameterValue", message, "BoundingBox")
    return BBox(minx, miny, maxx, maxy, crs.internal)


def _base_crs(params: Params) -> RequestCrs:
    """GRIDBASECRS, by default the CRS of the BoundingBox."""
    raw = params.get("GRIDBASECRS")
    if raw is not None and raw.strip():
        return request_crs(raw, "GridBaseCRS")
    parts = params.require("BOUNDINGBOX").split(",")
    return request_crs(parts[4] if len(parts) == 5 else CRS84, "GridBaseCRS")


def _in(box: BBox, crs: str) -> BBox:
    try:
        out = transform_bbox(box, crs)
    except Exception:  # noqa: BLE001 - outside the CRS's domain
        out = None
    if out is None or not all(math.isfinite(v) for v in out.as_tuple()):
        raise OwsError("InvalidParameterValue", "the BoundingBox cannot be expressed in the GridBaseCRS", "BoundingBox")
    return out


def _offsets(params: Params, base: RequestCrs) -> tuple[float, float] | None:
    raw = params.get("GRIDOFFSETS")
    if raw is None or not raw.strip():
        return None
    grid_type = (params.get("GRIDTYPE") or SIMPLE_GRID).strip()
    if grid_type == SIMPLE_GRID:
        resx, resy = _pair([abs(v) for v in _numbers(raw, 2, "GridOffsets")], base)
    elif grid_type == GRID_IN_CRS:
        resx, resy = _axis_vectors(_numbers(raw, 4, "GridOffsets"), base)
    else:
        raise OwsError("InvalidParameterValue", f"GridType must be {SIMPLE_GRID}", "GridType")
    if resx == 0 or resy == 0:
        raise OwsError("InvalidParameterValue", "GridOffsets must not be zero", "GridOffsets")
    return resx, resy


def _axis_vectors(values: list[float], base: RequestCrs) -> tuple[float, float]:
    """Pixel width and height from the offset vectors of the two grid axes (2dGridIn2dCrs), each
    in the GridBaseCRS's axis order. Either vector may run along x: GDAL and GeoServer send the
    column axis first (``0,dlon,dlat,0`` in EPSG:4326), the schema's example the CRS's first axis
    first (``dlat,0,0,dlon``); both describe the same north-up grid. A vector with two non-zero
    components rotates or shears the grid."""
    vectors = sorted((_pair(values[:2], base), _pair(values[2:], base)), key=lambda v: v[0] == 0)
    (ax, ay), (bx, by) = vectors
    if ay or bx:
        raise OwsError("InvalidParameterValue", "rotated or sheared grids are not offered", "GridOffsets")
    return abs(ax), abs(by)


def _grid_points(lo: float, hi: float, origin: float, step: float) -> tuple[int, int]:
    """Index of the first grid point at or above lo, and how many lie in [lo, hi]."""
    first = math.ceil((lo - origin) / step - EPS)
    count = math.floor((hi - origin) / step + EPS) - first + 1
    if count < 1:
        message = "the BoundingBox holds no grid point of the requested grid"
        raise OwsError("InvalidParameterValue", message, "BoundingBox")
    return first, count


def _explicit_grid(
    box: BBox, params: Params, base: RequestCrs, res: tuple[float, float]
) -> tuple[BBox, tuple[int, int]]:
    """Edges and size of the grid whose points lie in the box, on the lattice of GRIDORIGIN."""
    raw = params.get("GRIDORIGIN")
    ox, oy = _pair(_numbers(raw, 2, "GridOrigin"), base) if raw and raw.strip() else (box.minx, box.maxy)
    col, nx = _grid_points(box.minx, box.maxx, ox, res[0])
    row, ny = _grid_points(-box.maxy, -box.miny, -oy, res[1])  # rows run south
    left, top = ox + col * res[0] - res[0] / 2, oy - row * res[1] + res[1] / 2
    return BBox(left, top - ny * res[1], left + nx * res[0], top, box.crs), (nx, ny)


def _range_subset(raw: str | None, layer: Layer) -> tuple[tuple[int, ...] | None, str | None]:
    if raw is None or not raw.strip():
        return None, None
    if ";" in raw:
        raise OwsError("InvalidParameterValue", "this coverage has one field, 'contents'", "RangeSubset")
    m = RANGE.match(raw)
    if m is None or m.group(1).lower() not in ("contents", layer.info.name.lower()):
        raise OwsError("InvalidParameterValue", "RangeSubset is contents[:interpolation][bands[keys]]", "RangeSubset")
    field, method, axis, keys = m.groups()
    if axis is not None and axis.lower() != "bands":
        raise OwsError("InvalidParameterValue", f"field '{field}' has one axis, 'bands'", "RangeSubset")
    bands = tuple(band_index(layer, k, "RangeSubset") for k in keys.split(",")) if keys is not None else None
    return bands, method


def parse_getcoverage(params: Params, layer: Layer, service: str | None) -> GetCoverage:
    store = (params.get("STORE") or "false").strip().lower()
    if store not in ("false", "true"):
        raise OwsError("InvalidParameterValue", "store must be true or false", "store")
    if store == "true":
        raise OwsError("InvalidParameterValue", "store=true is not offered: coverages come inline", "store")
    if (params.get("GRIDCS") or SQUARE_CS).strip() != SQUARE_CS:
        raise OwsError("InvalidParameterValue", f"GridCS must be {SQUARE_CS}", "GridCS")
    if params.get("TIMESEQUENCE"):
        raise OwsError("InvalidParameterValue", f"coverage '{layer.info.name}' has no time axis", "TimeSequence")
    box = _bounding_box(params)
    base = _base_crs(params)
    bands, method = _range_subset(params.get("RANGESUBSET"), layer)
    res = _offsets(params, base)
    size: tuple[int | None, int | None] = (None, None)
    area = box
    if res is not None:
        area, (nx, ny) = _explicit_grid(_in(box, base.internal), params, base, res)
        size = (nx, ny)
    query = CoverageQuery(
        coverage=layer.info.name,
        format=coverage_format(params.require("FORMAT"), "format", "InvalidParameterValue"),
        area=area,
        crs=base.internal,
        size=size,
        bands=bands,
        resampling=interpolation(method, "RangeSubset", "InvalidParameterValue"),
        service=service,
    )
    return GetCoverage("1.1.1", query, multipart=True)
