"""Cross-origin resource sharing (Fetch standard) for the anonymous-readable routes.

A web map on another site draws our tiles and reads our capabilities, feature info and catalog
only if each answer says which origins may read it; errors too (a 401, 404 or 429 a page cannot
read is a silent failure). Preflights are answered here, before authentication, rate limits or
the core: they carry no credentials and ask only whether the real request may be sent.
The Origin header is the client's: one that is not a serialized origin (a newline, a path,
kilobytes of text) gets no CORS header at all, so it can never be echoed into a response.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, request

from ogcserver.settings import MAX_ORIGIN_LENGTH, ORIGIN, CorsConfig

BLUEPRINT = "ogcserver"
# The routes an anonymous caller may read (pages that only render HTML, and /metrics, are not).
READABLE_ENDPOINTS = frozenset({
    "wms_all", "ows_all", "wms_service", "ows_service", "wcs_all", "wcs_service", "wmts_all", "wmts_service",
    "wmts_rest_capabilities", "tile", "feature_info", "footprints", "tilejson", "kml_root", "kml_tile",
    "kml_footprints", "catalog_items", "catalog_download", "catalog_item", "catalog_collection", "health", "ready",
})
Headers = list[tuple[str, str]]


def is_origin(value: str) -> bool:
    """A serialized origin as browsers send it ("null" included), nothing else."""
    return value == "null" or (len(value) <= MAX_ORIGIN_LENGTH and ORIGIN.match(value) is not None)


class CorsPolicy:
    def __init__(self, config: CorsConfig) -> None:
        self.config = config
        self.enabled = config.enabled
        self._any = "*" in config.origins
        self._listed = frozenset(config.origins)
        self._credentialed = frozenset(config.credentials_origins)
        self._methods = ", ".join(config.methods)
        self._allowed_methods = frozenset(config.methods)
        self._headers = ", ".join(config.headers)
        self._expose = ", ".join(config.expose_headers)

    def _allow(self, origin: str | None) -> Headers:
        """Access-Control-Allow-Origin (and -Credentials) for this Origin; empty when not allowed."""
        if origin is None:
            return [("Access-Control-Allow-Origin", "*")] if self._any else []
        if not is_origin(origin):
            return []
        if origin in self._credentialed:
            return [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true")]
        if self._any:
            return [("Access-Control-Allow-Origin", "*")]
        return [("Access-Control-Allow-Origin", origin)] if origin in self._listed else []

    def response_headers(self, origin: str | None) -> Headers:
        """The headers of an actual (non-preflight) answer, success or error alike."""
        if not self.enabled:
            return []
        allow = self._allow(origin)
        if allow and self._expose:
            allow.append(("Access-Control-Expose-Headers", self._expose))
        return [*allow, ("Vary", "Origin")]

    def preflight_headers(self, origin: str | None, method: str) -> Headers:
        """The headers of a preflight's answer: none unless origin and method are allowed."""
        if origin is None or method not in self._allowed_methods:
            return []
        allow = self._allow(origin)
        if not allow:
            return []
        return [*allow, ("Access-Control-Allow-Methods", self._methods), ("Access-Control-Allow-Headers", self._headers),
                ("Access-Control-Max-Age", str(self.config.max_age))]


PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def _add_vary(response: Response, headers: Iterable[tuple[str, str]]) -> None:
    for name, value in headers:
        if name == "Vary":
            for field in value.split(","):
                response.vary.add(field.strip())
        else:
            response.headers[name] = value


def _readable() -> bool:
    return (request.endpoint or "").removeprefix(BLUEPRINT + ".") in READABLE_ENDPOINTS


def _is_preflight() -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def install_cors(app: Flask, policy: CorsPolicy) -> None:
    """Answer preflights first, and put the CORS headers on every answer of a readable route."""
    if not policy.enabled:
        return

    @app.before_request
    def _preflight() -> Response | None:
        if not (_is_preflight() and _readable()):
            return None
        response = Response(status=204)
        method = request.headers["Access-Control-Request-Method"]
        _add_vary(response, policy.preflight_headers(request.headers.get("Origin"), method))
        response.vary.update(field.strip() for field in PREFLIGHT_VARY.split(","))
        return response

    @app.after_request
    def _cors(response: Response) -> Response:
        if _readable() and not _is_preflight():
            _add_vary(response, policy.response_headers(request.headers.get("Origin")))
        return response
