"""Configuration: loaded once, validated with messages naming file, key and reason, then frozen.

Two ways in: a YAML file (``ogcserver serve -c ogcserver.yaml``) or a list of paths
(``ogcserver serve a.tif folder/``), which becomes one service with one layer per path.
Nothing below this module reads configuration or the environment. The parts the core reads
(limits, rendering, layers, the tile cache, grants, processing templates) are core types
(``core/config.py``, ``core/functions/templates.py``) composed here, so settings depends on the
core and never the reverse.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

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
    password_hash: str = Field(pattern=r"^\$(argon2(id|i|d)|2[aby])\$")  # argon2 or bcrypt
    groups: tuple[str, ...] = ()


class ApiKeyConfig(Frozen):
    name: str = Field(min_length=1, max_length=128)
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # hex SHA-256 of the key; the key is never stored
    groups: tuple[str, ...] = ()


class JwtConfig(Frozen):
    issuer: str
    audience: str
    jwks_file: Path | None = None
    jwks_url: str | None = None
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
    dsn: str | None = None    # postgis: a libpq connection string, e.g. "dbname=ogc host=db"

    @model_validator(mode="after")
    def _dsn_for_postgis(self) -> CatalogConfig:
        if self.backend == "postgis" and not self.dsn:
            raise ValueError("the postgis catalog needs a 'dsn'")
        return self


class SourcesConfig(Frozen):
    """What a file must be to be published; checked when it is registered (a refused file is
    recorded with its reason and logged once) and, for its format and VRT sources, at every open."""

    allow_vrt: bool = False  # VRTs name other files; even allowed, only plain sources inside `roots`
    roots: tuple[Path, ...] = ()  # where VRT sources may point (default: the layers' files and folders)
    # 2^18: beyond any single file of public products (WorldCover tiles 36,000, GEBCO 86,400);
    # larger data is published as a folder of tiles
    max_side: int = Field(262_144, ge=1, le=2**31 - 1)
    # above every imaging spectrometer (AVIRIS-NG 425 bands, EnMAP 242); each band costs in every
    # capabilities document and description
    max_bands: int = Field(1024, ge=1, le=65_535)
    max_block_bytes: int = Field(64 * 2**20, ge=1024)  # a tile or strip is decoded whole to read a pixel
    max_uncompressed_ratio: float = Field(16.0, ge=1)  # declared pixel bytes / file size, uncompressed TIFFs
    overviews_required_above: int | None = Field(16_384, ge=256)  # pixels a side; null: never required
MIB = 1024 * 1024
WORKER_MEMORY_DEFAULT = 256 * MIB
MIN_WORKER_MEMORY_MB = 64  # a worker's interpreter and libraries alone take about this much
# The part of a worker's share GDAL's block cache may hold: the rest is for the requests' own
# arrays (a 2048 px processed map holds several float32 copies of its view). At 1/8, workers of the
# default share peaked just above 300 MiB under the mixed load of tests/system/test_worker_memory.py.
GDAL_CACHE_SHARE = 16


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
    # RAM in every process) and its open datasets (one per 4 MiB, split over its threads).
    memory_mb: int | None = Field(None, ge=64)

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


class Settings(Frozen):
    title: str = "ogcserver"
    abstract: str = "Imagery and rasters published as OGC services"
    keywords: tuple[str, ...] = ()
    contact: Contact = Contact()
    fees: str = "none"
    access_constraints: str = "none"
    crs: tuple[str, ...] = ("EPSG:4326", "CRS:84", "EPSG:3857")
    server: ServerConfig = ServerConfig()
    limits: Limits = Limits()
    rendering: Rendering = Rendering()
    cache: CacheConfig = CacheConfig()
    catalog: CatalogConfig = CatalogConfig()
    sources: SourcesConfig = SourcesConfig()
    processing: tuple[ProcessingTemplate, ...] = ()
    analysis: AnalysisConfig = AnalysisConfig()
    services: tuple[ServiceConfig, ...] = Field(min_length=1)
    access: AccessConfig | None = None

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
            if layer.source is not None and not layer.source.exists():
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
            if isinstance(layer, dict) and isinstance(layer.get("source"), str):
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
    if isinstance(server, dict) and isinstance(server.get("data_dir"), str):
        server["data_dir"] = str((base / server["data_dir"]).resolve())
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
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    raw = _resolve_paths(raw, path.resolve().parent)
    if overrides:
        raw.setdefault("server", {}).update(overrides)
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
        raw = yaml.safe_load(access.users_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
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


def settings_from_paths(paths: list[Path], overrides: dict | None = None) -> Settings:
    """Zero configuration: one service, a layer per file and a mosaic layer per folder."""
    layers = []
    used = {"data"}  # the service's name
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: does not exist")
        name = _unique_name(layer_name_for(path), used)
        layers.append({"name": name, "title": name, "source": str(path.resolve())})
    raw: dict = {"services": [{"name": "data", "title": "Published data", "layers": layers}]}
    if overrides:
        raw["server"] = dict(overrides)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error("command line", exc)) from exc
