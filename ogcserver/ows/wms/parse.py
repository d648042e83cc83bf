"""Parse WMS 1.1.1 and 1.3.0 KVP requests into typed requests.

Version differences are settled here: SRS vs CRS, X/Y vs I/J, and the EPSG axis order that
1.3.0 applies to BBOX (EPSG:4326 is lat,lon), so the core only sees x/y boxes.
"""

from __future__ import annotations

import math
import re

from ogcserver.core.colour_scale import scalar_style_name
from ogcserver.core.functions.over_dimensions import STATISTICS, OverDimensions
from ogcserver.core.query import ItemQuery, LayerRef, LegendQuery, MapQuery, PointQuery
from ogcserver.model.errors import InvalidValue
from ogcserver.model.formats import ImageFormat, Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid
from ogcserver.ows.colour_scale import parse_colour_scale, scalar_style
from ogcserver.ows.crs import RequestCrs, parse_crs
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.items import parse_item_query, parse_rendering_rule
from ogcserver.ows.kvp import Params
from ogcserver.ows.wms.models import (
    VERSIONS,
    ExceptionsMode,
    GetFeatureInfo,
    GetLegendGraphic,
    GetMap,
)

MAP_FORMATS = {
    "image/png": ImageFormat.PNG,
    "png": ImageFormat.PNG,
    "image/png; mode=24bit": ImageFormat.PNG,
    "image/png; mode=32bit": ImageFormat.PNG,
    "image/png; mode=8bit": ImageFormat.PNG8,
    "image/png8": ImageFormat.PNG8,
    "png8": ImageFormat.PNG8,
    "image/jpeg": ImageFormat.JPEG,
    "image/jpg": ImageFormat.JPEG,
    "jpeg": ImageFormat.JPEG,
    "image/tiff": ImageFormat.GEOTIFF,
    "image/geotiff": ImageFormat.GEOTIFF,
    "image/tiff; application=geotiff": ImageFormat.GEOTIFF,
}
KML_FORMATS = {
    "application/vnd.google-earth.kml+xml": "kml", "application/vnd.google-earth.kml xml": "kml", "kml": "kml",
    "application/vnd.google-earth.kmz": "kmz", "kmz": "kmz",
}
ADVERTISED_MAP_FORMATS = ("image/png", "image/png; mode=8bit", "image/jpeg", "image/tiff",
                          "application/vnd.google-earth.kml+xml", "application/vnd.google-earth.kmz")
INFO_FORMATS = ("text/plain", "application/json", "text/xml", "text/html", "text/csv")
EXCEPTION_FORMATS = {
    "xml": "xml", "application/vnd.ogc.se_xml": "xml", "text/xml": "xml",
    "inimage": "inimage", "application/vnd.ogc.se_inimage": "inimage",
    "blank": "blank", "application/vnd.ogc.se_blank": "blank",
}
REQUEST_NAMES = {
    "getcapabilities": "GetCapabilities", "capabilities": "GetCapabilities",
    "getmap": "GetMap", "map": "GetMap",
    "getfeatureinfo": "GetFeatureInfo", "feature_info": "GetFeatureInfo",
    "getlegendgraphic": "GetLegendGraphic",
}
NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$", re.A)


def negotiate_version(requested: str | None) -> str:
    """WMS version negotiation (1.3.0 clause 6.2.4): the highest we have not above the request."""
    if not requested:
        return VERSIONS[-1]
    try:
        wanted = tuple(int(p) for p in requested.strip().split("."))
    except ValueError:
        return VERSIONS[-1]
    lower = [v for v in VERSIONS if tuple(int(p) for p in v.split(".")) <= wanted]
    return lower[-1] if lower else VERSIONS[0]


def request_name(params: Params) -> str:
    raw = params.require("REQUEST")
    name = REQUEST_NAMES.get(raw.strip().lower())
    if name is None:
        raise OwsError("OperationNotSupported", f"WMS has no operation '{raw[:40]}'", "REQUEST")
    return name


def operation_version(params: Params) -> str:
    """The version of a non-capabilities request: given, or guessed from SRS/CRS."""
    raw = params.get("VERSION") or params.get("WMTVER")
    if raw is None or raw.strip() == "":
        return "1.1.1" if "SRS" in params and "CRS" not in params else "1.3.0"
    value = raw.strip()
    if value not in VERSIONS:
        if value.startswith("1.1"):
            return "1.1.1"
        raise OwsError("InvalidParameterValue", f"VERSION {value[:20]} is not supported; use 1.1.1 or 1.3.0", "VERSION")
    return value


