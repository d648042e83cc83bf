"""The command line: ``serve``, ``validate-config``, ``seed``, ``cache`` and ``catalog``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from ogcserver.analysing.worker_server import start_worker_server
from ogcserver.model.errors import OgcServerError
from ogcserver.settings import ConfigError, Settings, load_settings, settings_from_paths
from ogcserver.storage.readers.gdal_options import apply_gdal_options

log = logging.getLogger("ogcserver")


def _server_overrides(args: argparse.Namespace) -> dict:
    overrides: dict = {}
    if args.bind:
        host, _, port = args.bind.rpartition(":")
        overrides["host"], overrides["port"] = host or "127.0.0.1", int(port)
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if args.workers:
        overrides["workers"] = args.workers
    if args.data_dir:
        overrides["data_dir"] = str(Path(args.data_dir).resolve())
    return overrides


def _settings(args: argparse.Namespace) -> Settings:
    overrides = _server_overrides(args) if hasattr(args, "bind") else {}
    if args.config:
        if args.paths:
            raise ConfigError("give either -c CONFIG or paths to publish, not both")
        settings = load_settings(Path(args.config), overrides)
    elif not args.paths:
        raise ConfigError("nothing to publish: give paths to rasters or folders, or -c CONFIG")
    else:
        settings = settings_from_paths([Path(p) for p in args.paths], overrides)
    if getattr(args, "allow_vrt", False):
        settings = settings.model_copy(update={"sources": settings.sources.model_copy(update={"allow_vrt": True})})
    return settings


def serve(args: argparse.Namespace) -> int:
    from ogcserver.web.metrics import shared_metrics_dir

    with shared_metrics_dir() as metrics_dir:  # before the app and its workers: one scrape sums them all
        from ogcserver.app import create_app
        from ogcserver.web.logs import configure_logging
        from ogcserver.web.reload import RESTART_ONLY, ReloadableApp
        from ogcserver.web.servers import SERVERS, check_port_free

        configure_logging()
        settings = _settings(args)
        check_port_free(settings.server.host, settings.server.port)  # before the catalog is indexed
        config_file = Path(args.config) if args.config else None

        def build() -> Callable:
            """The app from the configuration as it is now; where and how it listens (address, port,
            workers, threads, HTTP server, pid file) stays as started: the socket and workers are kept."""
            fresh = _settings(args)
            kept = {key: getattr(settings.server, key) for key in RESTART_ONLY} | {"pid_file": settings.server.pid_path}
            return create_app(fresh.model_copy(update={"server": fresh.server.model_copy(update=kept)}),
                              config_file=config_file)

        app = ReloadableApp(create_app(settings, config_file=config_file), build)
        server = settings.server
        server.pid_path.parent.mkdir(parents=True, exist_ok=True)
        log.info("serving", extra={"url": f"http://{server.host}:{server.port}/", "workers": server.workers,
                                   "http": server.http, "metrics_dir": metrics_dir})
        SERVERS[server.http](app, settings)
    return 0


def reload(args: argparse.Namespace) -> int:
    """Signal a running server to re-read its configuration (SIGHUP to its main process)."""
    from ogcserver.web.reload import NoServer, signal_reload

    if args.config:  # checked here first: an invalid file is reported at once, and not signalled
        try:
            server = load_settings(Path(args.config), {"port": args.port} if args.port else None).server
        except ConfigError as exc:
            print(f"{exc}\nogcserver: the server was not signalled and keeps its configuration", file=sys.stderr)
            return 2
    pid_file = Path(args.pid_file) if args.pid_file else server.pid_path
    try:
        pid = signal_reload(pid_file)
    except NoServer as exc:
        print(f"ogcserver: {exc}", file=sys.stderr)
        return 1
    print(f"reload signalled to process {pid}; the server logs whether the configuration was taken")
    return 0


def _print_hash(command: str) -> int:
    """Hashes for the access section, so plain secrets never go into a config file."""
    import getpass
    import hashlib

    secret = getpass.getpass("secret: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not secret:
        print("an empty secret is not accepted", file=sys.stderr)
        return 2
    if command == "hash-key":
        print(hashlib.sha256(secret.encode()).hexdigest())
    else:
        from ogcserver.web.auth import hash_password

        print(hash_password(secret))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ogcserver", description="Publish rasters as OGC web services.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="publish files, folders or a config file")
    p_serve.add_argument("paths", nargs="*", help="rasters (a layer each) or folders (a mosaic layer each)")
    p_serve.add_argument("-c", "--config", help="YAML configuration file")
    p_serve.add_argument("--bind", help="HOST:PORT to listen on")
    p_serve.add_argument("--host")
    p_serve.add_argument("--port", type=int)
    p_serve.add_argument("--workers", type=int)
    p_serve.add_argument("--data-dir", help="folder for the catalog index")
    p_serve.add_argument("--allow-vrt", action="store_true",
                         help="publish VRT files too (sources.allow_vrt: their sources must be plain files inside "
                              "the published files and folders)")
    p_reload = sub.add_parser("reload", help="have a running server re-read its configuration, with no failed request")
    p_reload.add_argument("-c", "--config", help="the server's configuration file (to find its pid file)")
    p_reload.add_argument("--port", type=int, help="the port the server was started on, if given on its command line")
    p_reload.add_argument("--pid-file", help="the server's pid file (default: DATA_DIR/ogcserver-PORT.pid)")
    p_check = sub.add_parser("validate-config", help="check a configuration file and report problems")
    p_check.add_argument("config")
    p_seed = sub.add_parser("seed", help="fill the tile cache ahead of use (resumes where it stopped)")
    p_seed.add_argument("-c", "--config", required=True)
    p_seed.add_argument("--layer", required=True, action="append", help="a layer; repeat for several")
    p_seed.add_argument("--tms", default="WebMercatorQuad", help="tile matrix set")
    p_seed.add_argument("--zoom", required=True, help="a zoom level or a range, e.g. 10-15")
    p_seed.add_argument("--bbox", help="minlon,minlat,maxlon,maxlat (default: the layer)")
    p_seed.add_argument("--polygon", help="a GeoJSON file (lon/lat): seed only the metatiles touching its polygons")
    p_seed.add_argument("--format", default="png", choices=["png", "jpg"])
    p_seed.add_argument("--workers", type=int, default=2)
    p_seed.add_argument("--dry-run", action="store_true", help="only count the tiles")
    p_seed.add_argument("--cluster", nargs="?", const="", metavar="local|tcp://HOST:PORT",
                        help="seed on a Dask cluster: this one, or alone, the configuration's analysis.cluster")
    p_cache = sub.add_parser("cache", help="inspect or truncate the tile cache")
    p_cache.add_argument("action", choices=["stats", "truncate"])
    p_cache.add_argument("-c", "--config", required=True)
    p_cache.add_argument("--layer")
    p_cache.add_argument("--tms", default="WebMercatorQuad")
    p_cache.add_argument("--zoom")
    p_cache.add_argument("--bbox")
    p_cache.add_argument("--tile", help="z/x/y of a single tile")
    p_cat = sub.add_parser("catalog", help="manage the items of catalog collections (mosaic datasets)")
    p_cat.add_argument("action", choices=["create", "add", "remove", "list", "query", "stats", "drop", "overviews"])
    p_cat.add_argument("collection", nargs="?")
    p_cat.add_argument("paths", nargs="*", help="add: files, folders or globs; remove: item ids")
    p_cat.add_argument("-c", "--config", required=True)
    p_cat.add_argument("--list", help="add: a file listing one raster path per line")
    p_cat.add_argument("--metadata", help="add: a CSV or JSON table of item metadata (path/id, datetime, ...)")
    p_cat.add_argument("--stac", action="append", help="add: a STAC Item, ItemCollection or Catalog file")
    p_cat.add_argument("--asset", help="add: the STAC asset to use (default: the first raster data asset)")
    p_cat.add_argument("--pattern", default="*.tif", help="add: file name pattern in folders")
    p_cat.add_argument("--variable", help="add: the variable of netCDF, HDF5 or Zarr files (one item each)")
    p_cat.add_argument("--band-files", default="auto",
                       help="add: a scene's single-band files as one item: auto (default), off, or tokens (B5,B4,B3)")
    p_cat.add_argument("--bbox", help="list/query: minlon,minlat,maxlon,maxlat")
    p_cat.add_argument("--datetime", help="list/query: a time or start/end range (ISO 8601)")
    p_cat.add_argument("--filter", help="list/query/remove: a CQL2-text filter")
    p_cat.add_argument("--sortby", help="list/query: an ordering, e.g. newest or by:eo:cloud_cover")
    p_cat.add_argument("--limit", type=int, help="list/query: at most this many items")
    p_cat.add_argument("--factor", type=int, default=8, help="overviews: level 0 is this many times coarser")
    p_cat.add_argument("--full", action="store_true", help="overviews: rebuild everything, not just changes")
    p_an = sub.add_parser("analysis", help="analysis jobs on a Dask cluster: products and zonal statistics")
    p_an.add_argument("action", choices=["run", "zonal"])
    p_an.add_argument("-c", "--config", required=True)
    p_an.add_argument("--layer", required=True)
    p_an.add_argument("--template", help="a processing template of the configuration")
    p_an.add_argument("--chain", help='an ad-hoc chain as JSON: {"bands": [..], "chain": [{"function": ..}]}')
    p_an.add_argument("--bbox", help="minx,miny,maxx,maxy in the output CRS (default: the layer's extent)")
    p_an.add_argument("--crs", help="the output CRS, EPSG:n (default: the layer's)")
    p_an.add_argument("--res", help="the output resolution in the CRS's units (default: the layer's)")
    p_an.add_argument("--time", help="a time or start/end range of the items to read (ISO 8601)")
    p_an.add_argument("--polygon", help="run: a GeoJSON file (lon/lat); pixels outside are nodata")
    p_an.add_argument("--out", help="run: the product's name (a new catalog collection)")
    p_an.add_argument("--overwrite", action="store_true", help="run: replace a product of the same name")
    p_an.add_argument("--zones", help="zonal: a GeoJSON file of polygons (lon/lat)")
    p_an.add_argument("--bins", type=int, help="zonal: histogram bins per zone and band")
    p_an.add_argument("--range", help="zonal: the histogram's low,high")
    p_an.add_argument("--cluster", help="local or tcp://scheduler:port (default: analysis.cluster)")
    sub.add_parser("hash-password", help="read a password from standard input and print its argon2 hash")
    sub.add_parser("hash-key", help="read an API key from standard input and print its SHA-256")
    args = parser.parse_args(argv)
    apply_gdal_options()
    try:
        if args.command in ("hash-password", "hash-key"):
            return _print_hash(args.command)
        if args.command == "seed":
            from ogcserver.seeding import run_seed

            return run_seed(Path(args.config), args.layer, args.tms, args.zoom, args.bbox, args.polygon, args.format,
                            args.workers, args.dry_run, args.cluster)
        if args.command == "analysis":
            settings = load_settings(Path(args.config))
            if (args.cluster or settings.analysis.cluster) == "local":
                start_worker_server()  # its imports run alongside this process's planning
            from ogcserver.analysing import commands

            if args.action == "run":
                if not args.out:
                    raise ValueError("give the product's name with --out")
                return commands.run_analysis(settings, args)
            if not args.zones:
                raise ValueError("give the zones with --zones FILE")
            return commands.run_zonal_command(settings, args)
        if args.command == "cache":
            from ogcserver.seeding import run_cache

            return run_cache(load_settings(Path(args.config)), args.action, args.layer, args.tms, args.zoom,
                             args.bbox, args.tile)
        if args.command == "catalog":
            from ogcserver.cataloging import run_catalog

            return run_catalog(load_settings(Path(args.config)), args.action, args.collection, args)
        if args.command == "validate-config":
            settings = load_settings(Path(args.config))
            layers = sum(len(s.layers) for s in settings.services)
            print(f"{args.config}: OK ({len(settings.services)} service(s), {layers} layer(s))")
            return 0
        if args.command == "reload":
            if not (args.config or args.pid_file):
                raise ConfigError("give -c CONFIG or --pid-file to find the running server")
            return reload(args)
        args.paths = args.paths or []
        return serve(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (OgcServerError, ValueError) as exc:
        print(f"ogcserver: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
