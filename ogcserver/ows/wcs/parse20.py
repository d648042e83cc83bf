"""WCS 2.0.1 GetCoverage: the request as given (KVP here, XML in xml20.py), then the core query.

Subsets name the axes of the subsetting CRS (E/N for UTM, Lat/Long for EPSG:4326, in the order
the CRS defines them); a trim keeps the pixels whose centres lie in it, a slice the one pixel
holding the point. Scaling, interpolation, range subsetting, CRS and GeoTIFF encoding follow
their extensions (OGC 12-039, 12-049, 12-040, 11-053r1, 12-100r1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ogcserver.core.catalog import Layer
from ogcserver.core.query import CoverageQuery
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.ows.capabilities import bbox_in
from ogcserver.ows.crs import RequestCrs
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import Params
from ogcserver.ows.wcs.axes import axis_named, crs_axes, request_crs
from ogcserver.ows.wcs.common import band_index, coverage_format, coverage_ids, field_names, interpolation, number
from ogcserver.ows.wcs.geotiff import geotiff_options
from ogcserver.ows.wcs.models import GetCoverage
from ogcserver.ows.wcs.views import wcs_code

SUBSET = re.compile(r"^\s*([^\s,()]+)\s*(?:,\s*([^\s()]+)\s*)?\(([^()]*)\)\s*$")
ITEM = re.compile(r"([^\s,()]+)\s*\(([^()]*)\)")
ITEMS = re.compile(r"^\s*[^\s,()]+\s*\([^()]*\)\s*(,\s*[^\s,()]+\s*\([^()]*\)\s*)*$")
GRID_AXES = {"i": 0, "j": 1, "http://www.opengis.net/def/axis/ogc/1/i": 0, "http://www.opengis.net/def/axis/ogc/1/j": 1}
INVALID_SUBSETTING = {"status": 404}


@dataclass(frozen=True)
class Subset:
    axis: str
    crs: str | None
    low: str | None   # None: unbounded ("*")
    high: str | None
    slice: bool


@dataclass
class Request20:
    """A GetCoverage as the client wrote it (KVP or XML), values still text."""

    coverage_ids: tuple[str, ...]
    subsets: list[Subset] = field(default_factory=list)
    format: str | None = None
    media_type: str | None = None
    subsetting_crs: str | None = None
    output_crs: str | None = None
    scaling: tuple[str, list[tuple[str, ...]]] | None = None  # (kind, [(axis, value[, value])])
    interpolation: str | None = None
    interpolation_per_axis: list[tuple[str, str]] = field(default_factory=list)
    range_subset: list[tuple[str, str | None]] | None = None  # (component or start, end)
    geotiff: dict[str, str] = field(default_factory=dict)


# -- KVP -------------------------------------------------------------------------------------------
def _items(raw: str, locator: str, code: str) -> list[tuple[str, str]]:
    """``axis(value),axis(value)`` lists of the scaling parameters."""
    if not ITEMS.match(raw):
        raise OwsError(code, f"{locator} must read axis(value),axis(value)", locator, status=404)
    return ITEM.findall(raw)


def _subset(raw: str) -> Subset:
    m = SUBSET.match(raw)
    if m is None:
        raise OwsError("InvalidSubsetting", "SUBSET must read axis(low,high) or axis(point)", "SUBSET", **INVALID_SUBSETTING)
    axis, crs, body = m.groups()
    values = [v.strip().strip('"') for v in body.split(",")]
    if len(values) == 1:
        return Subset(axis, crs, values[0], values[0], True)
    if len(values) != 2:
        raise OwsError("InvalidSubsetting", "a trim has a low and a high bound", "SUBSET", **INVALID_SUBSETTING)
    low, high = (None if v == "*" else v for v in values)
    return Subset(axis, crs, low, high, False)


def _kvp_scaling(params: Params) -> tuple[str, list[tuple[str, ...]]] | None:
    given = [name for name in ("SCALEFACTOR", "SCALEAXES", "SCALESIZE", "SCALEEXTENT") if params.get(name)]
    if len(given) > 1:
        raise OwsError("InvalidParameterValue", "give one of SCALEFACTOR, SCALEAXES, SCALESIZE, SCALEEXTENT", given[1])
    if not given:
        return None
    name, raw = given[0], params.get(given[0]) or ""
    if name == "SCALEFACTOR":
        return "factor", [("", raw)]
    code = "InvalidExtent" if name == "SCALEEXTENT" else "InvalidScaleFactor"
    items = _items(raw, name, code)
    if name == "SCALEEXTENT":
        return "extent", [(axis, *re.split(r"[:,]", value, maxsplit=1)) for axis, value in items]
    return ("axes" if name == "SCALEAXES" else "size"), [(axis, value) for axis, value in items]


def kvp_request(params: Params) -> Request20:
    per_axis = [tuple(p.split(",", 1)) for p in (params.get("INTERPOLATIONPERAXIS") or "").split(";") if p.strip()]
    if any(len(p) != 2 for p in per_axis):
        raise OwsError("InvalidParameterValue", "INTERPOLATIONPERAXIS must read axis,method", "INTERPOLATIONPERAXIS")
    rangesubset = params.get("RANGESUBSET")
    return Request20(
        coverage_ids=coverage_ids(params.require("COVERAGEID"), "COVERAGEID"),
        subsets=[_subset(raw) for raw in params.values("SUBSET")],
        format=params.get("FORMAT"),
        media_type=params.get("MEDIATYPE"),
        subsetting_crs=params.get("SUBSETTINGCRS"),
        output_crs=params.get("OUTPUTCRS"),
        scaling=_kvp_scaling(params),
        interpolation=params.get("INTERPOLATION"),
        interpolation_per_axis=[(a.strip(), m.strip()) for a, m in per_axis],
        range_subset=None if rangesubset is None else [
            (item.split(":", 1)[0], item.split(":", 1)[1] if ":" in item else None) for item in rangesubset.split(",")
        ],
        geotiff={name.split(":", 1)[1].lower(): params.get(name) or "" for name in params.names() if name.startswith("GEOTIFF:")},
    )


# -- the core query -------------------------------------------------------------------------------
def _crs(raw: str | None, default: RequestCrs, code: str, locator: str) -> RequestCrs:
    if raw is None or not raw.strip():
        return default
    return request_crs(raw, locator, code)


def _bound(text: str | None, fallback: float) -> float:
    if text is None:
        return fallback
    return number(text, "SUBSET", "InvalidSubsetting") if text.strip() else fallback


def _area(request: Request20, layer: Layer, crs: RequestCrs) -> BBox | None:
    """The area the subsets keep, in the subsetting CRS (x/y), unbounded sides from the coverage."""
    if not request.subsets:
        return None
    extent = bbox_in(layer.info.bounds, crs.code)
    if extent is None:
        raise OwsError("InvalidSubsetting", f"the coverage cannot be expressed in {crs.code}", "SUBSET", **INVALID_SUBSETTING)
    low, high = [extent.minx, extent.miny], [extent.maxx, extent.maxy]
    seen: set[int] = set()
    for subset in request.subsets:
        xy = axis_named(crs.code, subset.axis).xy
        if xy in seen:
            raise OwsError("InvalidSubsetting", f"axis '{subset.axis[:20]}' is subset twice", "SUBSET", **INVALID_SUBSETTING)
        seen.add(xy)
        try:
            lo, hi = _bound(subset.low, low[xy]), _bound(subset.high, high[xy])
        except OwsError:
            raise OwsError("InvalidSubsetting", f"the bounds of axis '{subset.axis[:20]}' must be numbers", "SUBSET",
                           **INVALID_SUBSETTING) from None
        if lo > hi:
            raise OwsError("InvalidSubsetting", f"the low bound of '{subset.axis[:20]}' is above its high bound", "SUBSET",
                           **INVALID_SUBSETTING)
        low[xy], high[xy] = lo, hi
    return BBox(low[0], low[1], high[0], high[1], crs.internal)


def _scale_axis(label: str, crs: RequestCrs, code: str) -> int:
    xy = GRID_AXES.get(label.strip().lower())
    if xy is not None:
        return xy
    try:
        return axis_named(crs.code, label).xy
    except OwsError:
        raise OwsError(code, f"'{label[:30]}' is not an axis of the output", "SCALEAXES", status=404) from None


def _scaling(request: Request20, crs: RequestCrs) -> tuple[tuple[float, float], tuple[int | None, int | None]]:
    """Scale factors and target sizes per axis (x, y)."""
    scale, size = [1.0, 1.0], [None, None]
    if request.scaling is None:
        return (1.0, 1.0), (None, None)
    kind, items = request.scaling
    for item in items:
        if kind == "factor":
            value = _positive(item[1], "SCALEFACTOR", "InvalidScaleFactor")
            scale = [value, value]
            continue
        code = "InvalidExtent" if kind == "extent" else "InvalidScaleFactor"
        xy = _scale_axis(item[0], crs, "ScaleAxisUndefined")
        if kind == "axes":
            scale[xy] = _positive(item[1], "SCALEAXES", code)
        elif kind == "size":
            size[xy] = _whole(item[1], "SCALESIZE", code)
        else:
            if len(item) != 3:
                raise OwsError(code, "SCALEEXTENT must read axis(low:high)", "SCALEEXTENT", status=404)
            low, high = _whole(item[1], "SCALEEXTENT", code, 0), _whole(item[2], "SCALEEXTENT", code, 0)
            if high < low:
                raise OwsError(code, "a target extent's high is below its low", "SCALEEXTENT", status=404)
            size[xy] = high - low + 1
    return (scale[0], scale[1]), (size[0], size[1])


def _positive(text: str, locator: str, code: str) -> float:
    try:
        value = number(text, locator, code)
    except OwsError:
        raise OwsError(code, f"{locator} must be a positive number", locator, status=404) from None
    if value <= 0:
        raise OwsError(code, f"{locator} must be a positive number", locator, status=404)
    return value


def _whole(text: str, locator: str, code: str, minimum: int = 1) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) < minimum:
        raise OwsError(code, f"{locator} needs whole numbers of at least {minimum}", locator, status=404)
    return int(value)


def _bands(request: Request20, layer: Layer) -> tuple[int, ...] | None:
    if request.range_subset is None:
        return None
    bands: list[int] = []
    names = field_names(layer)
    for start, end in request.range_subset:
        first = band_index(layer, start, "RANGESUBSET", "NoSuchField", 404)
        last = band_index(layer, end, "RANGESUBSET", "NoSuchField", 404) if end is not None else first
        if last < first:
            raise OwsError("IllegalFieldSequence", f"'{names[first - 1]}' comes after '{names[last - 1]}'", "RANGESUBSET",
                           status=404)
        bands += range(first, last + 1)
    return tuple(bands)


def _interpolation(request: Request20) -> Resampling:
    methods = {m.strip().lower() for _, m in request.interpolation_per_axis}
    if request.interpolation:
        methods.add(request.interpolation.strip().lower())
    resolved = {interpolation(m, "INTERPOLATION", "InterpolationMethodNotSupported", 404) for m in methods}
    if len(resolved) > 1:
        raise OwsError("InterpolationMethodNotSupported", "one interpolation method for every axis is supported",
                       "INTERPOLATION", status=404)
    return resolved.pop() if resolved else Resampling.NEAREST


def coverage_id(request: Request20) -> str:
    if len(request.coverage_ids) != 1:
        raise OwsError("InvalidParameterValue", "GetCoverage takes one CoverageId", "COVERAGEID")
    return request.coverage_ids[0]


def build(request: Request20, layer: Layer, service: str | None) -> GetCoverage:
    native_code = wcs_code(layer)
    if native_code is None:
        raise OwsError("NoSuchCoverage", f"coverage '{layer.info.name}' is not offered", "COVERAGEID", status=404)
    native = RequestCrs(native_code, native_code, crs_axes(native_code)[0].xy == 1)
    crs_in_subsets = {s.crs for s in request.subsets if s.crs}
    if len(crs_in_subsets) > 1:
        raise OwsError("InvalidSubsetting", "all subsets must use one CRS", "SUBSET", **INVALID_SUBSETTING)
    subsetting = _crs(request.subsetting_crs or next(iter(crs_in_subsets), None), native,
                      "SubsettingCrs-NotSupported", "SUBSETTINGCRS")
    output = _crs(request.output_crs, subsetting, "OutputCrs-NotSupported", "OUTPUTCRS")
    if request.media_type and request.media_type.strip().lower() != "image/tiff":
        raise OwsError("InvalidParameterValue", "the coverage is returned encoded alone; multipart/related is not offered",
                       "MEDIATYPE")
    scale, size = _scaling(request, output)
    query = CoverageQuery(
        coverage=layer.info.name,
        format=coverage_format(request.format or "image/tiff", "FORMAT", "InvalidParameterValue"),
        area=_area(request, layer, subsetting),
        crs=output.internal,
        size=size,
        scale=scale,
        bands=_bands(request, layer),
        resampling=_interpolation(request),
        geotiff=geotiff_options(request.geotiff),
        service=service,
    )
    return GetCoverage("2.0.1", query)
