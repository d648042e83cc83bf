"""The admin API over HTTP: ``/admin``, JSON in and out, for callers granted "admin".

To anyone else every ``/admin`` URL answers exactly as a path that does not exist (the same 404
and body, whatever the method, also for wrong credentials), so its existence is not revealed.
A configuration body is bounded before it is read (``admin.max_config_bytes``) and parsed as
plain YAML or JSON within ``admin.max_config_nodes`` and ``admin.max_config_depth``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ogcserver.model.access import AuthenticationFailed, Principal
from ogcserver.model.safe_yaml import DocumentRefused, parse_document
from ogcserver.web.auth import AuthenticationThrottled
from ogcserver.web.blueprints import WebContext, _base_url, _principal

PREFIX = "/admin"
# A body must say it is a document: the types a web page's plain form can send (form encodings,
# text/plain) are refused, so a page on another site cannot post one with an administrator's
# remembered credentials; the others need a CORS preflight, which /admin never grants.
DOCUMENT_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
# method, path under PREFIX, the Operations method answering it (path parameters first), whether
# the request's body (a YAML or JSON document) is passed to it
ROUTES = (
    ("GET", "/config", "config", False),
    ("PUT", "/config", "replace_config", True),
    ("PATCH", "/config", "patch_config", True),
    ("POST", "/layers", "add_layer", True),
    ("DELETE", "/layers/<name>", "remove_layer", False),
    ("POST", "/catalog/<collection>/refresh", "refresh", False),
    ("POST", "/seed", "seed", True),
    ("GET", "/jobs/<job>", "job", False),
    ("POST", "/cache/truncate", "truncate", True),
)
audit = logging.getLogger("ogcserver.audit")
Answer = tuple[int, dict[str, Any]]


class AdminError(Exception):
    """A refused admin request: its status, what to say, and the detailed messages (e.g. every
    problem of an invalid configuration, worded as ``ogcserver validate-config`` words them)."""

    def __init__(self, status: int, message: str, messages: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.messages = messages


class Operations(Protocol):
    """What the admin API calls (``ogcserver.admin.operations.Administration``): each returns a
    status and a JSON-ready answer, or raises AdminError."""

    def config(self) -> Answer: ...
    def replace_config(self, document: Any) -> Answer: ...
    def patch_config(self, patch: Any) -> Answer: ...
    def add_layer(self, body: Any) -> Answer: ...
    def remove_layer(self, name: str) -> Answer: ...
    def refresh(self, collection: str) -> Answer: ...
    def seed(self, body: Any) -> Answer: ...
    def job(self, job: str) -> Answer: ...
    def truncate(self, body: Any) -> Answer: ...


def _document(ctx: WebContext) -> Any:
    """The request's body as plain values, refused (415, 413, 400) before or while parsing."""
    if (request.mimetype or "").lower() not in DOCUMENT_TYPES:
        raise AdminError(415, f"send the document as {' or '.join(DOCUMENT_TYPES[:2])} (Content-Type)")
    config = ctx.settings.admin
    limit = config.max_config_bytes
    if request.content_length is not None and request.content_length > limit:
        raise AdminError(413, f"the body is larger than {limit} bytes (admin.max_config_bytes)")
    request.max_content_length = limit
    try:
        data = _read_at_most(limit + 1)
    except RequestEntityTooLarge:
        data = b"\0" * (limit + 1)
    if len(data) > limit:
        raise AdminError(413, f"the body is larger than {limit} bytes (admin.max_config_bytes)")
    if not data.strip():
        raise AdminError(400, "the body is empty: send a YAML or JSON document")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AdminError(400, "the body is not UTF-8 text") from None
    try:
        return parse_document(text, config.bounds)
    except DocumentRefused as exc:
        raise AdminError(400, str(exc)) from None


def _read_at_most(size: int) -> bytes:
    """Up to ``size`` bytes of the body, however it is sent (a read may return less, as chunked
    bodies do); never more, so an endless body costs ``size`` bytes."""
    chunks, left = [], size
    while left > 0:
        chunk = request.stream.read(min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _json(status: int, payload: dict[str, Any]) -> Response:
    response = jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def create_admin_blueprint(ctx: WebContext, operations: Operations) -> Blueprint:
    bp = Blueprint("admin", __name__, url_prefix=PREFIX)

    def answer(operation: str, call: Callable[[], Answer]) -> Response:
        principal = _principal(ctx)
        try:
            status, payload = call()
        except AdminError as exc:
            status, payload = exc.status, {"error": exc.message, "messages": list(exc.messages)}
        audit.info("admin", extra={"principal": principal.name, "principal_kind": principal.kind,
                                   "operation": operation, "status": status})
        return _json(status, payload)

    for method, rule, operation, with_body in ROUTES:
        def view(operation: str = operation, with_body: bool = with_body, **path: str) -> Response:
            call = getattr(operations, operation)
            return answer(operation, lambda: call(*path.values(), *([_document(ctx)] if with_body else [])))

        bp.add_url_rule(rule, operation, view, methods=[method])
    return bp


def install_admin(app: Flask, ctx: WebContext, operations: Operations,
                  may_administer: Callable[[Principal], bool]) -> None:
    """Add ``/admin``, hidden from every caller ``may_administer`` refuses."""
    app.register_blueprint(create_admin_blueprint(ctx, operations))

    @app.before_request
    def _hide_admin() -> Response | None:
        """Runs before routing errors (405) are raised, so no method or path under /admin tells.
        Requests a browser sends from another site's page (their Origin) are refused too."""
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return None
        try:
            allowed = may_administer(_principal(ctx))
        except (AuthenticationFailed, AuthenticationThrottled):
            allowed = False  # counted as a failed attempt all the same
        if not allowed:
            abort(404)
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() not in _own_origins(ctx):
            return _json(403, {"error": "the admin API answers no request from another origin", "messages": []})
        return None


def _own_origins(ctx: WebContext) -> set[str]:
    """The server's origins: the one its requests are addressed to (a browser sets Host, a page
    elsewhere cannot), and its public one (behind a proxy)."""
    public = urlsplit(_base_url(ctx))
    return {request.host_url.rstrip("/").lower(), f"{public.scheme}://{public.netloc}".lower()}
