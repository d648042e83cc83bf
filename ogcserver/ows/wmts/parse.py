"""Parse WMTS 1.0.0 KVP and RESTful requests into tile and point queries."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ogcserver.core.colour_scale import scalar_ramp
from ogcserver.core.query import DEFAULT_SCALE, EVERY_ITEM, ColourScale, ItemQuery, TileQuery
from ogcserver.model.formats import ImageFormat
from ogcserver.ows.colour_scale import parse_colour_scale, scalar_style
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.items import parse_item_query
from ogcserver.ows.kvp import Params, whole_number

TILE_FORMATS = {
    "image/png": ImageFormat.PNG, "png": ImageFormat.PNG,
    "image/jpeg": ImageFormat.JPEG, "jpeg": ImageFormat.JPEG, "jpg": ImageFormat.JPEG, "image/jpg": ImageFormat.JPEG,
}
ADVERTISED_TILE_FORMATS = ("image/png", "image/jpeg")
INFO_FORMATS = {"application/json": "application/json", "json": "application/json", "text/plain": "text/plain",
                "txt": "text/plain", "text/html": "text/html", "html": "text/html", "text/xml": "text/xml",
                "xml": "text/xml"}
NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class FeatureInfoRequest:
    tile: TileQuery
    i: int
    j: int
    info_format: str


def _name(value: str, parameter: str) -> str:
    if not NAME.match(value):
        raise OwsError("InvalidParameterValue", f"{parameter} is not a valid identifier", parameter)
    return value


def non_negative_index(value: str, parameter: str) -> int:
    index = whole_number(value)
    if index is None or not value.strip().isdigit():  # no sign
        raise OwsError("InvalidParameterValue", f"{parameter} must be a non-negative integer", parameter)
    return index


def tile_format(value: str) -> ImageFormat:
    fmt = TILE_FORMATS.get(value.strip().lower())
    if fmt is None:
        raise OwsError("InvalidParameterValue", f"format '{value[:40]}' is not offered for tiles", "FORMAT")
    return fmt


def tile_query(layer: str, style: str, tms: str, z: str, row: str, col: str, fmt: ImageFormat,
               service: str | None, items: ItemQuery = EVERY_ITEM, scale: ColourScale = DEFAULT_SCALE) -> TileQuery:
    """The tile asked for; the style "default" (or none) is the layer's default style, and a
    colour scale's style (``default-scalar.<ramp>``, or ncWMS's ``default-scalar/<ramp>`` in KVP)
    is taken as it is."""
    style = scalar_style(style)
    if style in ("", "default"):
        style = ""
    elif scalar_ramp(style) is None:
        style = _name(style, "STYLE")
    return TileQuery(
        layer=_name(layer, "LAYER"), tms=_name(tms, "TILEMATRIXSET"), z=non_negative_index(z, "TILEMATRIX"),
        x=non_negative_index(col, "TILECOL"), y=non_negative_index(row, "TILEROW"), format=fmt, style=style,
        service=service, items=items, scale=scale,
    )


def parse_kvp_tile(params: Params, service: str | None) -> TileQuery:
    _check_version(params)
    return tile_query(
        params.require("LAYER"), params.get("STYLE") or "", params.require("TILEMATRIXSET"),
        params.require("TILEMATRIX"), params.require("TILEROW"), params.require("TILECOL"),
        tile_format(params.require("FORMAT")), service, parse_item_query(params), parse_colour_scale(params),
    )


def parse_kvp_feature_info(params: Params, service: str | None) -> FeatureInfoRequest:
    tile = parse_kvp_tile(params, service)
    info = INFO_FORMATS.get(params.require("INFOFORMAT").strip().lower())
    if info is None:
        raise OwsError("InvalidParameterValue", "INFOFORMAT is not offered", "INFOFORMAT")
    i, j = non_negative_index(params.require("I"), "I"), non_negative_index(params.require("J"), "J")
    return FeatureInfoRequest(tile, i, j, info)


def _check_version(params: Params) -> None:
    version = params.get("VERSION")
    if version not in (None, "", "1.0.0"):
        raise OwsError("VersionNegotiationFailed", "WMTS 1.0.0 is the only version offered", "VERSION")
