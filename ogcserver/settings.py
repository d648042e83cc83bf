"""Configuration: loaded once, validated with messages naming file, key and reason, then frozen.

Two ways in: a YAML file (``ogcserver serve -c ogcserver.yaml``) or a list of paths
(``ogcserver serve a.tif folder/``), which becomes one service with one layer per path.
Nothing below this module reads configuration or the environment.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ogcserver.core.functions.library import AnyFunction
from ogcserver.model.catalog import TimeRange
from ogcserver.model.errors import InvalidValue
from ogcserver.model.mosaic import Operator, Ordering, parse_ordering
from ogcserver.model.time import parse_time

# Service, layer and template names are identifiers in every protocol at once: WMS Name, WMTS
# Identifier and the id of the layer's tile matrix set (morecantile allows only [\w-]), WCS
# CoverageId (an NCName: no leading digit, '-' or '.', no colon), KML and URL path segments.
NAME_MAX = 64
NAME_PATTERN = rf"^[A-Za-z_][A-Za-z0-9_\-]{{0,{NAME_MAX - 1}}}$"
CRS_PATTERN = re.compile(r"^(EPSG:\d{1,6}|CRS:84)$")


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


def _valid_name(value: str) -> str:
    if not re.fullmatch(NAME_PATTERN, value):
        raise ValueError(f"'{value[:80]}' is not a valid name: it must start with a letter or '_' and hold only "
                         f"letters A-Z, digits, '_' and '-' (at most {NAME_MAX}), as WMS, WMTS, WCS and URLs need")
    return value


Name = Annotated[str, AfterValidator(_valid_name)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class Limits(Frozen):
    """Per-request limits, with defaults safe for a public server."""

    max_width: int = Field(4096, ge=1, le=65536)
    max_height: int = Field(4096, ge=1, le=65536)
    max_pixels: int = Field(16_777_216, ge=1)
    max_layers: int = Field(16, ge=1, le=1000)
    max_items: int = Field(64, ge=1, le=100_000)
    render_timeout: float = Field(30.0, gt=0, le=3600)
    max_query_length: int = Field(8192, ge=256, le=1_000_000)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    # A WCS coverage is written to a temporary file and streamed, so this bounds disk and
    # transfer, not memory; maps are bounded by max_width/max_height/max_pixels instead.
    max_coverage_bytes: int = Field(512 * 1024 * 1024, ge=1024)

    def merged(self, override: "Limits | None") -> "Limits":
        """These limits, tightened or loosened by a service's own block."""
        if override is None:
            return self
        return Limits(**{**self.model_dump(), **override.model_dump(exclude_unset=True)})


class Rendering(Frozen):
    # zlib level and strategy for PNG (rows use the Up filter, see core/render/png.py). Imagery
    # gains almost nothing from LZ77 matching: run-length matching on the filtered rows is the
    # fastest and, on aerial photos, smaller than Huffman-only coding ("default": 25% slower, 14% smaller).
    png_compression: int = Field(1, ge=0, le=9)
    png_strategy: Literal["huffman", "rle", "filtered", "default"] = "rle"
    jpeg_quality: int = Field(85, ge=1, le=100)
    default_resampling: Literal["nearest", "bilinear", "cubic", "average", "lanczos"] = "nearest"
    # Transform error allowed when warping, in output pixels. GDAL's default approximation
    # (0.125) is fitted over whatever window is warped, so mosaic items, tiles and views would
    # disagree on pixels near source pixel edges; 1e-3 costs ~20% more warp time (measured).
    warp_error: float = Field(1e-3, gt=0, le=0.5)


class ChangeConfig(Frozen):
    """A second input for change detection: the same chain applied to the items of a reference
    time, then combined with the request's (its TIME, or every item) pixel by pixel."""

    reference: str  # a TIME value: "2021", "2021-06", "2021-05-01/2021-09-30", ...
    operation: Literal["difference", "ratio"] = "difference"  # request minus / over reference

    @field_validator("reference")
    @classmethod
    def _time(cls, value: str) -> str:
        try:
            parse_time(value, "reference")
        except InvalidValue as exc:
            raise ValueError(exc.message) from None
        return value

    @property
    def time(self) -> TimeRange:
        return parse_time(self.reference, "reference")


class ProcessingTemplate(Frozen):
    """A named chain of raster functions, offered as a style of the layers that list it."""

    name: Name
    title: str = ""
    abstract: str = ""
    bands: tuple[int, ...] | None = Field(None, min_length=1, max_length=16)  # source bands read (default: all)
    chain: tuple[Annotated[AnyFunction, Field(discriminator="function")], ...] = Field(min_length=1, max_length=8)
    compare: ChangeConfig | None = None  # two inputs: change between the request's time and a reference
    per_item: bool = False  # apply the chain to each mosaic item, then combine them by the layer's operator
    then: tuple[Annotated[AnyFunction, Field(discriminator="function")], ...] = Field((), max_length=8)

    @model_validator(mode="after")
    def _then_needs_compare(self) -> "ProcessingTemplate":
        if self.then and self.compare is None:
            raise ValueError(f"template '{self.name}': 'then' applies to a comparison; add 'compare'")
        if self.per_item and any(f.context() for f in self.chain):
            raise ValueError(f"template '{self.name}': neighbourhood functions cannot run per item (item edges "
                             "would show); run them on the mosaic")
        return self


