"""HTTP caching for tiles: ETag, Last-Modified, Cache-Control, and 304 for conditional requests."""

from __future__ import annotations

from email.utils import formatdate, parsedate_to_datetime

from flask import Request, Response

from ogcserver.ows.response import Freshness


def apply(request: Request, response: Response, freshness: Freshness | None) -> Response:
    if freshness is None or response.status_code != 200:
        return response
    etag = f'"{freshness.etag}"'
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = f"public, max-age={freshness.max_age}"
    if freshness.modified:
        response.headers["Last-Modified"] = formatdate(freshness.modified, usegmt=True)
    if _not_modified(request, etag, freshness.modified):
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
