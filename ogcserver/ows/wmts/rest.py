"""The RESTful WMTS and XYZ tile grammar, written once.

The web routes are declared from these templates and the cache-hit short path matches request
paths against them, so both read a path the same way and turn it into the same query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ogcserver.core.query import DEFAULT_SCALE, EVERY_ITEM, ColourScale, ItemQuery, TileQuery
from ogcserver.ows.colour_scale import PARAMETERS as SCALE_PARAMETERS
from ogcserver.ows.colour_scale import parse_colour_scale
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.items import is_item_parameter, parse_item_query
from ogcserver.ows.kvp import Params
from ogcserver.ows.wmts import parse

WMTS = "/wmts/1.0.0/{layer}/{style}"
SCOPED = "/services/{service}" + WMTS
TILE = "/{tms}/{z}/{row}/{col}"
TILES = (  # the first two are the most asked for: the short path tries them first
    "/tiles/{layer}/{tms}/{z}/{col}/{row}.{ext}",
    WMTS + TILE + ".{ext}",
    SCOPED + TILE + ".{ext}",
    WMTS + "/{time}" + TILE + ".{ext}",
    SCOPED + "/{time}" + TILE + ".{ext}",
)
FEATURE_INFO = (
    WMTS + TILE + "/{j}/{i}.{ext}",
    SCOPED + TILE + "/{j}/{i}.{ext}",
    WMTS + "/{time}" + TILE + "/{j}/{i}.{ext}",
    SCOPED + "/{time}" + TILE + "/{j}/{i}.{ext}",
)
FOOTPRINTS = ("/tiles/{layer}/{tms}/{z}/{col}/{row}.mvt", "/tiles/{layer}/{tms}/{z}/{col}/{row}.pbf")
FIELD = re.compile(r"\{(\w+)\}")


def _pattern(template: str) -> re.Pattern[str]:
    """A template as a regular expression: each field one path segment, or the part of it before
    a dot (no backtracking: the short path matches every request)."""
    pieces = re.split(r"(\{\w+\})", template)
    return re.compile("^" + "".join(
        (f"(?P<{piece[1:-1]}>[^/.]+)" if after.startswith(".") else f"(?P<{piece[1:-1]}>[^/]+)")
        if FIELD.fullmatch(piece) else re.escape(piece)
        for piece, after in zip(pieces, [*pieces[1:], ""])
    ) + "$")


TILE_PATTERNS = tuple(_pattern(t) for t in TILES)


def match_tile(path: str) -> dict[str, str] | None:
    """The fields of a tile path, or None if it names no tile resource."""
    for pattern in TILE_PATTERNS:
        found = pattern.match(path)
        if found is not None:
            return found.groupdict()
    return None


def tile_query(fields: Mapping[str, str], items: ItemQuery = EVERY_ITEM, ext: str | None = None,
               scale: ColourScale = DEFAULT_SCALE) -> TileQuery:
    """The tile a path's fields name; raises OwsError for a field that is not valid."""
    return parse.tile_query(
        fields["layer"], fields.get("style", ""), fields["tms"], fields["z"], fields["row"], fields["col"],
        parse.tile_format(ext or fields["ext"]), fields.get("service"), items, scale,
    )


def feature_info_request(fields: Mapping[str, str], items: ItemQuery = EVERY_ITEM) -> parse.FeatureInfoRequest:
    """A RESTful GetFeatureInfo: the tile, the pixel in it, and the format from the extension."""
    tile = tile_query(fields, items, ext="png")
    info = parse.INFO_FORMATS.get(fields["ext"].lower())
    if info is None:
        raise OwsError("InvalidParameterValue", "unknown feature info format", "INFOFORMAT")
    i, j = parse.non_negative_index(fields["i"], "I"), parse.non_negative_index(fields["j"], "J")
    return parse.FeatureInfoRequest(tile, i, j, info)


def request_scale(pairs: Iterable[tuple[str, str]]) -> ColourScale:
    """A colour scale from a REST request's query string (COLORSCALERANGE, LOGSCALE, ...)."""
    pairs = [(k, v) for k, v in pairs if k.upper() in SCALE_PARAMETERS]
    return parse_colour_scale(Params(pairs)) if pairs else DEFAULT_SCALE


def request_items(pairs: Iterable[tuple[str, str]], time: str | None = None) -> ItemQuery:
    """FILTER, TIME, ELEVATION, DIM_<NAME> and mosaic rule from a REST request's query string;
    TIME also from its path, where "default" and "current" (the dimension's default value) ask
    for no time."""
    pairs = [(k, v) for k, v in pairs if is_item_parameter(k)]
    if time is not None and time.lower() not in ("", "default", "current"):
        pairs = [(k, v) for k, v in pairs if k.upper() != "TIME"] + [("TIME", time)]
    return parse_item_query(Params(pairs)) if pairs else EVERY_ITEM  # most tiles: nothing to parse
