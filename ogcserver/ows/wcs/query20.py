"""A WCS 2.0.1 GetCoverage, checked against its coverage and turned into the core query.

Subsets name the axes of the subsetting CRS (E/N for UTM, Lat/Long for EPSG:4326, in the order
the CRS defines them); a trim keeps the pixels whose centres lie in it, clipped to the coverage,
a slice the one pixel holding the point. Scaling, interpolation, range subsetting, CRSs and the
GeoTIFF encoding follow their extensions (OGC 12-039, 12-049, 12-040, 11-053r1, 12-100r1); a
scale factor multiplies the number of pixels, as MapServer and GeoServer read it.
"""

from __future__ import annotations

from dataclasses import replace

from ogcserver.core.catalog import Layer
from ogcserver.core.query import CoverageQuery, ItemQuery
from ogcserver.model.errors import InvalidValue
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.time import parse_time
from ogcserver.ows.capabilities import bbox_in
from ogcserver.ows.crs import RequestCrs
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import whole_number
from ogcserver.ows.wcs.axes import axis_named, crs_axes, request_crs
from ogcserver.ows.wcs.common import band_index, coverage_format, field_names, interpolation, number
from ogcserver.ows.wcs.geotiff import geotiff_options
from ogcserver.ows.wcs.kvp20 import invalid_subsetting
from ogcserver.ows.wcs.models import GetCoverage
from ogcserver.ows.wcs.request20 import Request20, Scaling
from ogcserver.ows.wcs.views import wcs_code

TIME_AXES = {"time", "t", "date", "ansi", "phenomenontime"}
GRID_AXES = {"i": 0, "j": 1, "http://www.opengis.net/def/axis/ogc/1/i": 0, "http://www.opengis.net/def/axis/ogc/1/j": 1}


def coverage_id(request: Request20) -> str:
    if len(request.coverage_ids) != 1:
        raise OwsError("InvalidParameterValue", "GetCoverage takes one CoverageId", "COVERAGEID")
    return request.coverage_ids[0]


def _crs(raw: str | None, default: RequestCrs, code: str, locator: str) -> RequestCrs:
    return default if raw is None or not raw.strip() else request_crs(raw, locator, code)


def _bound(text: str | None, fallback: float, axis: str) -> float:
    if text is None or not text.strip():
        return fallback
    try:
        return number(text, "SUBSET")
    except OwsError:
        raise invalid_subsetting(f"the bounds of axis '{axis[:20]}' must be numbers") from None


def _area(request: Request20, layer: Layer, crs: RequestCrs) -> BBox | None:
    """The area the subsets keep, in the subsetting CRS (x/y); open sides end at the coverage's."""
    if not request.subsets:
        return None
    extent = bbox_in(layer.info.bounds, crs.code)
    if extent is None:
        raise invalid_subsetting(f"the coverage cannot be expressed in {crs.code}")
    low, high = [extent.minx, extent.miny], [extent.maxx, extent.maxy]
    seen: set[int] = set()
    for subset in request.subsets:
        xy = axis_named(crs.code, subset.axis).xy
        if xy in seen:
            raise invalid_subsetting(f"axis '{subset.axis[:20]}' is subset twice")
        seen.add(xy)
        lo, hi = _bound(subset.low, low[xy], subset.axis), _bound(subset.high, high[xy], subset.axis)
        if lo > hi:
            raise invalid_subsetting(f"the low bound of '{subset.axis[:20]}' is above its high bound")
        low[xy], high[xy] = lo, hi
    return BBox(low[0], low[1], high[0], high[1], crs.internal)


def _positive(text: str, locator: str, code: str) -> float:
    try:
        value = number(text, locator, code)
    except OwsError:
        value = 0.0
    if value <= 0:
        raise OwsError(code, f"{locator} must be a positive number", locator, status=404)
    return value


def _whole(text: str, locator: str, code: str, minimum: int = 1) -> int:
    value = whole_number(text)
    if value is None or value < minimum:
        raise OwsError(code, f"{locator} needs whole numbers of at least {minimum}", locator, status=404)
    return value


def _scale_axis(label: str, crs: RequestCrs) -> int:
    """x (0) or y (1) for a grid axis (i, j) or an axis label of the output CRS."""
    xy = GRID_AXES.get(label.strip().lower())
    if xy is not None:
        return xy
    try:
        return axis_named(crs.code, label).xy
    except OwsError:
        message = f"'{label[:30]}' is not an axis of the output"
        raise OwsError("ScaleAxisUndefined", message, "SCALEAXES", status=404) from None


def _scaling(scaling: Scaling | None, crs: RequestCrs) -> tuple[tuple[float, float], tuple[int | None, int | None]]:
    """Scale factors and target sizes per axis (x, y)."""
    scale: list[float] = [1.0, 1.0]
    size: list[int | None] = [None, None]
    if scaling is None:
        return (1.0, 1.0), (None, None)
    if scaling.kind == "factor":
        value = _positive(scaling.items[0][1], "SCALEFACTOR", "InvalidScaleFactor")
        return (value, value), (None, None)
    for item in scaling.items:
        xy = _scale_axis(item[0], crs)
        if scaling.kind == "axes":
            scale[xy] = _positive(item[1], "SCALEAXES", "InvalidScaleFactor")
        elif scaling.kind == "size":
            size[xy] = _whole(item[1], "SCALESIZE", "InvalidScaleFactor")
        else:
            if len(item) != 3:
                raise OwsError("InvalidExtent", "SCALEEXTENT must read axis(low:high)", "SCALEEXTENT", status=404)
            low = _whole(item[1], "SCALEEXTENT", "InvalidExtent", 0)
            high = _whole(item[2], "SCALEEXTENT", "InvalidExtent", 0)
            if high < low:
                raise OwsError("InvalidExtent", "a target extent's high is below its low", "SCALEEXTENT", status=404)
            size[xy] = high - low + 1
    return (scale[0], scale[1]), (size[0], size[1])


