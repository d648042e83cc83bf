"""WMS: dispatch one KVP request to the core and answer in the version's own formats."""

from __future__ import annotations

from dataclasses import replace

from ogcserver.core.engine import Engine
from ogcserver.model.errors import OgcServerError
from ogcserver.model.formats import ImageFormat
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.exception_format import exception_format
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.featureinfo import format_feature_info
from ogcserver.ows.kml.service import KmlService
from ogcserver.ows.kvp import Params
from ogcserver.ows.response import OwsResponse, with_skipped
from ogcserver.ows.wms import parse
from ogcserver.ows.wms.capabilities import capabilities_document
from ogcserver.ows.wms.models import GetMap
from ogcserver.settings import Settings


class WmsService:
    def __init__(self, engine: Engine, settings: Settings, kml: KmlService) -> None:
        self.engine = engine
        self.settings = settings
        self.kml = kml

    def handle(self, params: Params, endpoint: Endpoint) -> OwsResponse:
        # capabilities negotiate; the other operations take the version given (or implied by SRS/CRS).
        # Until that is known, an error is reported in the negotiated version.
        version = parse.negotiate_version(params.get("VERSION") or params.get("WMTVER"))
        getmap: GetMap | None = None
        try:
            name = parse.request_name(params)
            if name == "GetCapabilities":
                return self.capabilities(version, params, endpoint)
            version = parse.operation_version(params)
            if name == "GetMap":
                getmap = parse.parse_getmap(params, version, endpoint.service)
                query = replace(getmap.query, principal=endpoint.principal)
                if getmap.kml:
                    return self.kml.wms_overlay(query, getmap.kml == "kmz", endpoint, params.as_dict())
                image = self.engine.render_map(query)
                return with_skipped(OwsResponse(image.body, image.content_type), image.skipped)
            if name == "GetFeatureInfo":
                request = parse.parse_getfeatureinfo(params, version, endpoint.service)
                results = self.engine.feature_info(replace(request.query, principal=endpoint.principal))
                body, content_type = format_feature_info(results, request.info_format)
                return OwsResponse(body, content_type)
            legend = parse.parse_getlegendgraphic(params, version, endpoint.service)
            fmt = parse.MAP_FORMATS[legend.format]
            image = self.engine.legend(replace(legend.query, principal=endpoint.principal), fmt)
            return OwsResponse(image.body, image.content_type)
        except (OgcServerError, OwsError) as exc:
            return self.error(exc, version, params, getmap)

    def capabilities(self, version: str, params: Params, endpoint: Endpoint) -> OwsResponse:
        layers = self.engine.layers(endpoint.service, endpoint.principal)
        limits = self.engine.limits(endpoint.service)
        body = capabilities_document(version, layers, self.settings, limits, endpoint)
        content_type = "text/xml" if version == "1.3.0" else "application/vnd.ogc.wms_xml"
        if (params.get("FORMAT") or "").strip().lower() == "text/xml":
            content_type = "text/xml"
        return OwsResponse(body, content_type)

    def error(self, exc: OwsError | OgcServerError, version: str, params: Params, getmap: GetMap | None) -> OwsResponse:
        """The exception in the format the request asked for (XML, INIMAGE or BLANK)."""
        answer = exception_format("WMS", version)
        mode = getmap.exceptions.kind if getmap is not None else parse.exceptions_mode(params).kind
        if mode in ("inimage", "blank"):
            picture = self._error_image(answer.error(exc), mode, params, getmap)
            if picture is not None:
                return picture
        return answer.response(exc)

    def _error_image(
        self, error: OwsError, mode: str, params: Params, getmap: GetMap | None
    ) -> OwsResponse | None:
        """INIMAGE/BLANK need a size and format; without them the XML report answers."""
        try:
            width = params.int("WIDTH", minimum=1)
            height = params.int("HEIGHT", minimum=1)
            self.engine.check_size(width, height, None)
            fmt = parse.MAP_FORMATS.get((params.get("FORMAT") or "").strip().lower(), ImageFormat.PNG)
            transparent = params.boolean("TRANSPARENT")
        except (OwsError, OgcServerError):
            return None
        text = error.message if mode == "inimage" else ""
        image = self.engine.message_image(width, height, text, fmt, transparent)
        return OwsResponse(image.body, image.content_type)
