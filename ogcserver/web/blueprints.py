"""Flask routes: OGC endpoints (all services, or one), landing page, map viewers, health, metrics."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ogcserver.core.engine import Engine
from ogcserver.core.query import ItemQuery
from ogcserver.model.access import AuthenticationFailed, Principal
from ogcserver.model.errors import CatalogUnavailable, InvalidValue, OgcServerError
from ogcserver.ows.catalog.service import CatalogService
from ogcserver.ows.dispatch import Dispatcher
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.error_table import ExceptionFormat
from ogcserver.ows.exception_format import exception_format
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.items import PARAMETERS as ITEM_PARAMETERS
from ogcserver.ows.kml.service import KmlService
from ogcserver.ows.kvp import Params
from ogcserver.ows.processes.service import ProcessesService
from ogcserver.ows.response import OwsResponse
from ogcserver.ows.viewer import viewer_document
from ogcserver.ows.wmts import rest
from ogcserver.settings import Settings
from ogcserver.web import http_cache
from ogcserver.web.auth import AuthenticationThrottled, Authenticator
from ogcserver.web.links import public_root
from ogcserver.web.logs import log_access
from ogcserver.web.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ogcserver.web.metrics import Metrics, requested_layers
from ogcserver.web.proxies import AddressList
from ogcserver.web.ratelimit import RateLimiter
from ogcserver.web.viewer_assets import leaflet_file, viewer_page

UNAVAILABLE_RETRY_AFTER = 5.0  # seconds a client waits after a 503 (catalog down, render timeout)
UNLIMITED_PARALLEL = 6  # requests a viewer page runs at once when the server sets no per-client limit
log = logging.getLogger(__name__)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
JSON_APIS = {"processes": "PROCESSES", "jobs": "PROCESSES", "catalog": "CATALOG"}  # first path segment -> protocol


@dataclass
class WebContext:
    settings: Settings
    dispatcher: Dispatcher
    engine: Engine
    metrics: Metrics
    auth: Authenticator
    limiter: RateLimiter
    kml: KmlService
    catalog: CatalogService
    proxies: AddressList
    metrics_readers: AddressList
    processes: ProcessesService | None = None  # OGC API - Processes over the analysis jobs


def _principal(ctx: WebContext) -> Principal:
    """Authenticate the request once; a failure becomes a 401 answer (see ``install``)."""
    if "principal" not in g:
        g.principal = ctx.auth.authenticate(request.headers, request.args, request.remote_addr,
                                            client_address(ctx))
    return g.principal


def _challenge(ctx: WebContext, response: Response) -> Response:
    if response.status_code == 401:
        for value in ctx.auth.challenges():
            response.headers.add("WWW-Authenticate", value)
    return response


def _to_flask(response: OwsResponse) -> Response:
    """The Flask response; every 503 (the service is unavailable for now) says when to retry."""
    if response.stream is not None:  # e.g. a coverage in a temporary file: never held in memory
        out = Response(response.stream, status=response.status, content_type=response.content_type,
                       direct_passthrough=True)
        if response.length is not None:
            out.headers["Content-Length"] = str(response.length)
    else:
        out = Response(response.body, status=response.status, content_type=response.content_type)
    for key, value in response.headers.items():
        out.headers[key] = value
    if response.error_code is not None:
        g.ows_error = response.error_code
    if out.status_code == 503 and "Retry-After" not in out.headers:
        _retry_after(out, UNAVAILABLE_RETRY_AFTER)
    return http_cache.apply(request, out, response.freshness)


def _base_url(ctx: WebContext) -> str:
    """The public root for links in documents (never the client's Host header)."""
    return public_root(ctx.settings.server, ctx.proxies, request.headers, request.remote_addr)


def client_address(ctx: WebContext) -> str:
    """The caller's address, behind trusted proxies the one they report."""
    return ctx.proxies.client_address(request.remote_addr, request.headers.get("X-Forwarded-For"))


def _ows(ctx: WebContext, service_scope: str | None, default_service: str | None) -> Response:
    g.ows_service = default_service or "OWS"
    base = _base_url(ctx)
    principal = _principal(ctx)
    endpoint = Endpoint(url=base + request.path, service=service_scope, base_url=base, principal=principal)
    with ctx.limiter.admission(principal, client_address(ctx)) as wait:
        if wait is not None:
            g.refused = "rate_limit"
            error = OwsError("ServerBusy", "too many requests; try again later", status=429)
            return _retry_after(_to_flask(ctx.dispatcher.error(error, default_service)), wait)
        return _challenge(ctx, _answer_ows(ctx, endpoint, service_scope, default_service))


def _retry_after(response: Response, seconds: float) -> Response:
    response.headers["Retry-After"] = str(int(seconds + 0.999))
    return response


def _answer_ows(ctx: WebContext, endpoint: Endpoint, service_scope: str | None, default_service: str | None) -> Response:
    if service_scope is not None and service_scope not in {s.name for s in ctx.settings.services}:
        return Response("Not found\n", status=404, content_type="text/plain")
    limits = ctx.settings.limits
    if len(request.query_string) > limits.max_query_length:
        error = OwsError("InvalidParameterValue", "the query string is too long", status=414)
        return _to_flask(ctx.dispatcher.error(error, default_service))
    try:
        pairs = list(request.args.items(multi=True))
        if request.method == "POST":
            content_type = (request.mimetype or "").lower()
            if content_type in FORM_TYPES:
                pairs += list(request.form.items(multi=True))
            elif request.content_length or request.data:
                return _to_flask(ctx.dispatcher.handle_xml(request.get_data(), default_service, endpoint))
        params = Params(pairs)
        g.ows_request = (params.get("REQUEST") or "")[:32]
    except OwsError as exc:
        return _to_flask(ctx.dispatcher.error(exc, default_service))
    return _to_flask(ctx.dispatcher.handle(params, endpoint, default_service))


def _request_items(time: str | None = None) -> ItemQuery:
    """FILTER, TIME and mosaic rule from a REST request's query string (TIME also from its path)."""
    return rest.request_items(request.args.items(multi=True), time)


def _rule(template: str) -> str:
    """A path template of the REST grammar as a Flask rule."""
    return template.replace("{", "<").replace("}", ">")


def _selection() -> dict[str, str]:
    """The item selection parameters as given (checked first), to pass on in links."""
    _request_items()
    return {k.upper(): v for k, v in request.args.items() if k.upper() in ITEM_PARAMETERS}


def _rest(ctx: WebContext, service_scope: str | None, answer, protocol: str = "WMTS") -> Response:  # noqa: ANN001
    """RESTful tile resources (WMTS, XYZ, KML): the same authentication, limits and exceptions as KVP,
    worded for the resource's protocol."""
    g.ows_service, g.ows_request = "WMTS", "REST"
    wmts = ctx.dispatcher.services["WMTS"]
    return _guarded(ctx, service_scope, "/wmts", lambda endpoint: answer(wmts, endpoint), exception_format(protocol))


def _catalog(ctx: WebContext, resource: str, answer) -> Response:  # noqa: ANN001
    """The catalog API: JSON answers, with the same authentication and limits."""
    g.ows_service, g.ows_request = "CATALOG", resource
    return _guarded(ctx, None, "", answer, exception_format("CATALOG"))


def _guarded(ctx: WebContext, service_scope: str | None, path: str, answer,  # noqa: ANN001
             errors: ExceptionFormat) -> Response:
    if service_scope is not None and service_scope not in {s.name for s in ctx.settings.services}:
        return Response("Not found\n", status=404, content_type="text/plain")
    base = _base_url(ctx)
    principal = _principal(ctx)
    endpoint = Endpoint(url=base + (f"/services/{service_scope}" if service_scope else "") + path,
                        service=service_scope, base_url=base, principal=principal)
    with ctx.limiter.admission(principal, client_address(ctx)) as wait:
        if wait is not None:
            g.refused = "rate_limit"
            return _retry_after(_to_flask(errors.response(OwsError("ServerBusy", "too many requests", status=429))), wait)
        try:
            return _challenge(ctx, _to_flask(answer(endpoint)))
        except (OwsError, OgcServerError) as exc:  # e.g. a bad FILTER parsed before the service is called
            return _challenge(ctx, _to_flask(errors.response(exc)))


def _processes(ctx: WebContext, resource: str, answer) -> Response:  # noqa: ANN001
    """OGC API - Processes: JSON answers, with the same authentication and limits."""
    g.ows_service, g.ows_request = "PROCESSES", resource
    if ctx.processes is None:
        return Response("Not found\n", status=404, content_type="text/plain")
    processes = ctx.processes
    return _guarded(ctx, None, "", lambda endpoint: answer(processes, endpoint), exception_format("PROCESSES"))


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _json_body() -> Any:
    """A JSON request body as plain values (None when it is not sent as JSON). Read inside the
    API's error handling, so a body too large, not JSON, holding NaN or Infinity (which JSON does not
    have, and which would pass every range check) or nested past the parser's depth is that API's
    client error."""
    if not request.is_json:
        return None
    try:
        return json.loads(request.get_data(cache=False), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise InvalidValue("body", f"the request body is not valid JSON: {reason}") from None


def _landing_view(ctx: WebContext) -> list[dict]:
    services = []
    layers = ctx.engine.layers(None, _principal(ctx))
    for service in ctx.settings.services:
        items = [layer.info for layer in layers if layer.info.service == service.name]
        services.append({
            "name": service.name,
            "title": service.title or service.name,
            "abstract": service.abstract,
            "wms": f"/services/{service.name}/wms",
            "wmts": f"/services/{service.name}/wmts",
            "layers": items,
        })
    return services


def create_blueprint(ctx: WebContext) -> Blueprint:
    bp = Blueprint(
        "ogcserver", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
    )

    @bp.route("/wms", methods=["GET", "POST"])
    def wms_all() -> Response:
        return _ows(ctx, None, "WMS")

    @bp.route("/ows", methods=["GET", "POST"])
    def ows_all() -> Response:
        return _ows(ctx, None, None)

    @bp.route("/services/<service>/wms", methods=["GET", "POST"])
    def wms_service(service: str) -> Response:
        return _ows(ctx, service, "WMS")

    @bp.route("/services/<service>/ows", methods=["GET", "POST"])
    def ows_service(service: str) -> Response:
        return _ows(ctx, service, None)

    @bp.route("/wcs", methods=["GET", "POST"])
    def wcs_all() -> Response:
        return _ows(ctx, None, "WCS")

    @bp.route("/services/<service>/wcs", methods=["GET", "POST"])
    def wcs_service(service: str) -> Response:
        return _ows(ctx, service, "WCS")

    @bp.route("/wmts", methods=["GET"])
    def wmts_all() -> Response:
        return _ows(ctx, None, "WMTS")

    @bp.route("/services/<service>/wmts", methods=["GET"])
    def wmts_service(service: str) -> Response:
        return _ows(ctx, service, "WMTS")

    @bp.route("/wmts/1.0.0/WMTSCapabilities.xml")
    @bp.route("/services/<service>/wmts/1.0.0/WMTSCapabilities.xml")
    def wmts_rest_capabilities(service: str | None = None) -> Response:
        return _rest(ctx, service, lambda wmts, endpoint: wmts.capabilities(endpoint))

    def tile(**fields: str) -> Response:
        protocol = "WMTS" if "style" in fields else "XYZ"  # /tiles/... paths are XYZ resources
        return _rest(ctx, fields.get("service"), lambda wmts, endpoint: wmts.tile(
            rest.tile_query(fields, _request_items(fields.get("time")),
                            scale=rest.request_scale(request.args.items(multi=True))),
            endpoint, exception_format(protocol)),
            protocol)

    def feature_info(**fields: str) -> Response:
        return _rest(ctx, fields.get("service"), lambda wmts, endpoint: wmts.feature_info(
            rest.feature_info_request(fields, _request_items(fields.get("time"))), endpoint))

    def footprints(**fields: str) -> Response:
        return _rest(ctx, None, lambda wmts, endpoint: wmts.footprints(
            rest.tile_query(fields, _request_items(), ext="png"), endpoint), "XYZ")

    for view, templates in ((tile, rest.TILES), (feature_info, rest.FEATURE_INFO), (footprints, rest.FOOTPRINTS)):
        for template in templates:
            bp.add_url_rule(_rule(template), view.__name__, view)

    @bp.route("/tiles/<layer>/<tms>/tilejson.json")
    def tilejson(layer: str, tms: str) -> Response:
        ext = "jpg" if request.args.get("format", "").lower() in ("jpg", "jpeg") else "png"
        return _rest(ctx, None, lambda wmts, endpoint: wmts.tilejson(layer, tms, ext, endpoint), "XYZ")

    @bp.route("/kml/<layer>.kml")
    @bp.route("/kml/<layer>.kmz")
    def kml_root(layer: str) -> Response:
        as_kmz = request.path.endswith(".kmz")
        style = request.args.get("style", "")[:64]
        return _rest(ctx, None, lambda _wmts, endpoint: ctx.kml.root(layer, endpoint, as_kmz, style, _selection()),
                     "KML")

    @bp.route("/kml/<layer>/<int:z>/<int:x>/<int:y>.kml")
    def kml_tile(layer: str, z: int, x: int, y: int) -> Response:
        style = request.args.get("style", "")[:64]
        return _rest(ctx, None, lambda _wmts, endpoint: ctx.kml.tile(layer, z, x, y, endpoint, style, _selection()),
                     "KML")

    @bp.route("/kml/<layer>/footprints.kml")
    def kml_footprints(layer: str) -> Response:
        return _rest(ctx, None, lambda _wmts, endpoint: ctx.kml.footprints(layer, endpoint, _request_items()), "KML")

    @bp.route("/catalog/<layer>/items")
    def catalog_items(layer: str) -> Response:
        return _catalog(ctx, "items", lambda endpoint: ctx.catalog.search(
            Params(request.args.items(multi=True)), layer, endpoint, endpoint.base_url + request.path))

    @bp.route("/catalog/<layer>/items/<path:key>/download")
    def catalog_download(layer: str, key: str) -> Response:
        return _catalog(ctx, "download", lambda endpoint: ctx.catalog.download(layer, key, endpoint))

    @bp.route("/catalog/<layer>/items/<path:key>")
    def catalog_item(layer: str, key: str) -> Response:
        return _catalog(ctx, "item", lambda endpoint: ctx.catalog.item(layer, key, endpoint))

    @bp.route("/catalog/<layer>")
    def catalog_collection(layer: str) -> Response:
        return _catalog(ctx, "collection", lambda endpoint: ctx.catalog.collection(layer, endpoint))

    @bp.route("/processes")
    def process_list() -> Response:
        return _processes(ctx, "processes", lambda p, endpoint: p.processes(endpoint))

    @bp.route("/processes/<pid>")
    def process_description(pid: str) -> Response:
        return _processes(ctx, "process", lambda p, endpoint: p.process(pid, endpoint))

    @bp.route("/processes/<pid>/execution", methods=["POST"])
    def process_execution(pid: str) -> Response:
        prefer = request.headers.get("Prefer", "")
        return _processes(ctx, "execute", lambda p, endpoint: p.execute(pid, _json_body(), prefer, endpoint))

    @bp.route("/jobs")
    def job_list() -> Response:
        return _processes(ctx, "jobs", lambda p, endpoint: p.job_list(endpoint))

    @bp.route("/jobs/<job>", methods=["GET", "DELETE"])
    def job(job: str) -> Response:
        if request.method == "DELETE":
            return _processes(ctx, "dismiss", lambda p, endpoint: p.dismiss(job, endpoint))
        return _processes(ctx, "job", lambda p, endpoint: p.job(job, endpoint))

    @bp.route("/jobs/<job>/results")
    def job_results(job: str) -> Response:
        return _processes(ctx, "results", lambda p, endpoint: p.results(job, endpoint))

    @bp.route("/")
    def landing() -> str:
        return render_template("landing.html", title=ctx.settings.title, services=_landing_view(ctx))

    @bp.route("/viewer")
    def viewer() -> Response:
        return viewer_page(render_template("viewer.html", title=ctx.settings.title, heading="all layers", layer=""))

    @bp.route("/preview/<layer>")
    def preview(layer: str) -> Response:
        found = next((lr.info for lr in ctx.engine.layers(None, _principal(ctx)) if lr.info.name == layer), None)
        if found is None:
            return Response("Layer not found\n", status=404, content_type="text/plain")
        return viewer_page(render_template("viewer.html", title=ctx.settings.title, heading=found.title or found.name,
                                           layer=found.name))

    @bp.route("/viewer/layers.json")
    def viewer_layers() -> Response:
        parallel = ctx.settings.server.client_share or UNLIMITED_PARALLEL
        return _catalog(ctx, "viewer", lambda endpoint: viewer_document(ctx.engine, endpoint, parallel))

    @bp.route("/vendor/leaflet/<path:filename>")
    def leaflet(filename: str) -> Response:
        return leaflet_file(filename)

    @bp.route("/healthz")
    @bp.route("/health")
    def health() -> Response:
        """Liveness: the process answers; no I/O, so a catalog outage does not get it restarted."""
        return jsonify({"status": "ok", "layers": ctx.engine.known_layers()})

    @bp.route("/readyz")
    def ready() -> Response:
        """Readiness: the catalog store answers and the tile cache can store tiles, so requests
        can be served. Like /healthz, open to every caller and outside the rate limits."""
        try:
            ctx.engine.check_store()
        except CatalogUnavailable:
            return _retry_after(jsonify({"status": "unavailable", "reason": "catalog"}), UNAVAILABLE_RETRY_AFTER), 503
        if not ctx.dispatcher.services["WMTS"].tiles.store_ready():
            return _retry_after(jsonify({"status": "unavailable", "reason": "tile cache"}), UNAVAILABLE_RETRY_AFTER), 503
        return jsonify({"status": "ready"})

    @bp.route("/metrics")
    def metrics() -> Response:
        if not ctx.metrics_readers.contains(client_address(ctx)):
            return Response("Forbidden\n", status=403, content_type="text/plain")
        return Response(ctx.metrics.render(), content_type=METRICS_CONTENT_TYPE)

    return bp


def install(app: Flask, ctx: WebContext) -> None:
    app.register_blueprint(create_blueprint(ctx))
    ctx.metrics.endpoints = frozenset(app.view_functions)  # route names: a closed set of labels
    app.config["MAX_CONTENT_LENGTH"] = ctx.settings.limits.max_body_bytes

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        ctx.metrics.started()
        g.counted = True

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        if g.pop("counted", False):
            ctx.metrics.finished()

    @app.after_request
    def _log(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        service = g.get("ows_service", "http")
        operation = g.get("ows_request", request.endpoint or "none")
        timings = g.get("timings")
        ctx.metrics.observe(service, operation, response.status_code, elapsed,
                            layer=requested_layers(request.args, (request.view_args or {}).get("layer")),
                            sent=response.content_length, cache=response.headers.get("X-Cache"),
                            rendered=timings is not None and "encode" in timings.counts,
                            error_code=g.get("ows_error"), refused=g.get("refused"))
        if ctx.settings.server.access_log:
            log_access(request.method, request.path, request.query_string.decode("latin-1"), response.status_code,
                       response.calculate_content_length(), elapsed, request.remote_addr,
                       g.principal.name if "principal" in g else None)
        return response

    @app.errorhandler(AuthenticationFailed)
    def _unauthenticated(exc: AuthenticationFailed) -> Response:
        error = OwsError("AccessDenied", exc.message, status=401)
        response = _to_flask(ctx.dispatcher.error(error, g.get("ows_service") if g.get("ows_service") != "OWS" else None))
        realm = ctx.settings.access.realm if ctx.settings.access else "ogcserver"
        if exc.scheme == "Bearer":
            response.headers["WWW-Authenticate"] = f'Bearer realm="{realm}", error="invalid_token"'
            return response
        return _challenge(ctx, response)

    @app.errorhandler(AuthenticationThrottled)
    def _throttled(exc: AuthenticationThrottled) -> Response:
        g.refused = "login"
        message = ("too many failed authentication attempts; try again later" if exc.status == 429
                   else "the server is busy checking credentials; try again later")
        error = OwsError("ServerBusy", message, status=exc.status)
        response = _to_flask(ctx.dispatcher.error(error, g.get("ows_service") if g.get("ows_service") != "OWS" else None))
        return _retry_after(response, exc.retry_after)

    @app.errorhandler(CatalogUnavailable)
    def _catalog_unavailable(exc: CatalogUnavailable) -> Response:  # pages outside the OGC services
        return _to_flask(ctx.dispatcher.error(exc, _protocol()))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        error = OwsError("InvalidParameterValue", "the request body is too large", status=413)
        return _to_flask(ctx.dispatcher.error(error, _protocol()))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        """Routing errors (no such path, a method the path does not take): the JSON APIs' own
        exception document under their paths, plain text elsewhere; a 405 names the methods the
        path takes (Allow), as HTTP requires."""
        protocol = JSON_APIS.get(request.path.split("/")[1])
        if protocol is None:
            response = Response(f"{exc.name}\n", status=exc.code or 400, content_type="text/plain")
        else:
            error = OwsError(exc.name.replace(" ", ""), exc.name, status=exc.code or 400)
            response = _to_flask(exception_format(protocol).response(error))
        allow = dict(exc.get_headers()).get("Allow")
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error", extra={"path": request.path})
        error = OwsError("NoApplicableCode", "the server could not answer this request", status=500)
        return _to_flask(ctx.dispatcher.error(error, _protocol()))


def _protocol() -> str | None:
    """The protocol of the route answering (its errors' format): set by the route before it reads
    the body, so a JSON API's errors raised outside its own handling are still JSON."""
    return g.get("ows_service")
