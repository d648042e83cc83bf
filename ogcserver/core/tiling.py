"""Tile matrix sets (morecantile): the well-known ones and one in each layer's native CRS."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache

import morecantile
import pyproj

from ogcserver.model.catalog import LayerInfo
from ogcserver.model.errors import TileMatrixSetNotOffered, TileOutOfRange
from ogcserver.model.geo import BBox, axis_is_yx, crs_object, transform_bbox
from ogcserver.model.image import Grid

log = logging.getLogger(__name__)

WELL_KNOWN = ("WebMercatorQuad", "WorldCRS84Quad")
TILE_SIZE = 256


@dataclass(frozen=True)
class TileMatrixSet:
    id: str
    tms: morecantile.TileMatrixSet
    crs: str  # internal identifier, x/y order ("EPSG:4326" for CRS84)
    _sizes: dict[int, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def minzoom(self) -> int:
        return self.tms.minzoom

    @property
    def maxzoom(self) -> int:
        return self.tms.maxzoom

    def tile_bbox(self, z: int, x: int, y: int) -> BBox:
        b = self.tms.xy_bounds(morecantile.Tile(x, y, z))
        return BBox(b.left, b.bottom, b.right, b.top, self.crs)

    def check(self, z: int, x: int, y: int) -> None:
        if not (self.minzoom <= z <= self.maxzoom):
            raise TileOutOfRange("zoom", f"zoom {z} is outside {self.minzoom}..{self.maxzoom} of {self.id}")
        width, height = self._size(z)
        if not (0 <= x < width and 0 <= y < height):
            raise TileOutOfRange("column" if not 0 <= x < width else "row", f"tile {x}/{y} is outside the {width}x{height} matrix {z}")

    def _size(self, z: int) -> tuple[int, int]:
        """Matrix width and height, remembered: a cache hit checks them on every request."""
        size = self._sizes.get(z)
        if size is None:
            m = self.tms.matrix(z)
            size = self._sizes[z] = (m.matrixWidth, m.matrixHeight)
        return size

    def grid(self, z: int, x0: int, y0: int, x1: int, y1: int, buffer: int = 0) -> Grid:
        """The pixel grid of tiles x0..x1, y0..y1 (inclusive) of zoom z, widened by ``buffer`` px."""
        first, last = self.tile_bbox(z, x0, y0), self.tile_bbox(z, x1, y1)
        m = self.tms.matrix(z)
        res_x = (first.maxx - first.minx) / m.tileWidth
        res_y = (first.maxy - first.miny) / m.tileHeight
        box = BBox(first.minx - buffer * res_x, last.miny - buffer * res_y,
                   last.maxx + buffer * res_x, first.maxy + buffer * res_y, self.crs)
        width = (x1 - x0 + 1) * m.tileWidth + 2 * buffer
        height = (y1 - y0 + 1) * m.tileHeight + 2 * buffer
        return Grid.from_bbox(box, width, height)

    def tiles_over(self, box: BBox, z: int) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the tiles of zoom z touching a box in this set's CRS."""
        m = self.tms.matrix(z)
        ox, oy = self.tms._matrix_origin(m)  # x/y, whatever the CRS's axis order
        size_x, size_y = m.cellSize * m.tileWidth, m.cellSize * m.tileHeight
        x0 = max(0, math.floor((box.minx - ox) / size_x))
        x1 = min(m.matrixWidth - 1, math.ceil((box.maxx - ox) / size_x) - 1)
        y0 = max(0, math.floor((oy - box.maxy) / size_y))
        y1 = min(m.matrixHeight - 1, math.ceil((oy - box.miny) / size_y) - 1)
        if x0 > x1 or y0 > y1:
            return None
        return x0, y0, x1, y1

    def tile_at(self, x: float, y: float, z: int) -> tuple[int, int]:
        """(x, y) of the tile of zoom z holding a point in this set's CRS, clamped to the matrix.
        A point on a tile edge (a global layer's centre lies on one at every zoom) belongs to the
        tile east or south of it; a box around the point cannot say, as no offset below the
        coordinates' precision moves it off the edge."""
        m = self.tms.matrix(z)
        ox, oy = self.tms._matrix_origin(m)
        col = math.floor((x - ox) / (m.cellSize * m.tileWidth))
        row = math.floor((oy - y) / (m.cellSize * m.tileHeight))
        return min(max(col, 0), m.matrixWidth - 1), min(max(row, 0), m.matrixHeight - 1)


