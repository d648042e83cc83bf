"""The core's composition root: storage and core built from settings, with no web framework.

Everything that serves or processes rasters (the HTTP app, ``ogcserver seed``, ``ogcserver
catalog``, the benchmark, batch workers) starts from one ``build_core(settings)``, so a command
line tool never pulls in Flask, authentication or HTTP middleware to render a tile.
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from ogcserver.core import tiling
from ogcserver.core.access import Policy
from ogcserver.core.catalog import LayerCatalog
from ogcserver.core.engine import Engine
from ogcserver.core.tilecache import TileService
from ogcserver.model.geo import epsg_code
from ogcserver.settings import Settings
from ogcserver.storage.cache.directory import DirectoryStore
from ogcserver.storage.cache.sqlite_stores import MatrixInfo, SqliteTileStore
from ogcserver.storage.catalogs.files import list_source_files
from ogcserver.storage.catalogs.sqlite import SqliteCatalog
from ogcserver.storage.cube_encoder import NetcdfEncoder
from ogcserver.storage.interfaces import CatalogStore, RasterReader, TileStore
from ogcserver.storage.jobs import JobFiles, ObjectJobFiles
from ogcserver.storage.readers.gdal_options import apply_gdal_options
from ogcserver.storage.readers.process_memory import bound_process_memory
from ogcserver.storage.readers.rasterio_reader import RasterioReader
from ogcserver.storage.readers.remote import configure_buckets
from ogcserver.storage.readers.routing import SourceReader
from ogcserver.storage.readers.vetting import SourceRules, default_roots
from ogcserver.storage.s3 import Clients, S3Endpoint


@dataclass(frozen=True)
class Core:
    """The protocol-free server: what every adapter (HTTP, command line, workers) is handed."""

    engine: Engine
    catalog: LayerCatalog
    tiles: TileService
    access: Policy
    reader: SourceReader
    catalog_store: CatalogStore
    tile_store: TileStore | None


def tile_store(settings: Settings, catalog: LayerCatalog) -> TileStore | None:
    """The configured tile cache store (None: the cache is off)."""
    if not settings.cache.enabled:
        return None
    root = settings.cache.path or settings.server.data_dir / "tiles"
    if settings.cache.store == "directory":
        return DirectoryStore(root)
    if settings.cache.store == "s3":
        from ogcserver.storage.cache.s3_store import S3TileStore

        return S3TileStore(Clients(s3_endpoint(settings)), settings.cache.bucket or "", settings.cache.prefix)

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


def cache_scope(settings: Settings) -> str:
    """The tile cache's identity among the nodes sharing a catalog: a bucket is one cache for
    all of them; a folder is one per machine (every worker of a machine shares it)."""
    config = settings.cache
    if config.store == "s3":
        return f"s3://{config.bucket}/{config.prefix}"
    root = config.path or settings.server.data_dir / "tiles"
    return f"{socket.gethostname()}:{Path(root).resolve()}"


def catalog_store(settings: Settings) -> CatalogStore:
    """The configured catalog backend: an SQLite file, or a shared PostGIS database."""
    config = settings.catalog
    if config.backend == "postgis":
        from ogcserver.storage.catalogs.postgis import PostgisCatalog

        return PostgisCatalog(config.dsn or "")
    return SqliteCatalog(config.path or settings.server.data_dir / "catalog.sqlite")


def job_store(settings: Settings) -> JobFiles | ObjectJobFiles:
    """Where job records live: beside the products, in their bucket when they are kept in one."""
    if settings.analysis.output_url:
        return ObjectJobFiles(Clients(s3_endpoint(settings)), settings.analysis.output_url)
    return JobFiles(settings.products_dir / "jobs")


def s3_endpoint(settings: Settings) -> S3Endpoint:
    """The object store's address and credentials, secrets unwrapped only here."""
    config = settings.storage.s3

    def reveal(secret: SecretStr | None) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    return S3Endpoint(config.endpoint_url, config.region, reveal(config.access_key_id),
                      reveal(config.secret_access_key), reveal(config.session_token), config.virtual_hosting,
                      config.read_cache_mb << 20)


def raster_reader(settings: Settings) -> SourceReader:
    """The reader with the configured source rules; VRT sources stay inside the configured roots,
    by default the files and folders the layers publish. GDAL learns how to reach the buckets
    sources may be read from (kept by forked workers)."""
    if settings.source_buckets:
        configure_buckets(s3_endpoint(settings), settings.source_buckets)
    config = settings.sources
    roots = config.roots or tuple(layer.local_source for s in settings.services for layer in s.layers
                                  if layer.local_source)
    rules = SourceRules(config.allow_vrt, default_roots(list(roots)), config.max_side, config.max_bands,
                        config.max_block_bytes, config.max_uncompressed_ratio, config.overviews_required_above,
                        settings.source_buckets)
    rasters = RasterioReader(settings.server.open_datasets, settings.rendering.warp_error, rules,
                             settings.limits.max_request_bytes)

    def cubes() -> RasterReader:
        from ogcserver.storage.readers.xarray_reader import XarrayReader  # heavy: only where needed

        server = settings.server
        return XarrayReader(server.multidim_open(config.multidim_max_open), rules,
                            server.multidim_chunk_cache(config.multidim_chunk_cache_mb << 20), server.multidim_memory,
                            server.multidim_read_buffer(config.multidim_read_buffer_mb << 20))

    return SourceReader(rasters, cubes, Clients(s3_endpoint(settings)) if settings.source_buckets else None)


def build_core(settings: Settings) -> Core:
    """A ready core; the catalog index is brought up to date before it returns."""
    apply_gdal_options()
    bound_process_memory(settings.server.gdal_cache_bytes)  # inherited by the workers forked from here
    reader = raster_reader(settings)
    store = catalog_store(settings)
    catalog = LayerCatalog(settings, store, reader, functools.partial(list_source_files, objects=reader.objects, rules=reader.rules),
                           cache_scope(settings))
    access = Policy(settings.access)
    engine = Engine(settings, catalog, reader, access)
    engine.cubes = NetcdfEncoder()  # imports xarray and dask when it first encodes
    tiles = TileService(engine, tile_store(settings, catalog), settings.cache)
    catalog.refresh(force=True)  # after the tile cache listens: it hears what changed while down
    reader.close_all()  # workers open their own handles after fork
    return Core(engine, catalog, tiles, access, reader, store, tiles.store)