def _bands(request: Request20, layer: Layer) -> tuple[int, ...] | None:
    if request.range_subset is None:
        return None
    bands: list[int] = []
    names = field_names(layer)
    for start, end in request.range_subset:
        first = band_index(layer, start, "RANGESUBSET", "NoSuchField", 404)
        last = band_index(layer, end, "RANGESUBSET", "NoSuchField", 404) if end is not None else first
        if last < first:
            raise OwsError("IllegalFieldSequence", f"'{names[first - 1]}' comes after '{names[last - 1]}'",
                           "RANGESUBSET", status=404)
        bands += range(first, last + 1)
    return tuple(bands)


def _interpolation(request: Request20) -> Resampling:
    """The global method, or one per axis: GDAL warps both axes alike, so they must agree."""
    methods = {m.strip().lower() for _, m in request.interpolation_per_axis}
    if request.interpolation:
        methods.add(request.interpolation.strip().lower())
    resolved = {interpolation(m, "INTERPOLATION", "InterpolationMethodNotSupported", 404) for m in methods}
    if len(resolved) > 1:
        raise OwsError("InterpolationMethodNotSupported", "one interpolation method for every axis is supported",
                       "INTERPOLATION", status=404)
    return resolved.pop() if resolved else Resampling.NEAREST


def _time_subset(request: Request20) -> tuple[Request20, ItemQuery]:
    """Split a time subset (trim or slice on a time axis) off the spatial ones: it selects the
    mosaic items acquired then, as TIME does for maps."""
    times = [s for s in request.subsets if s.axis.strip().lower() in TIME_AXES]
    if not times:
        return request, request.items
    if len(times) > 1:
        raise invalid_subsetting("the time axis is subset twice")
    subset = times[0]
    low, high = (v.strip().strip('"') if v else ".." for v in (subset.low, subset.high))
    text = low if subset.slice else f"{low}/{high}"
    try:
        when = parse_time(text, "SUBSET")
    except InvalidValue as exc:
        raise invalid_subsetting(exc.message) from None
    spatial = tuple(s for s in request.subsets if s is not subset)
    return replace(request, subsets=spatial), replace(request.items, time=when, nearest_time=False)


def dimension_axis(layer: Layer, label: str) -> str | None:
    """The layer dimension an axis label names: its own name (case-blind), or for time the
    usual time labels."""
    name = label.strip().lower()
    names = {d.name for d in layer.info.dimensions}
    if name in names:
        return name
    return "time" if name in TIME_AXES and "time" in names else None


def _dimension_subsets(request: Request20, layer: Layer) -> tuple[Request20, ItemQuery]:
    """Split the subsets of the layer's dimensions (time, elevation, ...) off the spatial ones: a
    slice takes one step, a trim every step within it (one band each)."""
    asked: dict[str, str] = {}
    for subset in request.subsets:
        name = dimension_axis(layer, subset.axis)
        if name is None:
            continue
        if name in asked:
            raise invalid_subsetting(f"the axis '{subset.axis[:20]}' is subset twice")
        low, high = (v.strip().strip('"') if v else ".." for v in (subset.low, subset.high))
        asked[name] = low if subset.slice else f"{low}/{high}"
    spatial = tuple(s for s in request.subsets if dimension_axis(layer, s.axis) is None)
    return replace(request, subsets=spatial), replace(request.items, dimensions=tuple(asked.items()))


def build(request: Request20, layer: Layer, service: str | None) -> GetCoverage:
    native_code = wcs_code(layer)
    if native_code is None:
        raise OwsError("NoSuchCoverage", f"coverage '{layer.info.name}' is not offered", "COVERAGEID", status=404)
    if layer.info.dimensions:
        request, items = _dimension_subsets(request, layer)
    else:
        request, items = _time_subset(request)
    native = RequestCrs(native_code, native_code, crs_axes(native_code)[0].xy == 1)
    in_subsets = {s.crs for s in request.subsets if s.crs}
    if len(in_subsets) > 1:
        raise invalid_subsetting("all subsets must use one CRS")
    subsetting = _crs(request.subsetting_crs or next(iter(in_subsets), None), native,
                      "SubsettingCrs-NotSupported", "SUBSETTINGCRS")
    output = _crs(request.output_crs, subsetting, "OutputCrs-NotSupported", "OUTPUTCRS")
    if request.media_type and request.media_type.strip().lower() != "image/tiff":
        raise OwsError("InvalidParameterValue", "the coverage comes encoded alone; multipart/related is not offered",
                       "MEDIATYPE")
    scale, size = _scaling(request.scaling, output)
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
        items=items,
        processing=request.processing,
        rendering=request.rendering,
    )
    return GetCoverage("2.0.1", query)
