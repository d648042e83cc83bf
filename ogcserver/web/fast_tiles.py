"""A short path for cache hits of XYZ and RESTful WMTS tiles, in front of the Flask app.

Cache hits are the one request a tile server answers most, and Flask's routing, request
objects and hooks cost several times more than reading the tile. This WSGI middleware answers
an anonymous, unconditional GET of a cached tile with the same access check, headers, metrics
and access log line; everything else (misses, credentials, conditional requests, errors) goes
on to the Flask app, which answers it in full.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from functools import lru_cache

from ogcserver.core.query import TileQuery
from ogcserver.core.tilecache import TileService
from ogcserver.model.errors import OgcServerError
from ogcserver.ows.wmts.parse import TILE_FORMATS
from ogcserver.web.metrics import Metrics

access_log = logging.getLogger("ogcserver.access")
NAME = r"[A-Za-z0-9_.\-]{1,64}"
XYZ = re.compile(rf"^/tiles/(?P<layer>{NAME})/(?P<tms>{NAME})/(?P<z>\d{{1,2}})/(?P<x>\d{{1,9}})/(?P<y>\d{{1,9}})\.(?P<ext>png|jpg)$")
REST = re.compile(rf"^/wmts/1\.0\.0/(?P<layer>{NAME})/(?P<style>{NAME})/(?P<tms>{NAME})/(?P<z>\d{{1,2}})/"
                  rf"(?P<y>\d{{1,9}})/(?P<x>\d{{1,9}})\.(?P<ext>png|jpg)$")
BYPASS = ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")


@lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)


class FastTiles:
    def __init__(self, app: Callable, tiles: TileService, metrics: Metrics, access_log_on: bool, max_age: int) -> None:
        self.app = app
        self.tiles = tiles
        self.metrics = metrics
        self.access_log_on = access_log_on
        self.cache_control = f"public, max-age={max_age}"

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        hit = self._hit(environ)
        if hit is None:
            return self.app(environ, start_response)
        started, result = hit
        headers = [
            ("Content-Type", result.content_type), ("Content-Length", str(len(result.body))),
            ("ETag", f'"{result.etag}"'), ("Cache-Control", self.cache_control), ("X-Cache", "HIT"),
        ]
        if result.modified:
            headers.append(("Last-Modified", _http_date(int(result.modified))))
        start_response("200 OK", headers)
        elapsed = time.perf_counter() - started
        self.metrics.observe("WMTS", "TILE", 200, elapsed)
        if self.access_log_on:
            access_log.info("request", extra={
                "method": "GET", "path": environ.get("PATH_INFO"), "query": "", "status": 200,
                "bytes": len(result.body), "ms": round(elapsed * 1000, 2), "remote": environ.get("REMOTE_ADDR"),
                "principal": "anonymous",
            })
        return [result.body]

    def _hit(self, environ: dict):  # noqa: ANN202 - (started, TileResult) or None
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
            return None
        if any(key in environ for key in BYPASS):
            return None
        path = environ.get("PATH_INFO", "")
        m = XYZ.match(path) or REST.match(path)
        if m is None:
            return None
        started = time.perf_counter()
        style = m.groupdict().get("style") or ""
        query = TileQuery(m["layer"], m["tms"], int(m["z"]), int(m["x"]), int(m["y"]), TILE_FORMATS[m["ext"]],
                          "" if style == "default" else style)
        try:
            result = self.tiles.cached(query)
        except OgcServerError:
            return None  # denied, unknown or out of range: the full path words the answer
        return (started, result) if result is not None else None