def exceptions_mode(params: Params) -> ExceptionsMode:
    raw = (params.get("EXCEPTIONS") or "xml").strip().lower()
    return ExceptionsMode(EXCEPTION_FORMATS.get(raw, "xml"))


def _number(text: str, name: str) -> float:
    if not NUMBER.match(text):
        raise OwsError("InvalidParameterValue", f"{name} values must be numbers", name)
    value = float(text)
    if not math.isfinite(value):
        raise OwsError("InvalidParameterValue", f"{name} values must be finite", name)
    return value


def _crs(params: Params, version: str) -> RequestCrs:
    key = "SRS" if version == "1.1.1" else "CRS"
    raw = params.get(key)
    if raw is None and version == "1.3.0":
        raw = params.get("SRS")  # lenient: some clients send SRS with 1.3.0
        key = "SRS" if raw is not None else key
    if raw is None or raw.strip() == "":
        raise OwsError("MissingParameterValue", f"parameter {key} is required", key)
    return parse_crs(raw)  # an unknown CRS: the version's own code, from its table


def parse_bbox(params: Params, crs: RequestCrs, version: str) -> BBox:
    raw = params.require("BBOX")
    parts = raw.split(",")
    if len(parts) != 4:
        raise OwsError("InvalidParameterValue", "BBOX must be four comma-separated numbers", "BBOX")
    a, b, c, d = (_number(p, "BBOX") for p in parts)
    if version == "1.3.0" and crs.yx:
        a, b, c, d = b, a, d, c  # EPSG order lat,lon -> x,y
    if not (a < c and b < d):
        raise OwsError("InvalidParameterValue", "BBOX minimum values must be less than the maximum values", "BBOX")
    return BBox(a, b, c, d, crs.internal)


