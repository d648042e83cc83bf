"""Catalog records: what is known about a source raster and about a published layer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely.geometry

from ogcserver.model.dimensions import NO_SLICE, Dimension, Slice
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.geo import WGS84, BBox, lonlat_union, to_lonlat
from ogcserver.model.mosaic import NEWEST, Ordering


@dataclass(frozen=True)
class SourceInfo:
    """What a reader learns about a raster file when it is indexed."""

    path: str
    crs: str
    bounds: BBox
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    band_names: tuple[str, ...]
    acquired: datetime | None
    overview_factors: tuple[int, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    alpha_band: int | None = None  # a band GDAL treats as alpha; the warper must be told
    palette: tuple[tuple[int, int, int, int], ...] | None = None  # band 1's colour table
    # a multidimensional source: the variable read, its axes besides x and y, and the step of
    # each that a read takes (the core sets it per request; empty: every axis at its default)
    variable: str = ""
    dimensions: tuple[Dimension, ...] = ()
    slice: Slice = NO_SLICE
    units: str = ""
    # each band's stored value x scale + offset is its physical value (GDAL's band scale/offset, a
    # Landsat MTL's reflectance factors); empty when every band's values are physical already
    scales: tuple[float, ...] = ()
    offsets: tuple[float, ...] = ()
    placed_by_model: bool = False  # no geotransform: placed by its GCPs or RPCs (read through them)

    @property
    def resolution(self) -> tuple[float, float]:
        return (self.bounds.width / self.width, self.bounds.height / self.height)


@dataclass(frozen=True)
class Refusal:
    """A file the catalog will not publish, and why; kept with the stamp (mtime, size) it had, so
    that it is examined (and logged) again only once it changes."""

    key: str
    path: str
    reason: str
    mtime: float = 0.0
    size: int = 0


@dataclass(frozen=True)
class SyncResult:
    """What one index refresh changed: counts, and the lon/lat boxes whose pixels may differ now;
    ``refused``: the files it newly refused."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    areas: tuple[BBox, ...] = ()
    refused: tuple[Refusal, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class CatalogItem:
    """One raster of a collection: where it is, its valid-data footprint, time and attributes."""

    id: int
    collection: str
    source: SourceInfo
    lonlat_bounds: BBox
    stamp: str = ""  # the file's modification time and size when it was indexed
    key: str = ""    # the item's identifier, unique in its collection (STAC id, or the file name)
    footprint: dict[str, Any] | None = None  # GeoJSON (Multi)Polygon in lon/lat; None: its box
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The file's name (the key is the item's id)."""
        return self.source.path.rsplit("/", 1)[-1]

    @property
    def acquired(self) -> datetime | None:
        return self.source.acquired


@dataclass(frozen=True)
class ItemRecord:
    """An item to add to or replace in a collection (ingest), before it has a row id."""

    key: str
    source: SourceInfo
    footprint: dict[str, Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    mtime: float = 0.0
    size: int = 0


@dataclass(frozen=True)
class ItemSpec:
    """What an ingest source (a file, a sidecar row, a STAC item) says about one item.

    ``source`` is set when the metadata describes the raster fully, so the file need not be
    opened (metadata-only ingest); ``footprint`` when the metadata gives the valid-data outline.
    """

    href: str
    key: str | None = None
    acquired: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    footprint: dict[str, Any] | None = None
    source: SourceInfo | None = None
    variable: str = ""  # the variable of a netCDF, HDF5 or Zarr file the item is


@dataclass(frozen=True)
class TimeRange:
    """Acquisition times from ``start`` to ``end``, both included (an instant: start == end)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Selection:
    """Which items of a collection a request wants, and in which order (top first).

    ``area`` is in lon/lat; ``focus`` the lon/lat point that the centre and north-west
    orderings measure from; ``where`` a parsed filter (ogcserver.model.filters).
    """

    area: BBox | None = None
    where: Any = None
    time: TimeRange | None = None
    ordering: Ordering = NEWEST
    focus: tuple[float, float] | None = None


