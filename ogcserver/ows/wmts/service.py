"""WMTS 1.0.0 (KVP and RESTful) and XYZ tiles: parse, ask the core, answer with cache metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ogcserver.core import tiling
from ogcserver.core.engine import Engine
from ogcserver.core.query import PointQuery, TileQuery
from ogcserver.core.tilecache import TileResult, TileService
from ogcserver.model.access import Action
from ogcserver.model.errors import OgcServerError
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.error_table import ExceptionFormat
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.featureinfo import format_feature_info
from ogcserver.ows.kvp import Params
from ogcserver.ows.response import Freshness, OwsResponse
from ogcserver.ows.wmts import parse, rest
from ogcserver.ows.wmts.capabilities import capabilities_document
from ogcserver.ows.wmts.errors import WMTS_FORMAT, XYZ_FORMAT
from ogcserver.ows.wmts.tilejson import tilejson
from ogcserver.settings import Settings


def tile_response(result: TileResult, max_age: int) -> OwsResponse:
    """A tile with its cache metadata: the one answer of the full and the short path."""
    freshness = Freshness(result.etag, result.modified, max_age) if result.etag else None
    headers = {"X-Cache": "HIT" if result.cached else "MISS"}  # empty tiles are never stored: MISS
    return OwsResponse(result.body, result.content_type, headers=headers, freshness=freshness)


class WmtsService:
    def __init__(self, engine: Engine, tiles: TileService, settings: Settings) -> None:
        self.engine = engine
        self.tiles = tiles
        self.settings = settings

    def handle(self, params: Params, endpoint: Endpoint) -> OwsResponse:
        """KVP requests."""
        try:
            request = params.require("REQUEST").strip().lower()
            if request == "getcapabilities":
                return self.capabilities(endpoint)
            if request == "gettile":
                return self.tile(parse.parse_kvp_tile(params, endpoint.service), endpoint)
            if request == "getfeatureinfo":
                return self.feature_info(parse.parse_kvp_feature_info(params, endpoint.service), endpoint)
            raise OwsError("OperationNotSupported", f"WMTS has no operation '{request[:40]}'", "REQUEST")
        except (OgcServerError, OwsError) as exc:  # e.g. a bad TIME or FILTER
            return WMTS_FORMAT.response(exc)

    def capabilities(self, endpoint: Endpoint) -> OwsResponse:
        layers = self.engine.layers(endpoint.service, endpoint.principal)
        rest = endpoint.url.rstrip("/").removesuffix("/1.0.0") + "/1.0.0"
        body = capabilities_document(layers, self.settings, endpoint, rest)
        return OwsResponse(body, "text/xml")

    def tile(self, query: TileQuery, endpoint: Endpoint, answer: ExceptionFormat = WMTS_FORMAT) -> OwsResponse:
        """A tile; ``answer`` words errors for the resource asked for (WMTS, or an XYZ path)."""
        try:
            result = self.tiles.tile(replace(query, principal=endpoint.principal))
        except OgcServerError as exc:
            return answer.response(exc)
        return tile_response(result, self.tiles.config.max_age)

    def cached_tile(self, fields: Mapping[str, str]) -> OwsResponse | None:
        """The answer to an anonymous tile path if the cache has the tile; else None, and the full
        path answers (a miss, or any error worded there)."""
        try:
            result = self.tiles.cached(rest.tile_query(fields, rest.request_items((), fields.get("time"))))
        except (OwsError, OgcServerError):
            return None
        return tile_response(result, self.tiles.config.max_age) if result is not None else None

    def tilejson(self, name: str, tms: str, ext: str, endpoint: Endpoint) -> OwsResponse:
        found = next((lr for lr in self.engine.layers(None, endpoint.principal) if lr.info.name == name), None)
        if found is None:
            return XYZ_FORMAT.response(OwsError("InvalidParameterValue", f"Layer '{name[:64]}' is not defined", "layer",
                                                status=404))
        try:
            body = tilejson(found, tms, endpoint.base_url + "/tiles", ext)
        except OgcServerError as exc:
            return XYZ_FORMAT.response(exc)
        return OwsResponse(body, "application/json")

    def footprints(self, query: TileQuery, endpoint: Endpoint) -> OwsResponse:
        """Items' footprints as a vector tile, an XYZ resource."""
        try:
            body = self.tiles.footprints(replace(query, principal=endpoint.principal))
        except OgcServerError as exc:
            return XYZ_FORMAT.response(exc)
        return OwsResponse(body, "application/vnd.mapbox-vector-tile")

    def feature_info(self, request: parse.FeatureInfoRequest, endpoint: Endpoint) -> OwsResponse:
        q = request.tile
        try:
            layer = self.engine.visible_layer(q.layer, q.service, endpoint.principal, Action.QUERY, "feature_info")
            tms = tiling.for_layer(layer.info, q.tms)
            tms.check(q.z, q.x, q.y)
            grid = tms.grid(q.z, q.x, q.y, q.x, q.y)
            if not (request.i < grid.width and request.j < grid.height):
                raise OwsError("PointIJOutOfRange", "I/J is outside the tile", "I")
            point = PointQuery((q.layer,), grid, request.i, request.j, 1, q.service, endpoint.principal, q.items)
            body, content_type = format_feature_info(self.engine.feature_info(point), request.info_format)
        except (OgcServerError, OwsError) as exc:
            return WMTS_FORMAT.response(exc)
        return OwsResponse(body, content_type)