@lru_cache(maxsize=4)
def well_known(name: str) -> TileMatrixSet:
    tms = morecantile.tms.get(name)
    crs = "EPSG:4326" if name == "WorldCRS84Quad" else "EPSG:3857"
    return TileMatrixSet(name, tms, crs)


def native_id(info: LayerInfo) -> str:
    return f"{info.name}_native"


def ordered_axes(crs: str) -> list[str]:
    """The CRS's axes in its own order, named by direction. Given to morecantile, which would
    otherwise judge the order by abbreviation and get Gauss-Krueger's X (north) / Y (east) wrong."""
    return ["N", "E"] if axis_is_yx(crs) else ["E", "N"]


@lru_cache(maxsize=256)
def _native(name: str, crs: str, bounds: tuple[float, float, float, float], resolution: float) -> TileMatrixSet | None:
    """The set, or None (logged once) where morecantile cannot tile the CRS or extent: the layer
    then keeps the well-known sets."""
    minx, miny, maxx, maxy = bounds
    try:
        side = max(maxx - minx, maxy - miny)
        zooms = max(0, math.ceil(math.log2(side / (resolution * TILE_SIZE))))
        extent = [minx, maxy - side, minx + side, maxy]  # square, anchored at the top left
        axes = ordered_axes(crs)  # for the corner it builds and the tile arithmetic it does later
        tms = morecantile.TileMatrixSet.custom(
            extent, pyproj.CRS.from_user_input(crs_object(crs)), tile_width=TILE_SIZE, tile_height=TILE_SIZE,
            minzoom=0, maxzoom=zooms, id=name, ordered_axes=axes, orderedAxes=axes,
        )
    except Exception as exc:  # noqa: BLE001 - whatever the CRS, one layer must not stop the server
        log.warning("no native tile matrix set", extra={"tms": name, "reason": f"{type(exc).__name__}: {exc}"[:300]})
        return None
    return TileMatrixSet(name, tms, crs)


def native(info: LayerInfo) -> TileMatrixSet | None:
    """A quad tree over the layer in its own CRS, down to its native resolution (None: none can be built)."""
    return _native(native_id(info), info.crs, info.bounds.as_tuple(), min(info.resolution))


def for_layer(info: LayerInfo, tms_id: str) -> TileMatrixSet:
    if tms_id in WELL_KNOWN:
        return well_known(tms_id)
    own = native(info) if tms_id == native_id(info) else None
    if own is None:
        raise TileMatrixSetNotOffered(tms_id, info.name)
    return own


def sets_for(info: LayerInfo) -> list[TileMatrixSet]:
    own = native(info)
    return [well_known(n) for n in WELL_KNOWN] + ([own] if own is not None else [])


def native_zoom(info: LayerInfo, tms: TileMatrixSet) -> int:
    """The first zoom whose pixels, at the layer's centre, are as fine as the layer's own: finer
    zooms only magnify. KML pyramids stop there; TileJSON gives it as maxzoom."""
    box = transform_bbox(info.bounds, tms.crs)
    cx, cy = (box.minx + box.maxx) / 2, (box.miny + box.maxy) / 2
    for z in range(tms.minzoom, tms.maxzoom + 1):
        x, y = tms.tile_at(cx, cy, z)
        size = tms.grid(z, x, y, x, y).pixel_size_in(info.crs)
        if size is not None and max(size) <= min(info.resolution) * 1.0001:
            return z
    return tms.maxzoom
