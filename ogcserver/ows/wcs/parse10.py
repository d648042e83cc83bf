"""WCS 1.0.0 GetCoverage (KVP): BBOX edges in x/y order, WIDTH/HEIGHT or RESX/RESY, BANDS."""

from __future__ import annotations

from ogcserver.core.catalog import Layer
from ogcserver.core.query import CoverageQuery
from ogcserver.model.geo import BBox
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.items import parse_item_query, parse_rendering_rule
from ogcserver.ows.kvp import Params
from ogcserver.ows.wcs.axes import request_crs
from ogcserver.ows.wcs.common import band_index, coverage_format, integer, interpolation, number
from ogcserver.ows.wcs.common import processing as _processing
from ogcserver.ows.wcs.models import GetCoverage


def _bbox(params: Params, crs: str) -> BBox:
    parts = params.require("BBOX").split(",")
    if len(parts) not in (4, 6):
        raise OwsError("InvalidParameterValue", "BBOX must be minx,miny,maxx,maxy", "BBOX")
    minx, miny, maxx, maxy = (number(p, "BBOX") for p in parts[:4])
    if not (minx < maxx and miny < maxy):
        raise OwsError("InvalidParameterValue", "BBOX minimum values must be less than the maximum values", "BBOX")
    return BBox(minx, miny, maxx, maxy, crs)


def _grid(params: Params) -> tuple[tuple[int | None, int | None], tuple[float | None, float | None]]:
    """WIDTH and HEIGHT, or RESX and RESY (one pair, complete)."""
    sizes = "WIDTH" in params or "HEIGHT" in params
    resolutions = "RESX" in params or "RESY" in params
    if sizes and resolutions:
        raise OwsError("InvalidParameterValue", "give WIDTH/HEIGHT or RESX/RESY, not both", "WIDTH")
    if sizes:
        return (integer(params.require("WIDTH"), "WIDTH"), integer(params.require("HEIGHT"), "HEIGHT")), (None, None)
    if resolutions:
        resx, resy = number(params.require("RESX"), "RESX"), number(params.require("RESY"), "RESY")
        if resx <= 0 or resy <= 0:
            raise OwsError("InvalidParameterValue", "RESX and RESY must be positive", "RESX")
        return (None, None), (resx, resy)
    raise OwsError("MissingParameterValue", "give WIDTH and HEIGHT, or RESX and RESY", "WIDTH")


def _bands(params: Params, layer: Layer) -> tuple[int, ...] | None:
    raw = params.get("BANDS") if "BANDS" in params else params.get("BAND")
    if raw is None or not raw.strip():
        return None
    bands: list[int] = []
    for token in raw.split(","):
        if "/" in token:  # an interval min/max, as 1.0.0 writes them
            low, high = (band_index(layer, t, "BANDS") for t in token.split("/", 1))
            bands += range(low, high + 1)
        else:
            bands.append(band_index(layer, token, "BANDS"))
    return tuple(bands)


def parse_getcoverage(params: Params, layer: Layer, service: str | None) -> GetCoverage:
    crs = request_crs(params.require("CRS"), "CRS")
    response = request_crs(params.get("RESPONSE_CRS") or params.require("CRS"), "RESPONSE_CRS")
    if (params.get("EXCEPTIONS") or "application/vnd.ogc.se_xml").strip() != "application/vnd.ogc.se_xml":
        raise OwsError("InvalidParameterValue", "EXCEPTIONS must be application/vnd.ogc.se_xml", "EXCEPTIONS")
    size, resolution = _grid(params)
    query = CoverageQuery(
        coverage=layer.info.name,
        format=coverage_format(params.require("FORMAT"), "FORMAT"),
        area=_bbox(params, crs.internal),
        crs=response.internal,
        size=size,
        resolution=resolution,
        bands=_bands(params, layer),
        resampling=interpolation(params.get("INTERPOLATION"), "INTERPOLATION", "InvalidParameterValue"),
        service=service,
        items=parse_item_query(params),
        processing=_processing(params),
        rendering=parse_rendering_rule(params.get("RENDERINGRULE")),
    )
    return GetCoverage("1.0.0", query)
