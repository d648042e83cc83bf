"""What the web map viewer needs to know of the caller's layers, as one JSON document.

It says no more than the WMS capabilities, TileJSON and the catalog tell the same caller (the
layers they may discover, their styles with legends, their dimensions) plus what the caller may
do with each (query values, list items, download originals), so the page never offers a link
that would answer 401 or 403.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from ogcserver.core.catalog import Layer
from ogcserver.core.engine import Engine
from ogcserver.model.access import Action
from ogcserver.model.catalog import LayerInfo
from ogcserver.model.geo import normalized_lonlat
from ogcserver.ows.capabilities import dimension_views
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.response import OwsResponse

MERCATOR_LIMIT = 85.0511  # Web Mercator's latitude limit: a layer past it is viewed in EPSG:4326


def dimensions(info: LayerInfo) -> list[dict[str, Any]]:
    """The layer's dimensions in one shape for every kind (a mosaic's item times, a
    multidimensional source's time, elevation and other axes, as capabilities list them): name,
    the WMS parameter that selects a value, the values (or start, end and period), units and the
    default (what a map without the parameter shows)."""
    found = []
    for view in dimension_views(info):
        entry: dict[str, Any] = {"name": view.name, "parameter": view.identifier.upper(), "units": view.units,
                                 "default": view.default}
        if view.listed:
            entry["values"] = list(view.listed)
        else:
            start, _, end = view.default.partition("/")
            entry.update(start=start, end=end, period=None)
        found.append(entry)
    return found


def view_crs(info: LayerInfo) -> str:
    """The viewer's map CRS: Web Mercator, unless the layer reaches past its latitude limit (a
    polar or global layer), which is then shown whole in plate carree."""
    b = info.lonlat_bounds
    return "EPSG:4326" if b.miny < -MERCATOR_LIMIT or b.maxy > MERCATOR_LIMIT else "EPSG:3857"


def _legend(endpoint: Endpoint, info: LayerInfo, style: str) -> str:
    return f"{endpoint.base_url}/wms?" + urlencode({
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic", "LAYER": info.name,
        "FORMAT": "image/png", "STYLE": style})


def layer_entry(engine: Engine, layer: Layer, endpoint: Endpoint) -> dict[str, Any]:
    info = layer.info
    b = normalized_lonlat(info.lonlat_bounds)  # across 180: the east edge past it, so maps centre on the data
    queryable = engine.permits(endpoint.principal, info, Action.QUERY)
    base = endpoint.base_url
    return {
        "name": info.name,
        "title": info.title,
        "abstract": info.abstract,
        "bounds": [b.minx, b.miny, b.maxx, b.maxy],
        "crs": view_crs(info),
        "wms": f"{base}/wms",
        "styles": [{"name": s.name, "title": s.title or s.name, "legend": _legend(endpoint, info, s.name)}
                   for s in info.styles],
        "default_style": info.default_style,
        "dimensions": dimensions(info),
        "queryable": queryable,
        "items": f"{base}/catalog/{quote(info.name)}/items" if info.is_mosaic and queryable else None,
    }


def viewer_document(engine: Engine, endpoint: Endpoint, parallel: int) -> OwsResponse:
    """The caller's layers (a hidden one is never listed), in the order capabilities list them,
    and how many requests the page may run at once (the server refuses a caller more)."""
    layers = engine.layers(endpoint.service, endpoint.principal)
    document = {"parallel": parallel, "layers": [layer_entry(engine, layer, endpoint) for layer in layers]}
    return OwsResponse(json.dumps(document, separators=(",", ":")).encode(), "application/json")
