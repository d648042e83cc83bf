"""WCS 1.0.0, 1.1.1 and 2.0.1: a KVP or XML request to the core, the answer in the version's formats."""

from __future__ import annotations

from dataclasses import replace

from lxml import etree

from ogcserver.core.catalog import Layer
from ogcserver.core.engine import Engine
from ogcserver.model.coverage import EncodedCoverage
from ogcserver.model.errors import LayerNotFound, OgcServerError
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.exception_format import exception_format
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import Params
from ogcserver.ows.response import OwsResponse, with_skipped
from ogcserver.ows.wcs import kvp20, parse10, parse11, query20, xml20
from ogcserver.ows.wcs.common import ALIASES, coverage_ids, negotiate, operation_version
from ogcserver.ows.wcs.documents import capabilities_document, describe_document
from ogcserver.ows.wcs.models import GetCoverage
from ogcserver.ows.wcs.multipart import multipart_response
from ogcserver.ows.wcs.views import wcs_code
from ogcserver.settings import Settings

REQUESTS = {"getcapabilities": "GetCapabilities", "describecoverage": "DescribeCoverage", "getcoverage": "GetCoverage"}
DESCRIBE_IDS = {"1.0.0": "COVERAGE", "1.1.1": "IDENTIFIERS", "2.0.1": "COVERAGEID"}
COVERAGE_ID = {"1.0.0": "COVERAGE", "1.1.1": "IDENTIFIER"}


class WcsService:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    # -- entry points ----------------------------------------------------------------------------
    def handle(self, params: Params, endpoint: Endpoint) -> OwsResponse:
        """KVP requests (GET, or form-encoded POST)."""
        version = ALIASES.get((params.get("VERSION") or "").strip(), "2.0.1")
        try:
            raw = params.require("REQUEST")
            name = REQUESTS.get(raw.strip().lower())
            if name is None:
                raise OwsError("OperationNotSupported", f"WCS has no operation '{raw[:40]}'", "REQUEST")
            if name == "GetCapabilities":
                version = negotiate(params)
                return self.capabilities(version, endpoint)
            version = operation_version(params)
            if name == "DescribeCoverage":
                if version == "1.0.0" and not (params.get("COVERAGE") or "").strip():
                    return self.describe(version, None, endpoint)  # 1.0.0 may describe them all
                return self.describe(version, self._describe_ids(params, version), endpoint)
            return self._getcoverage(params, version, endpoint)
        except (OgcServerError, OwsError) as exc:
            return exception_format("WCS", version).response(exc)

    @staticmethod
    def _describe_ids(params: Params, version: str) -> tuple[str, ...]:
        key = DESCRIBE_IDS[version]
        raw = params.get(key) or (params.get("IDENTIFIER") if version == "1.1.1" else None)  # as OWSLib sends
        if raw is None or not raw.strip():
            raise OwsError("MissingParameterValue", f"parameter {key} is required", key)
        return coverage_ids(raw, key)

    def _getcoverage(self, params: Params, version: str, endpoint: Endpoint) -> OwsResponse:
        if version == "2.0.1":
            given = kvp20.kvp_request(params)
            layer = self._layer(query20.coverage_id(given), endpoint)
            return self.coverage(query20.build(given, layer, endpoint.service), layer, endpoint)
        layer = self._layer(params.require(COVERAGE_ID[version]).strip(), endpoint)
        parser = parse10 if version == "1.0.0" else parse11
        return self.coverage(parser.parse_getcoverage(params, layer, endpoint.service), layer, endpoint)

    def handle_xml(self, root: etree._Element, endpoint: Endpoint) -> OwsResponse:
        """WCS 2.0.1 XML POST requests."""
        try:
            name = xml20.operation(root)
            if name == "GetCapabilities":
                accept = xml20.accept_versions(root)
                return self.capabilities(negotiate(Params([("ACCEPTVERSIONS", accept or "2.0.1")])), endpoint)
            if root.get("version") not in ("2.0.0", "2.0.1"):
                raise OwsError("InvalidParameterValue", "XML requests are WCS 2.0.1", "version")
            if name == "DescribeCoverage":
                return self.describe("2.0.1", xml20.coverage_ids(root), endpoint)
            given = xml20.getcoverage(root)
            layer = self._layer(query20.coverage_id(given), endpoint)
            return self.coverage(query20.build(given, layer, endpoint.service), layer, endpoint)
        except (OgcServerError, OwsError) as exc:
            return exception_format("WCS", "2.0.1").response(exc)

    # -- operations ------------------------------------------------------------------------------
    def _layer(self, name: str, endpoint: Endpoint) -> Layer:
        """A coverage the caller may discover (the same answer for hidden and unknown ones)."""
        for layer in self.engine.layers(endpoint.service, endpoint.principal):
            if layer.info.name == name and wcs_code(layer) is not None:
                return layer
        raise LayerNotFound(name)

    def capabilities(self, version: str, endpoint: Endpoint) -> OwsResponse:
        layers = self.engine.layers(endpoint.service, endpoint.principal)
        return OwsResponse(capabilities_document(version, layers, self.settings, endpoint), "text/xml")

    def describe(self, version: str, names: tuple[str, ...] | None, endpoint: Endpoint) -> OwsResponse:
        """The named coverages (None: every coverage the caller may discover)."""
        if names is None:
            layers = self.engine.layers(endpoint.service, endpoint.principal)
        else:
            layers = [self._layer(name, endpoint) for name in names]
        return OwsResponse(describe_document(version, layers), "text/xml")

    def coverage(self, request: GetCoverage, layer: Layer, endpoint: Endpoint) -> OwsResponse:
        encoded = self.engine.coverage(replace(request.query, principal=endpoint.principal))
        if request.multipart:
            return with_skipped(multipart_response(encoded, layer.info.title, layer.info.name), encoded.skipped)
        return with_skipped(_single(encoded, layer), encoded.skipped)


def _single(encoded: EncodedCoverage, layer: Layer) -> OwsResponse:
    """The encoded coverage alone: bytes, or streamed from its temporary file."""
    extension = encoded.filename.rsplit(".", 1)[-1]
    headers = {"Content-Disposition": f'inline; filename="{layer.info.name}.{extension}"'}
    if encoded.file is None:
        return OwsResponse(encoded.read(), encoded.content_type, headers=headers)
    return OwsResponse(b"", encoded.content_type, headers=headers, stream=encoded.chunks(), length=encoded.length)
