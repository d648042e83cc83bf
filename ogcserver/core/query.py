"""Protocol-free queries: what a protocol adapter asks the core to do."""

from __future__ import annotations

from dataclasses import dataclass

from ogcserver.core.functions.over_dimensions import OverDimensions
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.model.access import ANONYMOUS, Principal
from ogcserver.model.catalog import TimeRange
from ogcserver.model.coverage import CoverageFormat, GeoTiffOptions
from ogcserver.model.filters import Filter
from ogcserver.model.formats import ImageFormat, Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid
from ogcserver.model.mosaic import Operator, Ordering


@dataclass(frozen=True)
class ItemQuery:
    """Which items of a mosaic a request wants and how to stack them (vendor parameters and
    TIME); each unset part falls back to the layer's configuration."""

    where: Filter | None = None
    time: TimeRange | None = None
    nearest_time: bool = False  # no item in ``time``: take the closest acquisition time
    ordering: Ordering | None = None
    operator: Operator | None = None
    # values asked for the layers' dimensions, by name: time (TIME, also in ``time`` above),
    # elevation (ELEVATION) and others (WMS DIM_<NAME>), as the caller wrote them
    dimensions: tuple[tuple[str, str], ...] = ()

    @property
    def is_default(self) -> bool:
        return self == EVERY_ITEM


EVERY_ITEM = ItemQuery()


@dataclass(frozen=True)
class ColourScale:
    """How a request asks one band's values to be coloured (vendor parameters); each unset part
    falls back to the style's or the layer's own. Colours are ``#rrggbb``, ``extend`` (the
    ramp's end colour) or ``transparent``."""

    range: tuple[float, float] | None = None  # minimum < maximum, both finite
    fit_view: bool = False  # the range of each view's own values
    log: bool | None = None
    color_bands: int | None = None  # 1..255 equal bands; None: continuous
    above: str | None = None
    below: str | None = None

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_SCALE


DEFAULT_SCALE = ColourScale()


@dataclass(frozen=True)
class LayerRef:
    layer: str
    style: str = ""  # empty: the layer's default style


@dataclass(frozen=True)
class MapQuery:
    """Render these layers, bottom first, onto a grid."""

    layers: tuple[LayerRef, ...]
    grid: Grid
    format: ImageFormat
    transparent: bool = False
    bgcolor: tuple[int, int, int] = (255, 255, 255)
    resampling: Resampling | None = None
    service: str | None = None  # limits and layers of this service; None: every service
    principal: Principal = ANONYMOUS
    rendering: ProcessingTemplate | None = None  # an ad-hoc chain instead of the styles
    items: ItemQuery = EVERY_ITEM
    scale: ColourScale = DEFAULT_SCALE
    over: OverDimensions | None = None  # a function over the layers' dimensions (AGGREGATE) before the style


@dataclass(frozen=True)
class PointQuery:
    """Report values at a point of a map: map grid + pixel (col, row)."""

    layers: tuple[str, ...]
    grid: Grid
    col: int
    row: int
    feature_count: int = 1
    service: str | None = None
    principal: Principal = ANONYMOUS
    items: ItemQuery = EVERY_ITEM


@dataclass(frozen=True)
class LegendQuery:
    layer: str
    style: str = ""
    width: int | None = None
    height: int | None = None
    service: str | None = None
    principal: Principal = ANONYMOUS
    scale: ColourScale = DEFAULT_SCALE
    bar_only: bool = False  # only the colour bar of a colour scale, filling width x height


@dataclass(frozen=True)
class TileQuery:
    """One tile of a layer in a tile matrix set."""

    layer: str
    tms: str
    z: int
    x: int
    y: int
    format: ImageFormat
    style: str = ""
    service: str | None = None
    principal: Principal = ANONYMOUS
    items: ItemQuery = EVERY_ITEM
    scale: ColourScale = DEFAULT_SCALE


@dataclass(frozen=True)
class CoverageQuery:
    """Read the data values of one layer onto a grid the core derives from what was asked.

    ``area`` is the extent asked for (x/y order, in its own CRS; None: the whole coverage) and
    ``crs`` the output CRS (None: the native one). Per axis (x, y) a ``size`` or a
    ``resolution`` (output CRS units) fixes the grid over ``area``. Without either, the grid is
    derived from the coverage: in the native CRS, its own pixels whose centres lie in the area;
    in another CRS, the area clipped to the coverage at a resolution like the native one. The
    derived number of pixels is then multiplied by ``scale``.
    """

    coverage: str
    format: CoverageFormat = CoverageFormat.GEOTIFF
    area: BBox | None = None
    crs: str | None = None
    size: tuple[int | None, int | None] = (None, None)
    resolution: tuple[float | None, float | None] = (None, None)
    scale: tuple[float, float] = (1.0, 1.0)
    bands: tuple[int, ...] | None = None  # counted from 1; None: every band
    resampling: Resampling = Resampling.NEAREST
    geotiff: GeoTiffOptions = GeoTiffOptions()
    service: str | None = None
    principal: Principal = ANONYMOUS
    items: ItemQuery = EVERY_ITEM
    processing: str = ""  # a processing template of the layer (its style name): the chain's values
    rendering: ProcessingTemplate | None = None  # an ad-hoc chain (RENDERINGRULE)


@dataclass(frozen=True)
class ItemSearch:
    """A catalog query: items of a mosaic layer by area (lon/lat), time, filter and order."""

    layer: str
    area: BBox | None = None
    items: ItemQuery = EVERY_ITEM
    limit: int = 10
    offset: int = 0
    service: str | None = None
    principal: Principal = ANONYMOUS