class LayerConfig(Frozen):
    name: Name
    title: str = ""
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    source: Path | None = None      # a raster file, or a folder scanned into a mosaic
    collection: str | None = None   # or a collection of the catalog, managed with `ogcserver catalog`
    pattern: str = "*.tif"
    bands: tuple[int, ...] | None = None
    default_style: str = "default"
    crs: tuple[str, ...] = ()
    order: str = "newest"  # mosaic ordering, see ogcserver.model.mosaic.parse_ordering
    operator: Operator = Operator.FIRST  # how overlapping items combine
    blend_width: int = Field(0, ge=0, le=256)  # pixels over which the blend operator feathers edges
    cache: bool = True  # tiles of this layer go through the tile cache
    styles: tuple[str, ...] = ()  # processing templates offered as styles, besides "default"

    @model_validator(mode="after")
    def _one_source(self) -> "LayerConfig":
        if (self.source is None) == (self.collection is None):
            raise ValueError(f"layer '{self.name}' needs exactly one of 'source' and 'collection'")
        return self

    @field_validator("order")
    @classmethod
    def _ordering(cls, value: str) -> str:
        parse_ordering(value)
        return value

    @property
    def ordering(self) -> Ordering:
        return parse_ordering(self.order)

    @property
    def collection_name(self) -> str:
        """The catalog collection holding this layer's items (a folder's is the layer's name)."""
        return self.collection or self.name

    @field_validator("crs")
    @classmethod
    def _crs_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not CRS_PATTERN.match(code):
                raise ValueError(f"'{code}' is not an EPSG:n or CRS:84 code")
        return value

    @field_validator("bands")
    @classmethod
    def _bands(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and (len(value) not in (1, 3) or min(value) < 1):
            raise ValueError("give 1 or 3 band numbers, counted from 1")
        return value


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
    def _one_key_source(self) -> "JwtConfig":
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks_file or jwks_url")
        return self


class ProxyConfig(Frozen):
    user_header: str = "X-Remote-User"
    groups_header: str = "X-Remote-Groups"
    trusted: tuple[str, ...] = Field(min_length=1)  # client addresses or networks (CIDR)


class GrantConfig(Frozen):
    """Actions a principal gets on a service's layers, optionally within constraints."""

    to: str = Field(pattern=r"^(anonymous|authenticated|(group|user|key):.+)$")
    service: str
    layers: tuple[str, ...] = ()  # empty: every layer of the service
    actions: tuple[Literal["discover", "view", "query", "download", "process"], ...] = Field(min_length=1)
    area: dict | None = None  # GeoJSON Polygon or MultiPolygon in lon/lat
    max_resolution: float | None = Field(None, gt=0)
    time: tuple[datetime, datetime] | None = None
    items: dict[str, tuple[str, ...]] = {}  # item attribute -> allowed values

    @field_validator("area")
    @classmethod
    def _polygon(cls, value: dict | None) -> dict | None:
        if value is not None and value.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("area must be a GeoJSON Polygon or MultiPolygon in lon/lat")
        return value


class RateLimits(Frozen):
    per_principal_per_minute: int | None = Field(None, ge=1)
    per_address_per_minute: int | None = Field(None, ge=1)
    concurrent_per_principal: int | None = Field(None, ge=1)


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


class CacheConfig(Frozen):
    """The tile cache (WMTS and XYZ tiles)."""

    enabled: bool = True
    store: Literal["directory", "mbtiles", "geopackage"] = "directory"
    path: Path | None = None  # default: DATA_DIR/tiles
    meta_size: int = Field(4, ge=1, le=16)  # tiles per metatile side: one render feeds n x n tiles
    meta_buffer: int = Field(0, ge=0, le=512)  # pixels read around a metatile
    max_age: int = Field(3600, ge=0)  # Cache-Control max-age for tiles, seconds
    max_bytes: int | None = Field(10 * 2**30, ge=1)  # disk quota, least recently used tiles go first


class CatalogConfig(Frozen):
    """Where collections live: an SQLite file (one machine) or PostgreSQL/PostGIS (shared)."""

    backend: Literal["sqlite", "postgis"] = "sqlite"
    path: Path | None = None  # sqlite: default DATA_DIR/catalog.sqlite
    dsn: str | None = None    # postgis: a libpq connection string, e.g. "dbname=ogc host=db"

    @model_validator(mode="after")
    def _dsn_for_postgis(self) -> "CatalogConfig":
        if self.backend == "postgis" and not self.dsn:
            raise ValueError("the postgis catalog needs a 'dsn'")
        return self


class ServerConfig(Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(1, ge=1, le=64)  # per worker; GDAL, numpy and zlib release the GIL
    http: Literal["granian", "gunicorn"] = "granian"  # the HTTP server running the workers
    public_url: str | None = None
    # reverse proxies whose X-Forwarded-Proto/-Host/-Prefix headers say the public URL (addresses or CIDRs)
    trusted_proxies: tuple[str, ...] = ()
    data_dir: Path = Path(".ogcserver")
    index_refresh_seconds: float = Field(10.0, ge=0)
    access_log: bool = True
    max_open_datasets: int = Field(64, ge=1, le=4096)


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
    processing: tuple[ProcessingTemplate, ...] = ()
    services: tuple[ServiceConfig, ...] = Field(min_length=1)
    access: AccessConfig | None = None

    @field_validator("crs")
    @classmethod
    def _crs_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return LayerConfig._crs_codes(value)

    @model_validator(mode="after")
    def _styles_name_templates(self) -> "Settings":
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
    def _grants_name_what_exists(self) -> "Settings":
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
    def _unique_names(self) -> "Settings":
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

    def limits_for(self, service: ServiceConfig) -> Limits:
        return self.limits.merged(service.limits)


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
