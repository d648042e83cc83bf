"""Seeding: walk the metatiles of a layer over an area and zoom range, lazily.

The plan is a generator (memory stays flat at any zoom); a metatile whose tiles are already all
cached is skipped, so an interrupted run resumes where it stopped. An area is a lon/lat box and,
optionally, a polygon inside it: metatiles that do not touch the polygon are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from ogcserver.core import tiling
from ogcserver.model.geo import (
    WGS84,
    BBox,
    geojson_polygon,
    lonlat_parts,
    normalized_lonlat,
    transform_bbox,
    transform_coords,
)

MAX_POLYGON_POINTS = 100_000
_SEGMENT_DEGREES = 0.01  # densify lon/lat edges before projecting, so they bend as they should


@dataclass(frozen=True)
class Metatile:
    z: int
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def tiles(self) -> int:
        return (self.x1 - self.x0 + 1) * (self.y1 - self.y0 + 1)


def plan(tms: tiling.TileMatrixSet, area: BBox, zooms: range, meta_size: int,
         within: shapely.Geometry | None = None) -> Iterator[Metatile]:
    """Metatiles over the area (and touching ``within``, a lon/lat polygon, if given), zoom by
    zoom, row by row, aligned and sized exactly like the ones the cache renders on demand (so
    both take the same locks). An area across the antimeridian is walked on each side of it."""
    boxes = _boxes(tms, area)
    shape = projected(within, tms.crs) if within is not None else None
    for z in zooms:
        m = tms.tms.matrix(z)
        spans = [s for s in (tms.tiles_over(box, z) for box in boxes) if s is not None]
        for i, (x0, y0, x1, y1) in enumerate(spans):
            for my in range((y0 // meta_size) * meta_size, y1 + 1, meta_size):
                for mx in range((x0 // meta_size) * meta_size, x1 + 1, meta_size):
                    if any(_walks(earlier, mx, my, meta_size) for earlier in spans[:i]):
                        continue  # both sides of 180 share this metatile: walked already
                    meta = Metatile(z, mx, my, min(mx + meta_size, m.matrixWidth) - 1,
                                    min(my + meta_size, m.matrixHeight) - 1)
                    if shape is None or shapely.intersects(shape, _bounds(tms, meta)):
                        yield meta


def _boxes(tms: tiling.TileMatrixSet, area: BBox) -> list[BBox]:
    """The area in the tile matrix set's CRS, split at the antimeridian when it crosses it."""
    parts = lonlat_parts(normalized_lonlat(area)) if area.crs == WGS84 else (area,)
    return [transform_bbox(p, tms.crs) if p.crs != tms.crs else p for p in parts]


def area_tiles(tms: tiling.TileMatrixSet, area: BBox, zooms: range) -> int:
    """The tiles over the area at each zoom, from the spans alone (no walk), so a request for a
    huge plan is measured before it is accepted; a plan renders whole metatiles around them."""
    total = 0
    for z in zooms:
        for box in _boxes(tms, area):
            span = tms.tiles_over(box, z)
            if span is not None:
                total += (span[2] - span[0] + 1) * (span[3] - span[1] + 1)
    return total


def _walks(span: tuple[int, int, int, int], mx: int, my: int, meta_size: int) -> bool:
    """Whether walking a span of tiles visits the metatile at (mx, my)."""
    x0, y0, x1, y1 = span
    return (x0 // meta_size) * meta_size <= mx <= x1 and (y0 // meta_size) * meta_size <= my <= y1


def projected(polygon: shapely.Geometry, crs: str) -> shapely.Geometry:
    """The polygon in the tile matrix set's CRS, prepared for many intersection tests."""
    dense = shapely.segmentize(polygon, _SEGMENT_DEGREES)

    def project(coords: np.ndarray) -> np.ndarray:
        xs, ys = transform_coords(coords[:, 0], coords[:, 1], WGS84, crs)
        return np.column_stack([xs, ys])

    shape = shapely.transform(dense, project)
    shapely.prepare(shape)
    return shape


def _bounds(tms: tiling.TileMatrixSet, meta: Metatile) -> shapely.Geometry:
    first, last = tms.tile_bbox(meta.z, meta.x0, meta.y0), tms.tile_bbox(meta.z, meta.x1, meta.y1)
    return shapely.box(first.minx, last.miny, last.maxx, first.maxy)


def count(tms: tiling.TileMatrixSet, area: BBox, zooms: range, meta_size: int,
          within: shapely.Geometry | None = None) -> tuple[int, int]:
    """(metatiles, tiles) of a plan, without building it."""
    metas = tiles = 0
    for meta in plan(tms, area, zooms, meta_size, within):
        metas += 1
        tiles += meta.tiles
    return metas, tiles


def lonlat_area(text: str | None, default: BBox) -> BBox:
    if not text:
        return default
    parts = [float(v) for v in text.split(",")]
    if len(parts) != 4:
        raise ValueError("give the area as minlon,minlat,maxlon,maxlat")
    box = BBox.from_bounds(parts, WGS84)
    if not box.is_valid():
        raise ValueError("the area's minimum values must be less than its maximum values")
    return box


def lonlat_polygon(geojson: dict) -> shapely.Geometry:
    """A seeding polygon from GeoJSON in lon/lat: a Polygon or MultiPolygon geometry, a Feature,
    or a FeatureCollection (its polygons are merged)."""
    if not isinstance(geojson, dict):
        raise ValueError("the polygon must be a GeoJSON object")
    if geojson.get("type") == "FeatureCollection":
        geometries = [f.get("geometry") for f in geojson.get("features") or [] if isinstance(f, dict)]
    elif geojson.get("type") == "Feature":
        geometries = [geojson.get("geometry")]
    else:
        geometries = [geojson]
    if not geometries:
        raise ValueError("the polygon file holds no geometry")
    shapes = [geojson_polygon(g, MAX_POLYGON_POINTS) for g in geometries]
    shape = shapely.union_all(shapes)
    if len(shapely.get_coordinates(shape)) > MAX_POLYGON_POINTS:
        raise ValueError(f"the polygon has more than {MAX_POLYGON_POINTS} points")
    minx, miny, maxx, maxy = shape.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValueError("the polygon must be in longitude/latitude (EPSG:4326)")
    return shape
