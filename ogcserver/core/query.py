"""Protocol-free queries: what a protocol adapter asks the core to do."""

from __future__ import annotations

from dataclasses import dataclass

from ogcserver.model.access import ANONYMOUS, Principal
from ogcserver.model.formats import ImageFormat, Resampling
from ogcserver.model.image import Grid


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


@dataclass(frozen=True)
class LegendQuery:
    layer: str
    style: str = ""
    width: int | None = None
    height: int | None = None
    service: str | None = None
    principal: Principal = ANONYMOUS
