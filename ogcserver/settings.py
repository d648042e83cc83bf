"""Configuration: loaded once, validated with messages naming file, key and reason, then frozen.

Two ways in: a YAML file (``ogcserver serve -c ogcserver.yaml``) or a list of paths
(``ogcserver serve a.tif folder/``), which becomes one service with one layer per path.
Nothing below this module reads configuration or the environment. The parts the core reads
(limits, rendering, layers, the tile cache, grants, processing templates) are core types
(``core/config.py``, ``core/functions/templates.py``) composed here, so settings depends on the
core and never the reverse.
"""

from __future__ import annotations

import copy
import fnmatch
import ipaddress
import logging
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from ogcserver.core.config import (
    NAME_MAX,
    AnalysisConfig,
    CacheConfig,
    Frozen,
    GrantConfig,
    LayerConfig,
    Limits,
    Name,
    Rendering,
    ServiceDefinition,
)
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.model.band_files import band_stacks
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.object_urls import bucket_problem, is_object_url, split_url
from ogcserver.model.redaction import Secret
from ogcserver.model.safe_yaml import DocumentBounds, DocumentRefused, parse_document
from ogcserver.storage.catalogs.files import list_source_files, multidim_sources, raster_kinds
from ogcserver.storage.readers.multidim_vetting import is_multidim
from ogcserver.storage.readers.open_variables import HANDLE_BYTES

log = logging.getLogger(__name__)

# A file on disk is the operator's own, so its bounds are wide (a grant's area may hold tens of
# thousands of points); they still stop an alias bomb before it is expanded.
FILE_BOUNDS = DocumentBounds(max_nodes=2_000_000, max_depth=64)


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class Contact(Frozen):
    person: str = ""
    organization: str = ""
    position: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""
    city: str = ""
    postcode: str = ""
    country: str = ""


class UserConfig(Frozen):
    name: str = Field(min_length=1, max_length=128)
    password_hash: Annotated[str, Secret()] = Field(pattern=r"^\$(argon2(id|i|d)|2[aby])\$")  # argon2 or bcrypt
    groups: tuple[str, ...] = ()


class ApiKeyConfig(Frozen):
    name: str = Field(min_length=1, max_length=128)
    key_sha256: Annotated[str, Secret()] = Field(pattern=r"^[0-9a-f]{64}$")  # hex SHA-256 of the key; the key is never stored
    groups: tuple[str, ...] = ()


class JwtConfig(Frozen):
    issuer: str
    audience: str
    jwks_file: Path | None = None
    jwks_url: Annotated[str | None, Secret("url")] = None
    algorithms: tuple[Literal["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"], ...] = ("RS256", "ES256")
    user_claim: str = "sub"
    groups_claim: str = "groups"
    leeway_seconds: int = Field(30, ge=0, le=600)

    @model_validator(mode="after")
    def _one_key_source(self) -> JwtConfig:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks_file or jwks_url")
        return self


class ProxyConfig(Frozen):
    user_header: str = "X-Remote-User"
    groups_header: str = "X-Remote-Groups"
    trusted: tuple[str, ...] = Field(min_length=1)  # client addresses or networks (CIDR)


class RateLimits(Frozen):
    per_principal_per_minute: int | None = Field(None, ge=1)
    per_address_per_minute: int | None = Field(None, ge=1)
    concurrent_per_principal: int | None = Field(None, ge=1)


class LoginLimits(Frozen):
    """Bounds on password checks: each argon2 check costs about 0.1 s and 64 MiB of memory.

    Counted in each worker process (with N workers an address gets up to N times the failures)."""

    failures_per_address: int = Field(10, ge=1, le=100_000)  # failed attempts in the window, then 429
    failure_window_seconds: float = Field(300.0, gt=0, le=86_400)
    concurrent_hashes: int = Field(2, ge=1, le=64)  # password hashes computed at once per worker process
    hash_wait_seconds: float = Field(2.0, ge=0, le=30)  # wait for a hashing slot, then 503


