"""The map viewer's page headers and its map library, served from the installed package
(xstatic-leaflet): pip installs it with the rest, and no page ever loads a script from elsewhere."""

from __future__ import annotations

from flask import Response, send_from_directory
from xstatic.pkg import leaflet

LEAFLET_DIR = leaflet.BASE_DIR
LIBRARY_MAX_AGE = 86400  # seconds: the library changes only with the installed package

# the page's own files and the server's answers only: no inline script or style, no other origin
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def viewer_page(html: str) -> Response:
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def leaflet_file(filename: str) -> Response:
    """A file of the Leaflet package (a path outside it answers 404)."""
    return send_from_directory(LEAFLET_DIR, filename, max_age=LIBRARY_MAX_AGE)
