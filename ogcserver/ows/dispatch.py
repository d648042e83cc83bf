"""Route an OGC request to its service by SERVICE, with the right exception when that fails."""

from __future__ import annotations

from ogcserver.model.errors import OgcServerError
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.exception_format import exception_format
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import Params
from ogcserver.ows.response import OwsResponse
from ogcserver.ows.wcs.service import WcsService
from ogcserver.ows.wms.service import WmsService
from ogcserver.ows.wmts.service import WmtsService
from ogcserver.ows.xml import parse_request_xml


class Dispatcher:
    def __init__(self, wms: WmsService, wmts: WmtsService, wcs: WcsService) -> None:
        self.services = {"WMS": wms, "WMTS": wmts, "WCS": wcs}
        self.wcs = wcs

    def handle(self, params: Params, endpoint: Endpoint, default_service: str | None) -> OwsResponse:
        name = (params.get("SERVICE") or default_service or "").strip().upper()
        if not name:
            return self.error(OwsError("MissingParameterValue", "parameter SERVICE is required", "SERVICE"), None)
        service = self.services.get(name)
        if service is None:
            return self.error(
                OwsError("InvalidParameterValue", f"SERVICE '{name[:20]}' is not offered here", "SERVICE"),
                default_service,
            )
        return service.handle(params, endpoint)

    def handle_xml(self, body: bytes, default_service: str | None, endpoint: Endpoint | None = None) -> OwsResponse:
        """XML POST bodies: parsed safely, then answered (WCS 2.0 takes them; the others do not)."""
        try:
            root = parse_request_xml(body)
        except OwsError as exc:
            return self.error(exc, default_service)
        if endpoint is not None and root.tag.startswith("{http://www.opengis.net/wcs/2.0}"):
            return self.wcs.handle_xml(root, endpoint)
        operation = root.tag.rsplit("}", 1)[-1]
        return self.error(
            OwsError("OperationNotSupported", f"XML-encoded {operation[:40]} requests are not supported; use KVP"),
            default_service,
        )

    @staticmethod
    def error(error: OwsError | OgcServerError, default_service: str | None) -> OwsResponse:
        """Before a service has parsed the request: in the endpoint's protocol, newest version."""
        return exception_format(default_service).response(error)