class AccessConfig(Frozen):
    """Without this section every layer is open to everyone."""

    realm: str = "ogcserver"
    users: tuple[UserConfig, ...] = ()
    users_file: Path | None = None
    api_keys: tuple[ApiKeyConfig, ...] = ()
    jwt: JwtConfig | None = None
    proxy: ProxyConfig | None = None
    grants: tuple[GrantConfig, ...] = ()
    rate_limits: RateLimits = RateLimits()
    login: LoginLimits = LoginLimits()


class ServiceConfig(Frozen):
    name: Name
    title: str = ""
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    fees: str = "none"
    access_constraints: str = "none"
    contact: Contact | None = None
    crs: tuple[str, ...] = ()
    limits: Limits | None = None
    allow_processing: bool = False  # ad-hoc processing chains in requests (RENDERINGRULE), for callers granted "process"
    allow_download: bool = False  # items' original files, for callers granted "download"
    layers: tuple[LayerConfig, ...] = Field(min_length=1)

    @field_validator("crs")
    @classmethod
    def _crs_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return LayerConfig._crs_codes(value)


class CatalogConfig(Frozen):
    """Where collections live: an SQLite file (one machine) or PostgreSQL/PostGIS (shared)."""

    backend: Literal["sqlite", "postgis"] = "sqlite"
    path: Path | None = None  # sqlite: default DATA_DIR/catalog.sqlite
    dsn: Annotated[str | None, Secret("dsn")] = None    # postgis: a libpq connection string, e.g. "dbname=ogc host=db"

    @model_validator(mode="after")
    def _dsn_for_postgis(self) -> CatalogConfig:
        if self.backend == "postgis" and not self.dsn:
            raise ValueError("the postgis catalog needs a 'dsn'")
        return self


class SourcesConfig(Frozen):
    """What a file must be to be published; checked when it is registered (a refused file is
    recorded with its reason and logged once) and, for its format and VRT sources, at every open."""

    allow_vrt: bool = False  # VRTs name other files; even allowed, only plain sources inside `roots`
    roots: tuple[Path, ...] = ()  # where VRT sources may point (default: the layers' files and folders; a VRT file's folder)
    # 2^18: beyond any single file of public products (WorldCover tiles 36,000, GEBCO 86,400);
    # larger data is published as a folder of tiles
    max_side: int = Field(262_144, ge=1, le=2**31 - 1)
    # above every imaging spectrometer (AVIRIS-NG 425 bands, EnMAP 242); each band costs in every
    # capabilities document and description
    max_bands: int = Field(1024, ge=1, le=65_535)
    max_block_bytes: int = Field(64 * 2**20, ge=1024)  # a tile or strip is decoded whole to read a pixel
    max_uncompressed_ratio: float = Field(16.0, ge=1)  # declared pixel bytes / file size, uncompressed TIFFs
    overviews_required_above: int | None = Field(16_384, ge=256)  # pixels a side; null: never required
    # HDF5's chunk cache of each open netCDF-4/HDF5 variable with compressed chunks, so the tiles of
    # one step inflate its chunks once (uncompressed chunks are read without one); held per open file
    multidim_chunk_cache_mb: int = Field(16, ge=0, le=1024)
    # netCDF/HDF5/Zarr variables each worker keeps open (least recently used closed first): a
    # series or reduction over a folder of daily files opens each file once, not once a request
    # (an open costs ~0.25 s: xarray decodes the coordinates); each holds a file handle and at
    # most its chunk cache, filled only by the chunks read. Both are maxima: the open variables
    # and their caches together hold at most an eighth of a worker's memory share (server.memory_mb),
    # about 1 MiB a variable plus the chunks read (32 variables of the default 256 MiB share)
    multidim_max_open: int = Field(128, ge=1, le=4096)
    # a buffer each worker thread keeps for strided reads of netCDF-4/HDF5 windows (a zoomed-out
    # view reads its window whole and keeps every n-th cell): reading into a new array instead maps
    # fresh pages every request, which cost as much as the read; 0: no buffer. Within a quarter of
    # the open variables' memory, shared by the worker's threads
    multidim_read_buffer_mb: int = Field(8, ge=0, le=256)


