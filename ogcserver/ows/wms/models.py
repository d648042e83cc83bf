"""Typed WMS requests, after parsing and version normalisation."""

from __future__ import annotations

from dataclasses import dataclass

from ogcserver.core.query import LegendQuery, MapQuery, PointQuery

VERSIONS = ("1.1.1", "1.3.0")


@dataclass(frozen=True)
class ExceptionsMode:
    kind: str  # "xml", "inimage" or "blank"


@dataclass(frozen=True)
class GetMap:
    version: str
    query: MapQuery
    exceptions: ExceptionsMode
    kml: str | None = None  # "kml" or "kmz": a ground overlay instead of a bare image


@dataclass(frozen=True)
class GetFeatureInfo:
    version: str
    query: PointQuery
    info_format: str
    exceptions: ExceptionsMode


@dataclass(frozen=True)
class GetLegendGraphic:
    version: str
    query: LegendQuery
    format: str
