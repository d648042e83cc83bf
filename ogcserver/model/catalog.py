"""Catalog records: what is known about a source raster and about a published layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ogcserver.model.geo import BBox


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

    @property
    def resolution(self) -> tuple[float, float]:
        return (self.bounds.width / self.width, self.bounds.height / self.height)


@dataclass(frozen=True)
class SyncResult:
    """What one index refresh changed: counts, and the lon/lat boxes whose pixels may differ now."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    areas: tuple[BBox, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class CatalogItem:
    """One indexed raster of a layer, with its footprint in lon/lat for the spatial index."""

    id: int
    collection: str
    source: SourceInfo
    lonlat_bounds: BBox
    stamp: str = ""  # the file's modification time and size when it was indexed

    @property
    def name(self) -> str:
        return self.source.path.rsplit("/", 1)[-1]


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
    palette: tuple[tuple[int, int, int, int], ...] | None = None
    version: str = ""  # changes whenever an item or the layer's rendering changes (cache keys)
