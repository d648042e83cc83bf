"""Bounding boxes and CRS handling.

Inside ogcserver every coordinate is in "traditional GIS order" (x = easting or longitude,
y = northing or latitude). Axis order as the EPSG database defines it matters only at the
protocol edge (WMS 1.3.0, WCS 1.1, ...), where ``axis_is_yx`` tells the adapter to swap.
CRSs travel as strings ("EPSG:4326", or WKT for CRSs without a code) so they are hashable and
cheap; the pyproj objects behind them are cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import pyproj
import shapely
import shapely.geometry
from pyproj.exceptions import CRSError

from ogcserver.model.errors import UnsupportedCrs

WGS84 = "EPSG:4326"
WEB_MERCATOR = "EPSG:3857"


@dataclass(frozen=True)
class BBox:
    """An axis-aligned box in ``crs``, always in x/y order."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    crs: str

    @property
    def width(self) -> float:
        return self.maxx - self.minx

    @property
    def height(self) -> float:
        return self.maxy - self.miny

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.minx, self.miny, self.maxx, self.maxy)

    def intersects(self, other: "BBox") -> bool:
        return not (
            other.minx >= self.maxx
            or other.maxx <= self.minx
            or other.miny >= self.maxy
            or other.maxy <= self.miny
        )

    def is_valid(self) -> bool:
        values = self.as_tuple()
        return all(math.isfinite(v) for v in values) and self.minx < self.maxx and self.miny < self.maxy


@lru_cache(maxsize=256)
def crs_object(crs: str) -> pyproj.CRS:
    """The pyproj CRS for an identifier or WKT string (cached)."""
    try:
        return pyproj.CRS.from_user_input(crs)
    except CRSError as exc:
        raise UnsupportedCrs(crs if len(crs) < 64 else crs[:64] + "...") from exc


@lru_cache(maxsize=256)
def axis_is_yx(crs: str) -> bool:
    """True when the EPSG definition puts northing/latitude first (e.g. EPSG:4326)."""
    axes = crs_object(crs).axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


@lru_cache(maxsize=256)
def epsg_code(crs: str) -> int | None:
    """The EPSG code of a CRS, when the EPSG database has one that matches."""
    return crs_object(crs).to_epsg(min_confidence=70)


@lru_cache(maxsize=256)
def canonical_crs(crs: str) -> str:
    """An ``EPSG:n`` identifier when one exists, otherwise the WKT."""
    code = epsg_code(crs)
    return f"EPSG:{code}" if code is not None else crs_object(crs).to_wkt()


def is_geographic(crs: str) -> bool:
    return crs_object(crs).is_geographic


@lru_cache(maxsize=1024)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs_object(src), crs_object(dst), always_xy=True)


def transform_bbox(bbox: BBox, dst_crs: str, densify: int = 21) -> BBox:
    """The box in ``dst_crs`` that contains ``bbox`` (edges densified so curves are covered)."""
    if bbox.crs == dst_crs:
        return bbox
    minx, miny, maxx, maxy = _transformer(bbox.crs, dst_crs).transform_bounds(
        *bbox.as_tuple(), densify_pts=densify
    )
    return BBox(minx, miny, maxx, maxy, dst_crs)


def transform_coords(xs, ys, src_crs: str, dst_crs: str):  # noqa: ANN001, ANN201 - arrays in, arrays out
    """Many points at once (sequences or numpy arrays)."""
    if src_crs == dst_crs:
        return xs, ys
    return _transformer(src_crs, dst_crs).transform(xs, ys)


def transform_point(x: float, y: float, src_crs: str, dst_crs: str) -> tuple[float, float]:
    if src_crs == dst_crs:
        return x, y
    return _transformer(src_crs, dst_crs).transform(x, y)


@lru_cache(maxsize=256)
def crs_area_of_use(crs: str) -> BBox | None:
    """The CRS's area of use in lon/lat, used to clip boxes before transforming them."""
    area = crs_object(crs).area_of_use
    if area is None:
        return None
    return BBox(area.west, area.south, area.east, area.north, WGS84)


def geojson_polygon(geometry: object, max_points: int) -> shapely.Geometry:
    """A valid Polygon or MultiPolygon from a GeoJSON geometry mapping; ValueError otherwise (so a
    configuration or command line can say what is wrong instead of failing later in GEOS)."""
    try:
        shape = shapely.geometry.shape(geometry)
    except Exception:  # noqa: BLE001 - whatever shapely makes of a malformed mapping
        raise ValueError("geometry must be a GeoJSON Polygon or MultiPolygon") from None
    if shape.geom_type not in ("Polygon", "MultiPolygon") or not shape.is_valid:
        raise ValueError("geometry must be a valid GeoJSON Polygon or MultiPolygon")
    if len(shapely.get_coordinates(shape)) > max_points:
        raise ValueError(f"geometry has more than {max_points} points")
    return shape
