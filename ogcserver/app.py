"""The HTTP composition root: the web app wrapped around a core (see composition.py)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from ogcserver.admin.operations import Administration
from ogcserver.analysing.jobs import ClusterRunner
from ogcserver.composition import Core, build_core, job_store
from ogcserver.core.analysis.jobs import Jobs
from ogcserver.ows.catalog.service import CatalogService
from ogcserver.ows.dispatch import Dispatcher
from ogcserver.ows.kml.service import KmlService
from ogcserver.ows.processes.service import ProcessesService
from ogcserver.ows.wcs.service import WcsService
from ogcserver.ows.wms.service import WmsService
from ogcserver.ows.wmts.service import WmtsService
from ogcserver.settings import RateLimits, Settings
from ogcserver.web.admin import install_admin
from ogcserver.web.auth import Authenticator
from ogcserver.web.blueprints import WebContext, install
from ogcserver.web.cors import CorsPolicy, install_cors
from ogcserver.web.fast_tiles import FastTiles
from ogcserver.web.metrics import MULTIPROC_ENV, Metrics
from ogcserver.web.proxies import AddressList
from ogcserver.web.ratelimit import RateLimiter
from ogcserver.web.server_timing import install_server_timing

_CORE = "ogcserver"


def core_of(app: Flask) -> Core:
    """The core an app serves, for tools and tests that reach past HTTP."""
    return app.extensions[_CORE]


def create_app(settings: Settings, core: Core | None = None, config_file: Path | None = None) -> Flask:
    """A ready WSGI app serving ``core`` over HTTP; without one, the core is built from ``settings``.
    ``config_file``: the file ``settings`` were read from, which the admin API edits."""
    core = core or build_core(settings)
    engine, tiles = core.engine, core.tiles
    kml = KmlService(engine)
    dispatcher = Dispatcher(WmsService(engine, settings, kml), WmtsService(engine, tiles, settings), WcsService(engine, settings))
    app = Flask("ogcserver", static_folder=None)
    app.json.sort_keys = False
    app.extensions[_CORE] = core
    access = settings.access
    limiter = RateLimiter(access.rate_limits if access else RateLimits(), settings.server.client_share)
    metrics = Metrics(layers=frozenset(layer.name for service in settings.services for layer in service.layers),
                      shared_dir=os.environ.get(MULTIPROC_ENV))  # set by `serve` for its workers
    store = job_store(settings)
    jobs = Jobs(engine, store, ClusterRunner(core, settings, store), settings.analysis)
    context = WebContext(settings, dispatcher, engine, metrics, Authenticator(access), limiter, kml,
                         CatalogService(engine), AddressList(settings.server.trusted_proxies),
                         AddressList(settings.server.metrics_allow), ProcessesService(jobs))
    install_admin(app, context, Administration(settings, core, config_file), core.access.may_administer)
    install(app, context)
    cors = CorsPolicy(settings.cors)
    install_cors(app, cors)
    install_server_timing(app, settings.server.timing)
    rate_limited = access is not None and access.rate_limits != RateLimits()
    if tiles.store is not None and not rate_limited:  # rate limits count every request: keep them on one path
        app.wsgi_app = FastTiles(app.wsgi_app, dispatcher.services["WMTS"], metrics, settings.server.access_log, cors)
    return app
