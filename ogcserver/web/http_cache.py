"""HTTP caching for tiles: ETag, Last-Modified, Cache-Control, and 304 for conditional requests."""

from __future__ import annotations

from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache

from flask import Request, Response

from ogcserver.ows.response import Freshness


@lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    """Formatting a date costs more than a cached tile's other headers together: tiles share few dates."""
    return formatdate(seconds, usegmt=True)


def cache_headers(freshness: Freshness) -> list[tuple[str, str]]:
    """The caching headers of a fresh answer, for the Flask app and the short path alike."""
    headers = [("ETag", f'"{freshness.etag}"'), ("Cache-Control", f"public, max-age={freshness.max_age}")]
    if freshness.modified:
        headers.append(("Last-Modified", _http_date(int(freshness.modified))))
    return headers


def apply(request: Request, response: Response, freshness: Freshness | None) -> Response:
    if freshness is None or response.status_code != 200:
        return response
    for name, value in cache_headers(freshness):
        response.headers[name] = value
    if _not_modified(request, f'"{freshness.etag}"', freshness.modified):
        response.status_code = 304
        response.set_data(b"")
    return response


def _not_modified(request: Request, etag: str, modified: float) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:
        return any(tag.strip() in (etag, "*", "W/" + etag) for tag in match.split(","))
    since = request.headers.get("If-Modified-Since")
    if since and modified:
        try:
            return parsedate_to_datetime(since).timestamp() >= int(modified)
        except (TypeError, ValueError):
            return False
    return False
