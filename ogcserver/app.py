"""The composition root: builds storage, core, protocols and the web app from settings."""

from __future__ import annotations

from flask import Flask

from ogcserver.core.access import Policy
from ogcserver.core.catalog import LayerCatalog
from ogcserver.core.engine import Engine
from ogcserver.ows.catalog.service import CatalogService
from ogcserver.ows.dispatch import Dispatcher
from ogcserver.core.tilecache import TileService
from ogcserver.ows.wcs.service import WcsService
from ogcserver.ows.kml.service import KmlService
from ogcserver.ows.wms.service import WmsService
from ogcserver.ows.wmts.service import WmtsService
from ogcserver.core import tiling
from ogcserver.model.geo import epsg_code
from ogcserver.storage.cache.directory import DirectoryStore
from ogcserver.storage.cache.sqlite_stores import MatrixInfo, SqliteTileStore
from ogcserver.storage.interfaces import CatalogStore, TileStore
from ogcserver.settings import RateLimits, Settings
from ogcserver.storage.catalogs.files import list_source_files
from ogcserver.storage.catalogs.sqlite import SqliteCatalog
from ogcserver.storage.readers.gdal_options import apply_gdal_options
from ogcserver.storage.readers.process_memory import bound_process_memory
from ogcserver.storage.readers.rasterio_reader import RasterioReader
from ogcserver.storage.readers.vetting import SourceRules, default_roots
from ogcserver.web.blueprints import WebContext, install
from ogcserver.web.metrics import Metrics
from ogcserver.web.ratelimit import RateLimiter
from ogcserver.web.auth import Authenticator
from ogcserver.web.fast_tiles import FastTiles
from ogcserver.web.proxies import AddressList


def tile_store(settings: Settings, catalog: LayerCatalog) -> TileStore | None:
    """The configured tile cache store (None: the cache is off)."""
    if not settings.cache.enabled:
        return None
    root = settings.cache.path or settings.server.data_dir / "tiles"
    if settings.cache.store == "directory":
        return DirectoryStore(root)

    def describe(tms_id: str, z: int) -> MatrixInfo:
        if tms_id in tiling.WELL_KNOWN:
            tms = tiling.well_known(tms_id)
        else:
            tms = tiling.for_layer(catalog.layer(tms_id.removesuffix("_native")).info, tms_id)
        m = tms.tms.matrix(z)
        b = tms.tms.xy_bbox
        return MatrixInfo(m.matrixWidth, m.matrixHeight, m.tileWidth, m.tileHeight, m.cellSize, m.cellSize,
                          (b.left, b.bottom, b.right, b.top), epsg_code(tms.crs))

    return SqliteTileStore(root, settings.cache.store, describe)


def catalog_store(settings: Settings) -> CatalogStore:
    """The configured catalog backend: an SQLite file, or a shared PostGIS database."""
    config = settings.catalog
    if config.backend == "postgis":
        from ogcserver.storage.catalogs.postgis import PostgisCatalog

        return PostgisCatalog(config.dsn or "")
    return SqliteCatalog(config.path or settings.server.data_dir / "catalog.sqlite")


def raster_reader(settings: Settings) -> RasterioReader:
    """The reader with the configured source rules; VRT sources stay inside the configured roots,
    by default the files and folders the layers publish."""
    config = settings.sources
    roots = config.roots or tuple(layer.source for s in settings.services for layer in s.layers if layer.source)
    rules = SourceRules(config.allow_vrt, default_roots(list(roots)), config.max_side, config.max_bands,
                        config.max_block_bytes, config.max_uncompressed_ratio, config.overviews_required_above)
    return RasterioReader(settings.server.open_datasets, settings.rendering.warp_error, rules,
                          settings.limits.max_request_bytes)


def create_app(settings: Settings) -> Flask:
    """A ready WSGI app; the catalog index is brought up to date before it returns."""
    apply_gdal_options()
    bound_process_memory(settings.server.gdal_cache_bytes)  # inherited by the workers forked from here
    reader = raster_reader(settings)
    catalog = LayerCatalog(settings, catalog_store(settings), reader, list_source_files)
    engine = Engine(settings, catalog, reader, Policy(settings.access))
    tiles = TileService(engine, tile_store(settings, catalog), settings.cache)
    catalog.refresh(force=True)  # after the tile cache listens: it hears what changed while down
    reader.pool.close_all()  # workers open their own handles after fork
    kml = KmlService(engine)
    dispatcher = Dispatcher(WmsService(engine, settings, kml), WmtsService(engine, tiles, settings), WcsService(engine, settings))
    app = Flask("ogcserver", static_folder=None)
    app.json.sort_keys = False
    app.extensions["ogcserver"] = engine
    app.extensions["ogcserver.tiles"] = tiles
    access = settings.access
    limiter = RateLimiter(access.rate_limits if access else RateLimits(), settings.server.client_share)
    metrics = Metrics()
    install(app, WebContext(settings, dispatcher, engine, metrics, Authenticator(access), limiter, kml,
                            CatalogService(engine), AddressList(settings.server.trusted_proxies),
                            AddressList(settings.server.metrics_allow)))
    rate_limited = access is not None and access.rate_limits != RateLimits()
    if tiles.store is not None and not rate_limited:  # rate limits count every request: keep them on one path
        app.wsgi_app = FastTiles(app.wsgi_app, dispatcher.services["WMTS"], metrics, settings.server.access_log)
    return app
