"""Bounding boxes and CRS handling.

Inside ogcserver every coordinate is in "traditional GIS order" (x = easting or longitude,
y = northing or latitude). Axis order as the EPSG database defines it matters only at the
protocol edge (WMS 1.3.0, WCS 1.1, ...), where ``axis_is_yx`` tells the adapter to swap.
CRSs travel as strings ("EPSG:4326", or WKT for CRSs without a code) so they are hashable and
cheap; the pyproj objects behind them are cached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
import shapely
import shapely.geometry
from numpy.typing import ArrayLike
from pyproj.exceptions import CRSError

from ogcserver.model.errors import UnsupportedCrs

WGS84 = "EPSG:4326"
WEB_MERCATOR = "EPSG:3857"
SAMPLED_STEPS = 201  # points a side sampled to bound a box whose edges leave a projection's domain
EDGE_BISECTIONS = 24  # halvings of the step across that domain's edge (to 1/16M of a step)


@dataclass(frozen=True)
class BBox:
    """An axis-aligned box in ``crs``, always in x/y order."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    crs: str

    @classmethod
    def from_bounds(cls, bounds: Sequence[float], crs: str) -> BBox:
        """A box from (minx, miny, maxx, maxy) as shapely's ``bounds`` and database rows give it;
        unpacking checks there are four."""
        minx, miny, maxx, maxy = bounds
        return cls(minx, miny, maxx, maxy, crs)

    @property
    def width(self) -> float:
        return self.maxx - self.minx

    @property
    def height(self) -> float:
        return self.maxy - self.miny

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.minx, self.miny, self.maxx, self.maxy)

    def intersects(self, other: BBox) -> bool:
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
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        return _sampled_bbox(bbox, dst_crs)
    return BBox(minx, miny, maxx, maxy, dst_crs)


@lru_cache(maxsize=256)
def _sampled_bbox(bbox: BBox, dst_crs: str, steps: int = SAMPLED_STEPS) -> BBox:
    """The box of the points of ``bbox`` that have a place in ``dst_crs``.

    PROJ bounds a box by its edges, so one whose edges lie partly outside the projection's
    domain (a geostationary view's corners are in space) has no bounds that way. Its edges and
    interior are sampled on a dense grid instead and the points that transform are kept; the
    box stays non-finite when none does (callers treat it as not expressible).
    """
    transformer = _transformer(bbox.crs, dst_crs)

    def place(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tx, ty = transformer.transform(x, y, errcheck=False)
        tx, ty = np.asarray(tx, dtype="float64"), np.asarray(ty, dtype="float64")
        return tx, ty, np.isfinite(tx) & np.isfinite(ty)

    gx, gy = np.meshgrid(np.linspace(bbox.minx, bbox.maxx, steps), np.linspace(bbox.miny, bbox.maxy, steps))
    tx, ty, ok = place(gx, gy)
    if not ok.any():
        return BBox(math.inf, math.inf, -math.inf, -math.inf, dst_crs)
    # The domain's edge (a disk's limb) lies between neighbouring samples of which one transforms:
    # bisected, so that the box reaches it rather than the last sample inside.
    inner, outer = [], []
    for a, b in ((np.s_[:, :-1], np.s_[:, 1:]), (np.s_[:-1, :], np.s_[1:, :])):
        for i, o in ((a, b), (b, a)):
            edge = ok[i] & ~ok[o]
            inner.append(np.stack([gx[i][edge], gy[i][edge]]))
            outer.append(np.stack([gx[o][edge], gy[o][edge]]))
    good, bad = np.concatenate(inner, axis=1), np.concatenate(outer, axis=1)
    for _ in range(EDGE_BISECTIONS):
        mid = (good + bad) / 2
        placed = place(mid[0], mid[1])[2]
        good, bad = np.where(placed, mid, good), np.where(placed, bad, mid)
    ex, ey, edge_ok = place(good[0], good[1])
    xs, ys = np.concatenate([tx[ok], ex[edge_ok]]), np.concatenate([ty[ok], ey[edge_ok]])
    return BBox(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()), dst_crs)


def normalized_lonlat(box: BBox) -> BBox:
    """A lon/lat box with its west edge in [-180, 180) and at most 360 degrees wide.

    A box crossing the antimeridian (west > east, as PROJ and GeoJSON write it) keeps its east
    edge beyond 180 (178..181.5), so it stays one valid box whose width is its real width;
    a box as wide as the globe (or wider) becomes -180..180.
    """
    west, east = box.minx, box.maxx
    if not (math.isfinite(west) and math.isfinite(east)):
        return box
    if west > east:
        east += 360.0
    if east - west >= 360.0 - 1e-6:  # the globe, up to PROJ's rounding at its edges
        return BBox(-180.0, box.miny, 180.0, box.maxy, WGS84)
    shift = west - normalized_longitude(west)
    return BBox(west - shift, box.miny, east - shift, box.maxy, WGS84)


def normalized_longitude(lon: float) -> float:
    """A longitude in [-180, 180) (a box's centre beyond 180 is a place on the globe again)."""
    return lon - math.floor((lon + 180.0) / 360.0) * 360.0