@dataclass(frozen=True)
class CollectionStats:
    count: int
    lonlat_bounds: BBox | None
    first: datetime | None
    last: datetime | None
    generation: int


@dataclass(frozen=True)
class BandStatistics:
    """Per-band value range used for the default stretch of non-8-bit data."""

    minimum: float
    maximum: float
    low: float   # 2nd percentile
    high: float  # 98th percentile


@dataclass(frozen=True)
class StyleInfo:
    name: str
    title: str
    abstract: str = ""


@dataclass(frozen=True)
class LayerInfo:
    """A published layer as the protocols describe it."""

    name: str
    title: str
    abstract: str
    keywords: tuple[str, ...]
    service: str
    crs: str                       # native CRS of the layer (first item's CRS)
    bounds: BBox                   # union of items in the native CRS
    lonlat_bounds: BBox
    resolution: tuple[float, float]
    band_count: int
    dtype: str
    band_names: tuple[str, ...]
    nodata: float | None
    item_count: int
    is_mosaic: bool
    styles: tuple[StyleInfo, ...]
    default_style: str
    advertised_crs: tuple[str, ...]
    statistics: tuple[BandStatistics, ...] = ()
    time_extent: tuple[datetime, datetime] | None = None
    times: tuple[datetime, ...] = ()  # distinct acquisition times, oldest first (may be cut short)
    palette: tuple[tuple[int, int, int, int], ...] | None = None
    dimensions: tuple[Dimension, ...] = ()  # axes besides x and y (multidimensional sources)
    units: str = ""  # of the values: the colour scale's, else what the source says
    scales: tuple[float, ...] = ()  # the first item's (SourceInfo.scales)
    offsets: tuple[float, ...] = ()
    version: str = ""  # changes with the layer's rendering (config, bands, statistics): cache keys
    generation: int = 0  # the collection's change counter: bumped by every item change
    scalar_styles: tuple[StyleInfo, ...] = ()  # one band: a colour scale per ramp

    @property
    def all_styles(self) -> tuple[StyleInfo, ...]:
        """Every style the layer offers by name: its own, then its colour scales."""
        return self.styles + self.scalar_styles


def lonlat_footprint(info: SourceInfo) -> BBox:
    """The item's box in lon/lat for the index; one crossing the antimeridian keeps its east
    edge beyond 180 (see ``normalized_lonlat``), so it is selected only by views over it."""
    try:
        box = to_lonlat(info.bounds)
    except Exception as exc:
        raise SourceUnavailable("footprint cannot be expressed in lon/lat") from exc
    if not box.is_valid():
        raise SourceUnavailable("footprint cannot be expressed in lon/lat")
    return box


def footprint_box(footprint: dict[str, Any] | None, info: SourceInfo) -> BBox:
    """The index box: the footprint's bounds when there is one, else the raster's extent. A
    footprint cut at the antimeridian (a MultiPolygon with parts at both ends of the longitudes)
    gets the narrow box across it, not the band of every longitude."""
    if footprint is None:
        return lonlat_footprint(info)
    try:
        geometry = shapely.geometry.shape(footprint)
    except Exception:  # noqa: BLE001 - a malformed outline: the raster's extent instead
        return lonlat_footprint(info)
    parts = getattr(geometry, "geoms", [geometry])
    boxes = [BBox.from_bounds(part.bounds, WGS84) for part in parts if not part.is_empty]
    if not boxes or not all(math.isfinite(v) for b in boxes for v in b.as_tuple()):
        return lonlat_footprint(info)
    return lonlat_union(boxes)


def typed_value(value: Any) -> Any:
    """Metadata text that is a number becomes one (GDAL tags, CSV cells), so that filters and
    orderings compare numbers as numbers; everything else is kept as it is."""
    if not isinstance(value, str):
        return value
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        return number if math.isfinite(number) else value
    return value
