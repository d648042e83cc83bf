"""The composition root: builds storage, core, protocols and the web app from settings."""

from __future__ import annotations

from flask import Flask

from ogcserver.core.access import Policy
from ogcserver.core.catalog import LayerCatalog
from ogcserver.core.engine import Engine
from ogcserver.ows.dispatch import Dispatcher
from ogcserver.core.tilecache import TileService
from ogcserver.ows.wms.service import WmsService
from ogcserver.ows.wmts.service import WmtsService
from ogcserver.storage.cache.directory import DirectoryStore
from ogcserver.settings import RateLimits, Settings
from ogcserver.storage.catalogs.files import list_source_files
from ogcserver.storage.catalogs.sqlite import SqliteCatalog
from ogcserver.storage.readers.rasterio_reader import RasterioReader
from ogcserver.web.blueprints import WebContext, install
from ogcserver.web.metrics import Metrics
from ogcserver.web.ratelimit import RateLimiter
from ogcserver.web.auth import Authenticator


def create_app(settings: Settings) -> Flask:
    """A ready WSGI app; the catalog index is brought up to date before it returns."""
    reader = RasterioReader(settings.server.max_open_datasets, settings.rendering.warp_error)
    store = SqliteCatalog(settings.server.data_dir / "catalog.sqlite")
    catalog = LayerCatalog(settings, store, reader, list_source_files)
    catalog.refresh(force=True)
    reader.pool.close_all()  # workers open their own handles after fork
    engine = Engine(settings, catalog, reader, Policy(settings.access))
    store = DirectoryStore(settings.cache.path or settings.server.data_dir / "tiles") if settings.cache.enabled else None
    tiles = TileService(engine, store, settings.cache)
    dispatcher = Dispatcher(WmsService(engine, settings), WmtsService(engine, tiles, settings))
    app = Flask("ogcserver", static_folder=None)
    app.json.sort_keys = False
    app.extensions["ogcserver"] = engine
    app.extensions["ogcserver.tiles"] = tiles
    access = settings.access
    limiter = RateLimiter(access.rate_limits if access else RateLimits())
    install(app, WebContext(settings, dispatcher, engine, Metrics(), Authenticator(access), limiter))
    return app