def to_lonlat(bbox: BBox, densify: int = 21) -> BBox:
    """The box in lon/lat, normalized (see ``normalized_lonlat``): a view or raster across the
    antimeridian is the narrow box over it, not the whole band of longitudes between its edges."""
    return normalized_lonlat(transform_bbox(bbox, WGS84, densify))


def crosses_antimeridian(box: BBox) -> bool:
    """Whether a normalized lon/lat box reaches past 180 (its east edge lies beyond it)."""
    return box.crs == WGS84 and box.maxx > 180.0


def lonlat_parts(box: BBox) -> tuple[BBox, ...]:
    """A normalized lon/lat box as boxes within -180..180: two where it crosses the antimeridian."""
    if not crosses_antimeridian(box):
        return (box,)
    return (BBox(box.minx, box.miny, 180.0, box.maxy, WGS84), BBox(-180.0, box.miny, box.maxx - 360.0, box.maxy, WGS84))


def lonlat_shape(box: BBox) -> shapely.Polygon | shapely.MultiPolygon:
    """A lon/lat box as a geometry within -180..180 (a MultiPolygon where it crosses the
    antimeridian), to test against footprints, which are cut there."""
    boxes = [shapely.box(*p.as_tuple()) for p in lonlat_parts(normalized_lonlat(box))]
    return boxes[0] if len(boxes) == 1 else shapely.MultiPolygon(boxes)


def lonlat_intersects(a: BBox, b: BBox) -> bool:
    """Whether two lon/lat boxes overlap on the globe (either may cross the antimeridian)."""
    return any(p.intersects(q) for p in lonlat_parts(normalized_lonlat(a)) for q in lonlat_parts(normalized_lonlat(b)))


def lonlat_union(boxes: Sequence[BBox]) -> BBox:
    """The narrowest lon/lat box holding every box, going round the globe either way: the
    union of boxes on both sides of the antimeridian crosses it instead of spanning the globe.

    Longitudes are arcs of a circle: the union leaves out the largest gap between them.
    """
    spans = [normalized_lonlat(b) for b in boxes]
    south, north = min(b.miny for b in spans), max(b.maxy for b in spans)
    arcs = sorted([(b.minx, b.maxx) for b in spans] + [(b.minx + 360.0, b.maxx + 360.0) for b in spans])
    merged: list[list[float]] = []
    for west, east in arcs:
        if merged and west <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], east)
        else:
            merged.append([west, east])
    base = merged[0][0]
    gaps = [(merged[i + 1][0] - merged[i][1], i) for i in range(len(merged) - 1) if merged[i][1] < base + 360.0]
    if not gaps:
        return BBox(-180.0, south, 180.0, north, WGS84)
    _, i = max(gaps)
    if merged[i + 1][0] == base + 360.0:  # the gap round the back: the plain union, exact
        return BBox(base, south, max(b.maxx for b in spans), north, WGS84)
    return normalized_lonlat(BBox(merged[i + 1][0], south, merged[i][1] + 360.0, north, WGS84))


def lonlat_intersection(a: BBox, b: BBox) -> BBox | None:
    """The part of one lon/lat box inside another (either may cross the antimeridian), or None."""
    pieces = []
    for p in lonlat_parts(normalized_lonlat(a)):
        for q in lonlat_parts(normalized_lonlat(b)):
            piece = BBox(max(p.minx, q.minx), max(p.miny, q.miny), min(p.maxx, q.maxx), min(p.maxy, q.maxy), WGS84)
            if piece.is_valid():
                pieces.append(piece)
    return lonlat_union(pieces) if pieces else None


def geojson_bbox(box: BBox) -> list[float]:
    """A lon/lat box as GeoJSON and STAC write it (RFC 7946, 5.2): across the antimeridian, west > east."""
    east = box.maxx - 360.0 if crosses_antimeridian(box) else box.maxx
    return [box.minx, box.miny, east, box.maxy]


def whole_longitudes(box: BBox) -> BBox:
    """A lon/lat box for documents whose readers assume west < east within -180..180: one that
    crosses the antimeridian is widened to every longitude (its latitudes are kept)."""
    return BBox(-180.0, box.miny, 180.0, box.maxy, WGS84) if crosses_antimeridian(box) else box


def transform_coords(xs: ArrayLike, ys: ArrayLike, src_crs: str, dst_crs: str) -> tuple[Any, Any]:
    """Many points at once: numbers, sequences or numpy arrays in, the same kind out."""
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
    if not isinstance(geometry, dict):
        raise ValueError("geometry must be a GeoJSON Polygon or MultiPolygon")
    try:
        shape = shapely.geometry.shape(geometry)
    except Exception:  # noqa: BLE001 - whatever shapely makes of a malformed mapping
        raise ValueError("geometry must be a GeoJSON Polygon or MultiPolygon") from None
    if shape.geom_type not in ("Polygon", "MultiPolygon") or not shape.is_valid:
        raise ValueError("geometry must be a valid GeoJSON Polygon or MultiPolygon")
    if shape.is_empty:  # no rings: valid to GEOS, but it has no bounds and covers nothing
        raise ValueError("geometry must be a Polygon or MultiPolygon with at least one ring")
    if len(shapely.get_coordinates(shape)) > max_points:
        raise ValueError(f"geometry has more than {max_points} points")
    return shape