def _color(params: Params) -> tuple[int, int, int]:
    raw = (params.get("BGCOLOR") or "0xFFFFFF").strip()
    m = re.match(r"^(0x|#)?([0-9a-fA-F]{6})$", raw)
    if not m:
        raise OwsError("InvalidParameterValue", "BGCOLOR must be a hexadecimal colour like 0xFFFFFF", "BGCOLOR")
    value = int(m.group(2), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def _names(raw: str) -> list[str]:
    return [n.strip() for n in raw.split(",")] if raw.strip() else []


def _layers(params: Params) -> tuple[LayerRef, ...]:
    names = _names(params.require("LAYERS"))
    if any(n == "" for n in names) or not names:
        raise OwsError("LayerNotDefined", "LAYERS contains an empty layer name", "LAYERS")
    styles_raw = params.get("STYLES")
    if styles_raw is None:
        styles_raw = ""  # lenient: many clients omit STYLES
    styles = styles_raw.split(",") if styles_raw.strip() else [""] * len(names)
    if len(styles) != len(names):
        raise OwsError("StyleNotDefined", "STYLES must list one style per layer (or be empty)", "STYLES")
    return tuple(LayerRef(n, scalar_style(s.strip())) for n, s in zip(names, styles))


def _format(params: Params) -> ImageFormat:
    raw = params.require("FORMAT")
    if raw.strip().lower() in KML_FORMATS:
        return ImageFormat.PNG  # the overlay's image; GetMap.kml says which document wraps it
    fmt = MAP_FORMATS.get(raw.strip().lower().replace("%20", " "))
    if fmt is None:
        raise OwsError("InvalidFormat", f"FORMAT '{raw[:60]}' is not supported", "FORMAT")
    return fmt


def _resampling(params: Params) -> Resampling | None:
    raw = params.get("RESAMPLING")
    if raw is None or raw.strip() == "":
        return None
    try:
        return Resampling(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Resampling)
        raise OwsError("InvalidParameterValue", f"RESAMPLING must be one of {allowed}", "RESAMPLING") from None


def _grid(params: Params, version: str) -> Grid:
    crs = _crs(params, version)
    bbox = parse_bbox(params, crs, version)
    width = params.int("WIDTH", minimum=1)
    height = params.int("HEIGHT", minimum=1)
    return Grid.from_bbox(bbox, width, height)


def _items(params: Params) -> ItemQuery:
    """FILTER, TIME, ELEVATION, DIM_<NAME> and the mosaic rule; a malformed TIME is an
    InvalidDimensionValue."""
    try:
        return parse_item_query(params)
    except InvalidValue as exc:
        if exc.parameter == "TIME":
            raise OwsError("InvalidDimensionValue", exc.message, "TIME") from None
        raise


def _over(params: Params) -> OverDimensions | None:
    """AGGREGATE=mean|min|max|sum|std (a vendor parameter): that statistic of every step TIME,
    ELEVATION and DIM_<NAME> name, drawn in the layer's style."""
    text = (params.get("AGGREGATE") or "").strip().lower()
    if not text:
        return None
    if text not in STATISTICS:
        raise OwsError("InvalidParameterValue", f"AGGREGATE must be one of {', '.join(STATISTICS)}", "AGGREGATE")
    return OverDimensions(statistic=text)


def parse_getmap(params: Params, version: str, service: str | None) -> GetMap:
    mode = exceptions_mode(params)
    layers = _layers(params)
    fmt = _format(params)
    grid = _grid(params, version)
    query = MapQuery(
        items=_items(params),
        rendering=parse_rendering_rule(params.get("RENDERINGRULE")),
        over=_over(params),
        layers=layers,
        grid=grid,
        format=fmt,
        transparent=params.boolean("TRANSPARENT"),
        bgcolor=_color(params),
        resampling=_resampling(params),
        service=service,
        scale=parse_colour_scale(params),
    )
    return GetMap(version, query, mode, KML_FORMATS.get(params.require("FORMAT").strip().lower()))


def parse_getfeatureinfo(params: Params, version: str, service: str | None) -> GetFeatureInfo:
    mode = exceptions_mode(params)
    layers = _layers(params)
    names = [ref.layer for ref in layers]
    query_layers = _names(params.require("QUERY_LAYERS"))
    for name in query_layers:
        if name not in names:
            raise OwsError("LayerNotDefined", f"query layer '{name[:60]}' is not in LAYERS", "QUERY_LAYERS")
    grid = _grid(params, version)
    col_key, row_key = ("I", "J") if version == "1.3.0" else ("X", "Y")
    if version == "1.3.0" and "I" not in params and "X" in params:
        col_key, row_key = "X", "Y"
    try:
        col, row = params.int(col_key), params.int(row_key)
    except OwsError as exc:
        if exc.code == "MissingParameterValue":
            raise
        raise OwsError("InvalidPoint", f"{col_key}/{row_key} must be integer pixel positions", col_key) from None
    if not (0 <= col < grid.width and 0 <= row < grid.height):
        raise OwsError("InvalidPoint", f"{col_key}={col}, {row_key}={row} is outside the map", col_key)
    info_format = (params.get("INFO_FORMAT") or "text/plain").strip().lower()
    if info_format not in INFO_FORMATS:
        raise OwsError("InvalidFormat", f"INFO_FORMAT '{info_format[:60]}' is not supported", "INFO_FORMAT")
    count = params.int("FEATURE_COUNT", default=1, minimum=1)
    query = PointQuery(tuple(query_layers), grid, col, row, min(count, 50), service, items=_items(params))
    return GetFeatureInfo(version, query, info_format, mode)


def _legend_style(params: Params) -> str:
    """STYLE, or as ncWMS clients send it STYLES, or PALETTE=<ramp> for a colour scale's."""
    style = (params.get("STYLE") or params.get("STYLES") or "").strip()
    palette = (params.get("PALETTE") or "").strip()
    return scalar_style_name(palette) if palette and not style else scalar_style(style)


def parse_getlegendgraphic(params: Params, version: str, service: str | None) -> GetLegendGraphic:
    layer = params.get("LAYER") or params.get("LAYERS") or params.require("LAYER")
    fmt_raw = (params.get("FORMAT") or "image/png").strip().lower()
    if MAP_FORMATS.get(fmt_raw) not in (ImageFormat.PNG, ImageFormat.PNG8, ImageFormat.JPEG):
        raise OwsError("InvalidFormat", f"FORMAT '{fmt_raw[:60]}' is not supported for legends", "FORMAT")
    width = params.int("WIDTH", default=0, minimum=0) or None
    height = params.int("HEIGHT", default=0, minimum=0) or None
    query = LegendQuery(layer.strip(), _legend_style(params), width, height, service,
                        scale=parse_colour_scale(params), bar_only=params.boolean("COLORBARONLY"))
    return GetLegendGraphic(version, query, fmt_raw)
