"""Mapbox Vector Tiles of item footprints, so a web map can show which images exist."""

from __future__ import annotations

import mapbox_vector_tile

from ogcserver.model.catalog import CatalogItem
from ogcserver.model.geo import BBox, lonlat_parts, transform_coords

EDGE_POINTS = 16  # points per footprint edge, so the box bends as it should in the tile's CRS


def _ring(box: BBox, crs: str) -> list[tuple[float, float]]:
    xs, ys = [], []
    corners = [(box.minx, box.miny), (box.maxx, box.miny), (box.maxx, box.maxy), (box.minx, box.maxy)]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1]):
        for i in range(EDGE_POINTS):
            t = i / EDGE_POINTS
            xs.append(x0 + (x1 - x0) * t)
            ys.append(y0 + (y1 - y0) * t)
    tx, ty = transform_coords(xs, ys, box.crs, crs)
    ring = list(zip(tx, ty))
    return ring + ring[:1]


def footprint_tile(items: list[CatalogItem], tile: BBox, layer_name: str) -> bytes:
    features = []
    for item in items:
        props = {"item": item.name, "id": item.key}
        if item.source.acquired:
            props["acquired"] = item.source.acquired.isoformat()
        props.update({k: v for k, v in sorted(item.source.attributes.items()) if len(v) < 128})
        rings = [[_ring(part, tile.crs)] for part in lonlat_parts(item.lonlat_bounds)]  # across 180: two
        features.append({"geometry": {"type": "MultiPolygon", "coordinates": rings} if len(rings) > 1
                         else {"type": "Polygon", "coordinates": rings[0]}, "properties": props})
    layer = {"name": f"{layer_name}_footprints", "features": features}
    return mapbox_vector_tile.encode([layer], default_options={"quantize_bounds": tile.as_tuple(), "extents": 4096})
