"""The configuration the core consumes, owned by the core: per-request limits, rendering, layers,
the tile cache, grants; and the shape of the whole configuration as the core reads it.

``settings.py`` composes these into the configuration file's schema and loads it; the core never
imports settings, so configuration depends on the core and not the reverse.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ogcserver.core.functions.ramps import OutOfRange, RampName
from ogcserver.model.band_files import valid_band_tokens
from ogcserver.model.mosaic import Operator, Ordering, parse_ordering
from ogcserver.model.object_urls import (
    BUCKET,
    is_object_url,
    is_prefix_url,
    object_url_problem,
    prefix_url_problem,
)

if TYPE_CHECKING:  # templates are built on Name and Frozen from here
    from ogcserver.core.functions.templates import ProcessingTemplate

# Service, layer and template names are identifiers in every protocol at once: WMS Name, WMTS
# Identifier and the id of the layer's tile matrix set (morecantile allows only [\w-]), WCS
# CoverageId (an NCName: no leading digit, '-' or '.', no colon), KML and URL path segments.
NAME_MAX = 64
NAME_PATTERN = rf"^[A-Za-z_][A-Za-z0-9_\-]{{0,{NAME_MAX - 1}}}$"
CRS_PATTERN = re.compile(r"^(EPSG:\d{1,6}|CRS:84)$", re.A)
log = logging.getLogger(__name__)


def _valid_name(value: str) -> str:
    if not re.fullmatch(NAME_PATTERN, value):
        raise ValueError(f"'{value[:80]}' is not a valid name: it must start with a letter or '_' and hold only "
                         f"letters A-Z, digits, '_' and '-' (at most {NAME_MAX}), as WMS, WMTS, WCS and URLs need")
    return value


Name = Annotated[str, AfterValidator(_valid_name)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


DEFAULT_MAX_STEPS = 366  # a year of daily steps


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
    # Memory one request may hold, estimated before anything is read: output, mosaic
    # accumulators, the chain's intermediates, the input window at the chosen overview and the
    # largest block to inflate (see core/memory.py). Maps and WCS pieces alike.
    max_request_bytes: int = Field(256 * 1024 * 1024, ge=1024 * 1024)
    # Steps of a multidimensional layer one request may take (a WCS trim over time becomes one
    # band per step; an aggregate's range, reduced a step at a time; a point's series): a year
    # of daily data, refused beyond before anything is read.
    max_steps: int = Field(DEFAULT_MAX_STEPS, ge=1, le=100_000)

    def merged(self, override: Limits | None) -> Limits:
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


class ColourScaleConfig(Frozen):
    """A single-band layer's colour scale by default (requests may override each part): its
    ramp, log scaling, equal colour bands, what values past either end become, and the units its
    legend names. Its range is the layer's ``value_range`` (one range for every way of drawing
    the layer); ``range`` here is the older spelling of it, moved there when the layer loads."""

    palette: RampName = "viridis"
    log: bool = False
    color_bands: int | None = Field(None, ge=1, le=255)
    above: OutOfRange = "extend"  # "extend" (the ramp's end colour), "transparent" or "#rrggbb"
    below: OutOfRange = "extend"
    units: str = Field("", max_length=40)


class LayerConfig(Frozen):
    name: Name
    title: str = ""
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    source: Path | str | None = None  # a raster file, a folder scanned into a mosaic, or an object s3://bucket/key
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
    colour_scale: ColourScaleConfig | None = None  # one band: drawn through a colour scale by default
    # a netCDF, HDF5 or Zarr source: the variable published (needed when it holds several)
    variable: str | None = Field(None, min_length=1, max_length=256)
    # default step per dimension (time, elevation or another axis, by its protocol name)
    dimensions: dict[str, str] = {}
    # the range of values drawn from the first colour to the last, by the default stretch and by
    # colour scales (default: the layer's 2nd to 98th percentiles)
    value_range: tuple[float, float] | None = None
    # a scene delivered as a file per band (``scene_B4.tif``): "auto" makes files named alike but for
    # a band token (B1..B12, B8A, B04) one multiband item, "off" leaves every file an item, a list
    # names the tokens that are bands, in band order (``[red, green, blue]`` for ``scene_red.tif``...)
    band_files: Literal["auto", "off"] | tuple[str, ...] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _colour_scale_range(cls, data: object) -> object:
        """``colour_scale.range`` (the older key) becomes ``value_range``, with a notice."""
        scale = data.get("colour_scale") if isinstance(data, dict) else None
        if not isinstance(scale, dict) or "range" not in scale:
            return data
        assert isinstance(data, dict)
        if data.get("value_range") is not None:
            raise ValueError("give the range once, as value_range: colour_scale.range is its older name")
        log.warning("colour_scale.range is deprecated: write it as the layer's value_range",
                    extra={"layer": data.get("name"), "value_range": scale["range"]})
        return {**data, "value_range": scale["range"],
                "colour_scale": {k: v for k, v in scale.items() if k != "range"}}

    @model_validator(mode="after")
    def _one_source(self) -> LayerConfig:
        if (self.source is None) == (self.collection is None):
            raise ValueError(f"layer '{self.name}' needs exactly one of 'source' and 'collection'")
        return self

    @model_validator(mode="after")
    def _positive_log_range(self) -> LayerConfig:
        if self.colour_scale is not None and self.colour_scale.log and self.value_range is not None \
                and self.value_range[0] <= 0:
            raise ValueError("a logarithmic colour scale needs a positive value_range")
        return self

    @field_validator("source", mode="before")
    @classmethod
    def _file_or_object(cls, value: object) -> object:
        """An ``s3://`` URL stays a URL (a path would fold its '//'); anything else is a path."""
        if isinstance(value, str) and is_object_url(value):
            check = prefix_url_problem if is_prefix_url(value) else object_url_problem
            if (problem := check(value)) is not None:
                raise ValueError(problem)
            return value
        return Path(value) if isinstance(value, str) else value

    @property
    def local_source(self) -> Path | None:
        """The file or folder this layer publishes, when it is on a local disk."""
        return self.source if isinstance(self.source, Path) else None
    @field_validator("band_files")
    @classmethod
    def _band_tokens(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if isinstance(value, tuple) and not valid_band_tokens(value):
            raise ValueError("band_files lists distinct band tokens of letters and digits, at least one")
        return value

    @field_validator("value_range")
    @classmethod
    def _value_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (math.isfinite(value[0]) and math.isfinite(value[1]) and value[0] < value[1]):
            raise ValueError("value_range must be two finite numbers, the minimum first")
        return value

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


class GrantConfig(Frozen):
    """Actions a principal gets on a service's layers, optionally within constraints."""

    to: str = Field(pattern=r"^(anonymous|authenticated|(group|user|key):.+)$")
    service: str = ""  # every grant names one, except a server-wide "admin" grant
    layers: tuple[str, ...] = ()  # empty: every layer of the service
    actions: tuple[Literal["discover", "view", "query", "download", "process", "admin"], ...] = Field(min_length=1)
    area: dict | None = None  # GeoJSON Polygon or MultiPolygon in lon/lat
    max_resolution: float | None = Field(None, gt=0)
    time: tuple[datetime, datetime] | None = None
    items: dict[str, tuple[str, ...]] = {}  # item attribute -> allowed values

    @property
    def server_wide(self) -> bool:
        """An "admin" grant: the whole server's configuration, caches and jobs, not a layer's data."""
        return "admin" in self.actions

    @model_validator(mode="after")
    def _admin_alone(self) -> GrantConfig:
        if not self.server_wide:
            if not self.service:
                raise ValueError("a grant needs a 'service' (only an 'admin' grant is server-wide)")
            return self
        if len(set(self.actions)) > 1 or self.service or self.layers:
            raise ValueError("'admin' is granted alone and server-wide: give it without other actions, "
                             "'service' or 'layers'")
        if self.area or self.max_resolution or self.time or self.items:
            raise ValueError("an 'admin' grant takes no area, max_resolution, time or items")
        if self.to in ("anonymous", "authenticated"):
            raise ValueError(f"'admin' cannot be granted to {self.to}: name a user, key or group")
        return self

    @field_validator("area")
    @classmethod
    def _polygon(cls, value: dict | None) -> dict | None:
        if value is not None and value.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("area must be a GeoJSON Polygon or MultiPolygon in lon/lat")
        return value


class CacheConfig(Frozen):
    """The tile cache (WMTS and XYZ tiles)."""

    enabled: bool = True
    store: Literal["directory", "mbtiles", "geopackage", "s3"] = "directory"
    path: Path | None = None  # default: DATA_DIR/tiles
    bucket: str | None = Field(None, pattern=BUCKET.pattern)  # store s3: the bucket, reached as storage.s3 says
    prefix: str = Field("", max_length=512, pattern=r"^([A-Za-z0-9_.\-]+/)*$")  # store s3: keys start with it
    meta_size: int = Field(4, ge=1, le=16)  # tiles per metatile side: one render feeds n x n tiles
    meta_buffer: int = Field(0, ge=0, le=512)  # pixels read around a metatile
    max_age: int = Field(3600, ge=0)  # Cache-Control max-age for tiles, seconds
    max_bytes: int | None = Field(10 * 2**30, ge=1)  # disk quota, least recently used tiles go first

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> CacheConfig:
        if (self.store == "s3") != (self.bucket is not None):
            raise ValueError("the s3 store needs a 'bucket', and only the s3 store takes one")
        return self


class AnalysisConfig(Frozen):
    """Where analysis jobs and cluster seeding run: a Dask cluster started for the job on this
    machine (``local``), or a running scheduler every worker of which has ogcserver installed and
    reads the same configuration (``tcp://host:port``)."""

    cluster: str = Field("local", pattern=r"^(local|tcp://[A-Za-z0-9.\-\[\]:]+:\d{1,5})$")
    workers: int = Field(2, ge=1, le=256)  # worker processes of a local cluster
    threads_per_worker: int = Field(1, ge=1, le=64)
    memory_limit_mb: int = Field(2048, ge=256)  # per worker process of a local cluster; Dask restarts one past it
    output_dir: Path | None = None  # products and job records (default: DATA_DIR/products); shared by every node
    # s3://bucket/prefix: products (chunks and COGs) in a bucket instead of output_dir, which keeps
    # the job records; workers and hosting nodes on other machines reach them there
    output_url: str | None = Field(None, pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[A-Za-z0-9._\-/]*)?$")
    # output pixels a side computed by one task: a multiple of the COG's 512 px tiles, so each
    # chunk fills whole tiles of the product
    chunk_size: int = Field(1024, ge=512, le=8192, multiple_of=512)
    max_output_pixels: int = Field(65_536 * 65_536, ge=1)  # a product larger than this is refused
    # the product COG's DEFLATE level, at which the workers encode its chunks' tiles (the COG is
    # stitched from them): level 1 takes about half the time of 6 for a file some 15% larger
    deflate_level: int = Field(1, ge=1, le=9)
    max_zonal_pixels: int = Field(4096 * 4096, ge=1)  # zonal statistics answered at once (sync) up to this
    max_zones: int = Field(10_000, ge=1, le=1_000_000)
    histogram_bins: int = Field(256, ge=1, le=65_536)  # the most bins a histogram may ask for
    # jobs each server worker process runs at once (each a thread, and with a local cluster its
    # own worker processes); more are refused (503) until one ends
    max_jobs: int = Field(2, ge=1, le=256)
    # a running job renews its claim on its product's name every third of this; a claim not renewed
    # for this long belongs to a job that crashed, and another job (or its own re-run) may take it
    claim_expiry_seconds: int = Field(120, ge=1, le=86_400)


class ServiceDefinition(Protocol):
    """What the core reads of a service: its layers, limits and what it allows."""

    @property
    def name(self) -> str: ...

    @property
    def crs(self) -> tuple[str, ...]: ...

    @property
    def limits(self) -> Limits | None: ...

    @property
    def allow_processing(self) -> bool: ...

    @property
    def allow_download(self) -> bool: ...

    @property
    def layers(self) -> Sequence[LayerConfig]: ...


class AccessDefinition(Protocol):
    """What the core reads of the access section: the grants (sign-in is the web layer's)."""

    @property
    def grants(self) -> Sequence[GrantConfig]: ...


class IndexTiming(Protocol):
    @property
    def index_refresh_seconds(self) -> float: ...


class CoreSettings(Protocol):
    """The whole configuration as the core reads it; ``settings.Settings`` is one."""

    @property
    def crs(self) -> tuple[str, ...]: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def rendering(self) -> Rendering: ...

    @property
    def cache(self) -> CacheConfig: ...

    @property
    def server(self) -> IndexTiming: ...

    @property
    def processing(self) -> Sequence[ProcessingTemplate]: ...

    @property
    def services(self) -> Sequence[ServiceDefinition]: ...

    def template(self, name: str) -> ProcessingTemplate | None: ...

    def limits_for(self, service: ServiceDefinition) -> Limits: ...