class S3Config(Frozen):
    """S3-compatible object storage: where sources (``s3://bucket/key``) are read from and the
    ``s3`` tile cache writes. Unset values come from the standard AWS environment variables and
    files. Secrets are SecretStr: shown as '**********' in any dump of the settings."""

    endpoint_url: str | None = Field(None, pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+(/[^?#\s]*)?$")
    region: str | None = Field(None, pattern=r"^[a-z0-9\-]{1,32}$")
    access_key_id: Annotated[SecretStr | None, Secret()] = None
    secret_access_key: Annotated[SecretStr | None, Secret()] = None
    session_token: Annotated[SecretStr | None, Secret()] = None
    virtual_hosting: bool = False  # bucket.host/key instead of host/bucket/key (path style, as local servers need)
    # buckets whose objects may be published (besides those of layer sources); nothing else is read
    buckets: tuple[str, ...] = ()
    # GDAL's cache of byte ranges read from objects, per process (CPL_VSIL_CURL_CACHE_SIZE): a
    # working set that fits reads at local speed once warm, one that does not goes back to the store
    read_cache_mb: int = Field(64, ge=1, le=65_536)

    @field_validator("buckets")
    @classmethod
    def _bucket_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for bucket in value:
            if (problem := bucket_problem(bucket)) is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _key_pair(self) -> S3Config:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither")
        return self


class StorageConfig(Frozen):
    s3: S3Config = S3Config()


MIB = 1024 * 1024
WORKER_MEMORY_DEFAULT = 256 * MIB
MIN_WORKER_MEMORY_MB = 64  # a worker's interpreter and libraries alone take about this much
# The part of a worker's share GDAL's block cache may hold: the rest is for the requests' own
# arrays (a 2048 px map holds its bands and its picture). At 1/8 (32 MiB of the default share),
# workers peak at 250-260 MiB under the mixed load of tests/system/test_worker_memory.py; at 1/16
# the peer benchmark's mosaic maps were 5-14% slower.
GDAL_CACHE_SHARE = 8
# The part of a worker's share its open netCDF/HDF5/Zarr variables may hold together (each an
# estimated HANDLE_BYTES plus the chunks its reads left in its chunk cache): 32 MiB of the
# default share, as much as GDAL's block cache
MULTIDIM_SHARE = 8


# A serialized origin (Fetch standard): scheme "://" host, an optional port, nothing else.
ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?$")
HTTP_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
MAX_ORIGIN_LENGTH = 256


class CorsConfig(Frozen):
    """Which other web origins may read the anonymous-readable routes from a browser.

    ``origins: ["*"]`` lets every page read them without credentials; a list names the pages
    that may. Only ``credentials_origins`` get ``Access-Control-Allow-Credentials`` (their
    exact origin echoed, never ``*``). ``origins: []`` and no credentials origins: CORS off.
    """

    origins: tuple[str, ...] = ("*",)
    methods: tuple[str, ...] = ("GET", "HEAD", "POST")
    headers: tuple[str, ...] = ("Authorization", "Content-Type", "X-Api-Key", "If-None-Match", "If-Modified-Since")
    expose_headers: tuple[str, ...] = ("ETag", "Last-Modified", "Retry-After", "WWW-Authenticate",
                                       "Content-Disposition", "Server-Timing")
    credentials_origins: tuple[str, ...] = ()
    max_age: int = Field(600, ge=0, le=86_400)  # seconds a browser may keep a preflight's answer

    @field_validator("origins", "credentials_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        normal = tuple(origin.lower() for origin in value)
        for origin in normal:
            if origin != "*" and (len(origin) > MAX_ORIGIN_LENGTH or not ORIGIN.match(origin)):
                raise ValueError(f"'{origin}' is not an origin (scheme://host[:port], no path or trailing slash)")
        if "*" in normal and len(normal) > 1:
            raise ValueError("'*' stands for every origin: list it alone")
        return normal

    @field_validator("methods", "headers", "expose_headers")
    @classmethod
    def _tokens(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not HTTP_TOKEN.match(name):
                raise ValueError(f"'{name}' is not an HTTP method or header name")
        return value

    @field_validator("methods")
    @classmethod
    def _upper_methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(method.upper() for method in value)

    @model_validator(mode="after")
    def _no_wildcard_credentials(self) -> CorsConfig:
        if "*" in self.credentials_origins:
            raise ValueError("credentials_origins must name origins: '*' with credentials would let every site "
                             "read what a signed-in user may read")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.origins or self.credentials_origins)


class ServerConfig(Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(1, ge=1, le=64)  # per worker; GDAL, numpy and zlib release the GIL
    http: Literal["granian", "gunicorn"] = "granian"  # the HTTP server running the workers
    public_url: str | None = None
    # reverse proxies whose X-Forwarded-Proto/-Host/-Prefix headers say the public URL, and whose
    # X-Forwarded-For says the client's address (addresses or CIDRs)
    trusted_proxies: tuple[str, ...] = ()
    # client addresses (CIDRs) that may read /metrics; empty: nobody. Scrapers are usually local
    # or on a known network, and the figures (layers, load) are not for the public.
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    data_dir: Path = Path(".ogcserver")
    index_refresh_seconds: float = Field(10.0, ge=0)
    access_log: bool = True
    max_open_datasets: int = Field(64, ge=1, le=4096)
    # Requests one client (an authenticated principal, or an anonymous caller's address) may
    # have in progress at once across all workers; more get 429 with Retry-After at once.
    # Default: half of the server's workers x threads (at least 1), so a flood leaves the rest
    # to other callers. 0 turns the limit off.
    concurrent_per_client: int | None = Field(None, ge=0, le=4096)
    # Memory for all workers together (MiB); unset: 256 MiB per worker. Each worker's share
    # bounds GDAL's block cache (a sixteenth of it, at least 16 MiB; otherwise 5% of the machine's
    # RAM in every process), its open datasets (one per 4 MiB, split over its threads) and its open
    # netCDF/HDF5/Zarr variables with their chunk caches (an eighth of it).
    memory_mb: int | None = Field(None, ge=64)
    # Who gets a Server-Timing header (select, read, warp, functions, encode) on rendered answers:
    # off by default for anonymous callers, since phase times tell an outsider about the sources.
    timing: Literal["off", "authenticated", "all"] = "authenticated"
    # where the server's main process writes its process id, for `ogcserver reload`;
    # default DATA_DIR/ogcserver-PORT.pid (one per port: servers sharing a data folder stay apart)
    pid_file: Path | None = None

    @property
    def pid_path(self) -> Path:
        return self.pid_file or self.data_dir / f"ogcserver-{self.port}.pid"

    @property
    def client_share(self) -> int | None:
        """The per-client limit in force (None: none)."""
        if self.concurrent_per_client is None:
            return max(1, self.workers * self.threads // 2)
        return self.concurrent_per_client or None

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"'{network}' is not an IP address or network (CIDR)") from None
        return value

    @model_validator(mode="after")
    def _memory_per_worker(self) -> ServerConfig:
        if self.memory_mb is not None and self.memory_mb < MIN_WORKER_MEMORY_MB * self.workers:
            raise ValueError(f"memory_mb {self.memory_mb} leaves less than {MIN_WORKER_MEMORY_MB} MiB to each of "
                             f"{self.workers} workers")
        return self

    @property
    def worker_memory_bytes(self) -> int:
        total = self.memory_mb * MIB if self.memory_mb is not None else WORKER_MEMORY_DEFAULT * self.workers
        return total // self.workers

    @property
    def gdal_cache_bytes(self) -> int:
        return max(16 * MIB, self.worker_memory_bytes // GDAL_CACHE_SHARE)

    @property
    def open_datasets(self) -> int:
        """Handles each thread's pool keeps open: the configured maximum, within the memory share."""
        by_memory = self.worker_memory_bytes // (4 * MIB) // self.threads
        return max(4, min(self.max_open_datasets, by_memory))

    @property
    def multidim_memory(self) -> int:
        """What the netCDF/HDF5/Zarr variables a worker keeps open may hold together."""
        return self.worker_memory_bytes // MULTIDIM_SHARE

    def multidim_open(self, configured: int) -> int:
        """Variables a worker keeps open: the configured maximum, within its memory for them."""
        return max(1, min(configured, self.multidim_memory // HANDLE_BYTES))

    def multidim_read_buffer(self, configured: int) -> int:
        """A thread's buffer for strided reads: the configured size, the threads' buffers within
        a quarter of the memory for open variables."""
        return min(configured, self.multidim_memory // 4 // self.threads)

    def multidim_chunk_cache(self, configured: int) -> int:
        """One variable's chunk cache: the configured size, within half the memory for them all,
        so one variable's cache never closes every other."""
        return min(configured, self.multidim_memory // 2)


class AdminConfig(Frozen):
    """Bounds on configuration documents sent to the admin API (``/admin``, for callers granted
    "admin"), checked before and while parsing, so a hostile body costs no more than these."""

    max_config_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    max_config_nodes: int = Field(100_000, ge=100, le=10_000_000)  # values, aliases counted expanded
    max_config_depth: int = Field(64, ge=8, le=512)
    max_jobs: int = Field(4, ge=1, le=64)  # background seeds running at once
    max_seed_tiles: int = Field(1_000_000, ge=1)  # larger seeds are for `ogcserver seed`

    @property
    def bounds(self) -> DocumentBounds:
        return DocumentBounds(self.max_config_nodes, self.max_config_depth)


class Settings(Frozen):
    title: str = "ogcserver"
    abstract: str = "Imagery and rasters published as OGC services"
    keywords: tuple[str, ...] = ()
    contact: Contact = Contact()
    fees: str = "none"
    access_constraints: str = "none"
    crs: tuple[str, ...] = ("EPSG:4326", "CRS:84", "EPSG:3857")
    server: ServerConfig = ServerConfig()
    cors: CorsConfig = CorsConfig()
    limits: Limits = Limits()
    rendering: Rendering = Rendering()
    cache: CacheConfig = CacheConfig()
    catalog: CatalogConfig = CatalogConfig()
    sources: SourcesConfig = SourcesConfig()
    storage: StorageConfig = StorageConfig()
    processing: tuple[ProcessingTemplate, ...] = ()
    analysis: AnalysisConfig = AnalysisConfig()
    services: tuple[ServiceConfig, ...] = Field(min_length=1)
    access: AccessConfig | None = None
    admin: AdminConfig = AdminConfig()

    @field_validator("crs")
    @classmethod
    def _crs_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return LayerConfig._crs_codes(value)

    @model_validator(mode="after")
    def _styles_name_templates(self) -> Settings:
        names = {t.name for t in self.processing}
        for service in self.services:
            for layer in service.layers:
                for style in layer.styles:
                    if style not in names:
                        raise ValueError(f"layer '{layer.name}' offers style '{style}', which no processing template defines")
                if layer.default_style != "default" and layer.default_style not in layer.styles:
                    raise ValueError(f"layer '{layer.name}': default_style must be 'default' or one of its styles")
        return self

    def template(self, name: str) -> ProcessingTemplate | None:
        return next((t for t in self.processing if t.name == name), None)

    @model_validator(mode="after")
    def _grants_name_what_exists(self) -> Settings:
        if self.access is None:
            return self
        layers = {s.name: {layer.name for layer in s.layers} for s in self.services}
        for grant in self.access.grants:
            if grant.server_wide:
                continue
            if grant.service not in layers:
                raise ValueError(f"a grant names service '{grant.service}', which is not configured")
            for name in grant.layers:
                if name not in layers[grant.service]:
                    raise ValueError(f"a grant names layer '{name}', which service '{grant.service}' does not have")
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        for service in self.services:
            if service.name in seen:
                raise ValueError(f"service name '{service.name}' is used twice")
            seen.add(service.name)
        layer_names: set[str] = set()
        for service in self.services:
            for layer in service.layers:
                if layer.name in layer_names or layer.name in seen - {service.name}:
                    raise ValueError(f"layer name '{layer.name}' is used twice")
                layer_names.add(layer.name)
        return self

    def limits_for(self, service: ServiceDefinition) -> Limits:
        return self.limits.merged(service.limits)

    @property
    def source_buckets(self) -> tuple[str, ...]:
        """Buckets whose objects may be published: the configured ones and those layers name."""
        named = (split_url(layer.source)[0] for s in self.services for layer in s.layers
                 if isinstance(layer.source, str))
        products = (split_url(self.analysis.output_url)[0],) if self.analysis.output_url else ()
        return tuple(dict.fromkeys((*self.storage.s3.buckets, *named, *products)))

    @property
    def products_dir(self) -> Path:
        """Where analysis products and job records live."""
        return self.analysis.output_dir or self.server.data_dir / "products"


def _format_error(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid configuration"]
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "(top level)"
        lines.append(f"  {source}: {key}: {error['msg']}")
    return "\n".join(lines)


def _check_sources(settings: Settings, source: str) -> None:
    problems = []
    for si, service in enumerate(settings.services):
        for li, layer in enumerate(service.layers):
            if layer.local_source is not None and not layer.local_source.exists():
                problems.append(
                    f"  {source}: services.{si}.layers.{li}.source: '{layer.source}' does not exist"
                )
    if problems:
        raise ConfigError("\n".join([f"{source}: invalid configuration", *problems]))


def _resolve_paths(raw: dict, base: Path) -> dict:
    """Make layer sources and the data directory relative to the config file's folder."""
    for service in raw.get("services") or []:
        if not isinstance(service, dict):
            continue
        for layer in service.get("layers") or []:
            if isinstance(layer, dict) and isinstance(layer.get("source"), str) and not is_object_url(layer["source"]):
                layer["source"] = str((base / layer["source"]).resolve())
    for section in ("cache", "catalog"):
        part = raw.get(section)
        if isinstance(part, dict) and isinstance(part.get("path"), str):
            part["path"] = str((base / part["path"]).resolve())
    analysis = raw.get("analysis")
    if isinstance(analysis, dict) and isinstance(analysis.get("output_dir"), str):
        analysis["output_dir"] = str((base / analysis["output_dir"]).resolve())
    sources = raw.get("sources")
    if isinstance(sources, dict) and isinstance(sources.get("roots"), list):
        sources["roots"] = [str((base / r).resolve()) if isinstance(r, str) else r for r in sources["roots"]]
    server = raw.get("server")
    for key in ("data_dir", "pid_file"):
        if isinstance(server, dict) and isinstance(server.get(key), str):
            server[key] = str((base / server[key]).resolve())
    access = raw.get("access")
    if isinstance(access, dict):
        if isinstance(access.get("users_file"), str):
            access["users_file"] = str((base / access["users_file"]).resolve())
        jwt = access.get("jwt")
        if isinstance(jwt, dict) and isinstance(jwt.get("jwks_file"), str):
            jwt["jwks_file"] = str((base / jwt["jwks_file"]).resolve())
    return raw


def load_settings(path: Path, overrides: dict | None = None) -> Settings:
    """Read, validate and freeze a YAML config file."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file ({exc.strerror})") from exc
    return settings_from_document(parse_config_text(text, source, FILE_BOUNDS), source, path.resolve().parent, overrides)


def parse_config_text(text: str, source: str, bounds: DocumentBounds) -> Any:
    """A configuration document's plain values: safe YAML (JSON is YAML) within ``bounds``."""
    try:
        return parse_document(text, bounds)
    except DocumentRefused as exc:
        raise ConfigError(f"{source}: {exc}") from None


def settings_from_document(raw: Any, source: str, base: Path, overrides: dict | None = None) -> Settings:
    """Validate and freeze a parsed configuration document; relative paths are taken from
    ``base`` (the file's folder), problems are worded with ``source`` (the file's name)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    raw = _resolve_paths(copy.deepcopy(raw), base)
    if overrides:
        server = raw.setdefault("server", {})
        if not isinstance(server, dict):
            raise ConfigError(f"{source}: server: must be a mapping of keys")
        server.update(overrides)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(source, exc)) from exc
    _check_sources(settings, source)
    return _with_users_file(settings)


def _with_users_file(settings: Settings) -> Settings:
    """Merge a separate users file (a YAML list of users) into the access settings."""
    access = settings.access
    if access is None or access.users_file is None:
        return settings
    source = str(access.users_file)
    try:
        raw = parse_document(access.users_file.read_text(encoding="utf-8"))
    except (OSError, DocumentRefused) as exc:
        raise ConfigError(f"{source}: cannot read the users file ({exc})") from exc
    try:
        users = tuple(UserConfig.model_validate(u) for u in (raw or []))
    except (ValidationError, TypeError) as exc:
        detail = _format_error(source, exc) if isinstance(exc, ValidationError) else f"{source}: a list of users is expected"
        raise ConfigError(detail) from exc
    return settings.model_copy(update={"access": access.model_copy(update={"users": access.users + users})})


def layer_name_for(path: Path) -> str:
    """A file's or folder's name as a name valid in every protocol (NAME_PATTERN), always the same
    for the same path: accents dropped (é -> e), each run of other characters outside A-Z, a-z,
    0-9, '_' and '-' (dots, spaces, non-Latin letters) replaced by one '_', 'l_' put before a
    leading digit or '-', cut to NAME_MAX characters."""
    stem = path.name if path.is_dir() else path.stem
    plain = "".join(c for c in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(c))
    name = re.sub(r"[^A-Za-z0-9_\-]+", "_", plain)
    if not re.search(r"[A-Za-z0-9]", name):
        name = "layer"
    if not re.match(r"[A-Za-z_]", name):
        name = f"l_{name}"
    return name[:NAME_MAX]


def _unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... if it is taken; compared without case, as case-blind
    file systems (tile caches, KML files) and clients would."""
    candidate, n = name, 2
    while candidate.lower() in used:
        suffix = f"_{n}"
        candidate, n = name[: NAME_MAX - len(suffix)] + suffix, n + 1
    used.add(candidate.lower())
    return candidate


def variable_layers(path: Path, used: set[str]) -> list[dict]:
    """A layer per publishable variable of a netCDF, HDF5 or Zarr source, named
    ``<file>_<variable>`` by the rule of ``layer_name_for`` (``air_temperature.nc``'s ``air``:
    ``air_temperature_air``), titled by the catalog from the variable's long_name. A file that
    cannot be opened, or has no such variable, stays one layer without a variable, which the
    catalog leaves out and logs once with the reason; each variable left out is logged once."""
    from ogcserver.storage.readers.xarray_reader import publishable_variables  # xarray only where needed

    try:
        found, refused = publishable_variables(str(path))
    except SourceUnavailable:
        found, refused = [], {}
    for variable, reason in refused.items():
        log.warning("variable left out", extra={"path": str(path), "variable": variable, "reason": reason})
    if not found:
        name = _unique_name(layer_name_for(path), used)
        return [{"name": name, "title": name, "source": str(path.resolve())}]
    stem = layer_name_for(path.with_suffix(""))
    return [{"name": _unique_name(layer_name_for(Path(f"{stem}_{variable}.nc"))[:NAME_MAX], used),
             "source": str(path.resolve()), "variable": variable} for variable in found]


def collection_layers(folder: Path, cubes: list[Path], used: set[str]) -> list[dict]:
    """A layer per variable spanning every file of a folder of netCDF (or HDF5) files that all
    hold the same variables (a file per time step, model run or tile), named
    ``<folder>_<variable>``; none when the files differ, which then stay a layer per file."""
    if len(cubes) < 2 or len({c.suffix.lower() for c in cubes}) != 1 or any(c.is_dir() for c in cubes):
        return []
    from ogcserver.storage.readers.xarray_reader import publishable_variables  # xarray only where needed

    try:
        variables = {tuple(publishable_variables(str(c))[0]) for c in cubes}
    except SourceUnavailable:
        return []
    if len(variables) != 1 or not next(iter(variables)):
        return []
    stem = layer_name_for(folder)
    return [{"name": _unique_name(layer_name_for(Path(f"{stem}_{variable}.nc"))[:NAME_MAX], used),
             "source": str(folder.resolve()), "pattern": f"*{cubes[0].suffix.lower()}", "variable": variable}
            for variable in next(iter(variables))]


# the raster files a zero-configuration folder layer takes, the first of these that any file matches
FOLDER_PATTERNS = ("*.tif", "*.tiff", "*.jp2", "*.img", "*.hgt", "*.hgt.zip", "*.dt1", "*.dt2")


def folder_pattern(folder: Path) -> tuple[str, list[Path]]:
    """The file pattern of a zero-configuration folder layer and the files it matches: GeoTIFFs,
    else the first other raster format found (a folder of SRTM ``.hgt.zip`` tiles)."""
    for pattern in FOLDER_PATTERNS:
        files = [Path(path) for path, _mtime, _size in list_source_files(folder, pattern)]
        if files:
            return pattern, files
    return FOLDER_PATTERNS[0], []


def folder_layers(folder: Path, used: set[str], found: tuple[str, list[Path]] | None = None) -> list[dict]:
    """A folder whose rasters are of one kind (band count and data type) is one mosaic layer. A
    folder mixing kinds, such as a data folder holding dem/, ortho/ and landcover/, is a layer per
    subfolder and per raster beside them, each by the same rule: rasters that cannot be drawn as
    one picture are never made one mosaic. ``found``: the folder's ``folder_pattern``, when known."""
    pattern, files = found or folder_pattern(folder)
    if len(raster_kinds(files)) <= 1:
        name = _unique_name(layer_name_for(folder), used)
        return [{"name": name, "title": name, "source": str(folder.resolve()),
                 **({"pattern": pattern} if pattern != FOLDER_PATTERNS[0] else {})}]
    log.info("folder of several kinds of rasters: a layer per subfolder and file", extra={"path": str(folder)})
    layers: list[dict] = []
    children = [c for c in sorted(folder.iterdir()) if not c.name.startswith(".") and not is_multidim(str(c))]
    rasters = [str(c) for c in children if c.is_file() and any(fnmatch.fnmatch(c.name.lower(), p) for p in FOLDER_PATTERNS)]
    stacks, alone = band_stacks(rasters)
    for stack in stacks:  # a scene's band files beside other rasters: a layer of their own, read as one raster
        name = _unique_name(layer_name_for(Path(f"{stack.name}.tif")), used)
        pattern = "".join(f"[{c}]" if c in "*?[]" else c for c in stack.head) + "*" + stack.tail
        layers.append({"name": name, "title": name, "source": str(folder.resolve()), "pattern": pattern})
    for child in children:
        if child.is_dir():
            inside = folder_pattern(child)
            layers += folder_layers(child, used, inside) if inside[1] else []
        elif str(child) in alone:
            name = _unique_name(layer_name_for(child), used)
            layers.append({"name": name, "title": name, "source": str(child.resolve())})
    return layers


def settings_from_paths(paths: list[Path], overrides: dict | None = None) -> Settings:
    """Zero configuration: one service, a layer per file (per variable of a multidimensional
    file), and for a folder a mosaic layer of its rasters plus a layer per variable of each
    multidimensional file in it, or, when those files all hold the same variables, a layer per
    variable spanning them all."""
    layers: list[dict] = []
    used = {"data"}  # the service's name
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: does not exist")
        if is_multidim(str(path)):
            layers += variable_layers(path, used)
            continue
        cubes = multidim_sources(path) if path.is_dir() else []
        spanning = collection_layers(path, cubes, used)
        layers += spanning
        for cube in [] if spanning else cubes:
            layers += variable_layers(cube, used)
        if path.is_dir():
            found = folder_pattern(path)
            if found[1] or not cubes:  # a folder of multidimensional files only: no empty mosaic beside them
                layers += folder_layers(path, used, found)  # an empty folder too: the catalog says why it is left out
            continue
        name = _unique_name(layer_name_for(path), used)
        layers.append({"name": name, "title": name, "source": str(path.resolve())})
    raw: dict = {"services": [{"name": "data", "title": "Published data", "layers": layers}]}
    if overrides:
        raw["server"] = dict(overrides)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error("command line", exc)) from exc
