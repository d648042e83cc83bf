"""TileJSON 3.0.0 documents for web maps (Leaflet, OpenLayers, MapLibre)."""

from __future__ import annotations

import json

from ogcserver.core import tiling
from ogcserver.core.catalog import Layer
from ogcserver.model.geo import normalized_longitude, whole_longitudes


def tilejson(layer: Layer, tms_id: str, tiles_url: str, ext: str) -> bytes:
    info = layer.info
    tms = tiling.for_layer(info, tms_id)
    b = info.lonlat_bounds
    maxzoom = tiling.native_zoom(info, tms)  # web maps magnify its tiles beyond it
    doc = {
        "tilejson": "3.0.0",
        "name": info.name,
        "description": info.abstract,
        "version": info.version,
        "scheme": "xyz",
        "tiles": [f"{tiles_url}/{info.name}/{tms.id}/{{z}}/{{x}}/{{y}}.{ext}"],
        "minzoom": tms.minzoom,
        "maxzoom": maxzoom,
        # across 180, every longitude: MapLibre clamps an east edge beyond 180 and finds no tile
        # inside a box whose west edge is east of its east edge; the centre stays on the data
        "bounds": list(whole_longitudes(b).as_tuple()),
        "center": [normalized_longitude((b.minx + b.maxx) / 2), (b.miny + b.maxy) / 2, max(tms.minzoom, maxzoom - 3)],
    }
    return json.dumps(doc, indent=1).encode()
