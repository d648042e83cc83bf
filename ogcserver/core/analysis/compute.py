"""One chunk of a product, read on a worker through the core's one read primitive.

The chunk is an exact read (``ReadRequest`` with the job's chain, time range and the owner's
grant) of the product's grid window; the chain reads context around it, so chunks join without
seams, exactly as the pieces of a coverage do. Pixels outside the job's polygon become nodata.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from ogcserver.core.analysis.plan import AnalysisSpec, Chunk
from ogcserver.core.catalog import Layer
from ogcserver.core.engine import Engine
from ogcserver.core.functions.chain import chain_output, read_bands
from ogcserver.core.functions.library import BandSet
from ogcserver.core.query import EVERY_ITEM, ItemQuery
from ogcserver.core.read import ReadRequest
from ogcserver.core.seed import lonlat_polygon, projected
from ogcserver.model.formats import Resampling
from ogcserver.model.image import Grid, Raster


@dataclass(frozen=True)
class ProductBands:
    """What a product holds: its data type, bands and nodata (NaN for a chain's float values;
    None: an internal mask marks the gaps, as integer values of a chain have no spare value)."""

    dtype: str
    names: tuple[str, ...]
    nodata: float | None

    @property
    def count(self) -> int:
        return len(self.names)


def source_bands(layer: Layer, spec: AnalysisSpec) -> tuple[int, ...]:
    """The layer's bands the job reads."""
    if spec.template is not None:
        return read_bands(spec.template, layer.info.band_count)
    return tuple(range(1, layer.info.band_count + 1))


def product_bands(layer: Layer, spec: AnalysisSpec) -> ProductBands:
    info = layer.info
    if spec.template is None:
        return ProductBands(info.dtype, tuple(info.band_names), info.nodata)
    bands = source_bands(layer, spec)
    given = BandSet(info.dtype, tuple(info.band_names[i - 1] if i <= len(info.band_names) else "" for i in bands))
    produced = chain_output(spec.template, given)
    nodata = float("nan") if np.dtype(produced.dtype).kind == "f" else None
    return ProductBands(produced.dtype, tuple(produced.names), nodata)


def chunk_values(engine: Engine, spec: AnalysisSpec, grid: Grid, chunk: Chunk) -> Raster | None:
    """The product's values over one chunk; None where the layer has nothing there."""
    layer = engine.operator_layer(spec.layer)
    piece = grid.subgrid(chunk.window)
    items = ItemQuery(time=spec.time) if spec.time is not None else EVERY_ITEM
    request = ReadRequest(layer, piece, source_bands(layer, spec), Resampling.NEAREST,
                          engine.limits(layer.info.service).max_items, items, constraints=spec.constraints,
                          template=spec.template, exact=True)
    try:
        raster = engine.views.read_values(request)
    finally:
        engine.reader.release()
    if raster is None or spec.polygon is None:
        return raster
    inside = pixels_inside(projected(lonlat_polygon(spec.polygon), piece.crs), piece)
    return Raster(raster.data, raster.valid & inside, raster.grid, raster.band_names)


def pixels_inside(shape: shapely.Geometry, grid: Grid) -> np.ndarray:
    """Which pixels of a grid have their centre inside a shape in the grid's CRS (as
    ``gdal_rasterize`` burns by default)."""
    inside = np.zeros((grid.height, grid.width), dtype=bool)
    found = window_inside(shape, grid)
    if found is not None:
        (r0, r1, c0, c1), part = found
        inside[r0:r1, c0:c1] = part
    return inside


def window_inside(shape: shapely.Geometry, grid: Grid) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The window (row0, row1, col0, col1) of the pixels under the shape's bounds, and which of
    them have their centre inside it; None when no pixel centre is under its bounds. Costs what
    the shape's window holds, not the grid: zonal statistics test thousands of small zones."""
    t = grid.transform
    xs = t.c + (np.arange(grid.width) + 0.5) * t.a
    ys = t.f + (np.arange(grid.height) + 0.5) * t.e
    minx, miny, maxx, maxy = shapely.bounds(shape)
    col_hit = np.nonzero((xs >= minx) & (xs <= maxx))[0]
    row_hit = np.nonzero((ys >= miny) & (ys <= maxy))[0]
    if col_hit.size == 0 or row_hit.size == 0:
        return None
    c0, c1, r0, r1 = int(col_hit[0]), int(col_hit[-1]) + 1, int(row_hit[0]), int(row_hit[-1]) + 1
    gx, gy = np.meshgrid(xs[c0:c1], ys[r0:r1])
    return (r0, r1, c0, c1), np.asarray(shapely.contains_xy(shape, gx, gy), dtype=bool)
