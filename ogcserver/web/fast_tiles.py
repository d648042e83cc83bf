"""A short path for cache hits of XYZ and RESTful WMTS tiles, in front of the Flask app.

Cache hits are the one request a tile server answers most, and Flask's routing, request
objects and hooks cost several times more than reading the tile. This WSGI middleware answers
an anonymous, unconditional GET of a cached tile through the same grammar, access check,
response, headers, metrics and access log as the full path; everything else (misses,
credentials, conditional requests, errors) goes on to the Flask app, which answers it in full.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ogcserver.ows.response import OwsResponse
from ogcserver.ows.wmts import rest
from ogcserver.ows.wmts.service import WmtsService
from ogcserver.web.cors import CorsPolicy
from ogcserver.web.http_cache import cache_headers
from ogcserver.web.logs import log_access
from ogcserver.web.metrics import Metrics

BYPASS = ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")
PREFIXES = ("/tiles/", "/wmts/", "/services/")


class FastTiles:
    def __init__(self, app: Callable, wmts: WmtsService, metrics: Metrics, access_log_on: bool,
                 cors: CorsPolicy) -> None:
        self.app = app
        self.cors = cors
        self.wmts = wmts
        self.metrics = metrics
        self.access_log_on = access_log_on

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        hit = self._hit(environ)
        if hit is None:
            return self.app(environ, start_response)
        layer, response = hit
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))),
                   *response.headers.items(), *cache_headers(response.freshness),
                   *self.cors.response_headers(environ.get("HTTP_ORIGIN"))]
        start_response("200 OK", headers)
        elapsed = time.perf_counter() - started
        self.metrics.observe("WMTS", "TILE", 200, elapsed, layer=layer, sent=len(response.body), cache="HIT")
        if self.access_log_on:
            log_access("GET", environ.get("PATH_INFO", ""), "", 200, len(response.body), elapsed,
                       environ.get("REMOTE_ADDR"), "anonymous")
        return [response.body]

    def _hit(self, environ: dict) -> tuple[str, OwsResponse] | None:
        """The tile's layer and its cached answer (with freshness), or None to take the full path."""
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
            return None
        if any(key in environ for key in BYPASS):
            return None
        path = environ.get("PATH_INFO", "")
        fields = rest.match_tile(path) if path.startswith(PREFIXES) else None
        if fields is None:
            return None
        response = self.wmts.cached_tile(fields)
        return (fields["layer"], response) if response is not None and response.freshness is not None else None
