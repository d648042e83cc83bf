"""Coverages: the data values of a layer on a requested grid, for WCS.

The same catalog selection and mosaic order as maps ("first": the top item per pixel), but the
values stay as they are: no styling, every dtype kept, and pixels without data get the layer's
nodata value (or a mask where it has none). Reading, mosaicking and writing go piece by piece,
so a worker's memory does not grow with the size of the output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from affine import Affine

from ogcserver.core.catalog import Layer, LayerCatalog
from ogcserver.core.config import Limits
from ogcserver.core.constraints import allowed_items, mask_outside_area, resolution_factor, upsample
from ogcserver.core.coverage_grid import output_grid
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.core.memory import mosaic_bytes, raster_bytes
from ogcserver.core.mosaic import mosaic
from ogcserver.core.functions.chain import apply_chain, context_pixels, per_item, read_bands
from ogcserver.core.query import CoverageQuery, ItemQuery
from ogcserver.core.render.coverage_encode import CoverageWriter
from ogcserver.model.access import Constraints
from ogcserver.model.mosaic import Operator
from ogcserver.model.catalog import CatalogItem
from ogcserver.model.coverage import Compression, CoverageFormat, EncodedCoverage, GeoTiffOptions
from ogcserver.model.budget import holding
from ogcserver.model.errors import (
    CompressionRefused, FormatRefused, NoSuchBand, PredictorRefused, ResourceLimitExceeded,
)
from ogcserver.model.formats import Resampling
from ogcserver.model.image import Grid, Raster
from ogcserver.storage.interfaces import RasterReader


def _bands(layer: Layer, query: CoverageQuery) -> tuple[int, ...]:
    count = layer.info.band_count
    bands = query.bands or tuple(range(1, count + 1))
    if any(not 1 <= b <= count for b in bands):
        raise NoSuchBand(layer.info.name, count)
    return bands


def _check_encoding(fmt: CoverageFormat, dtype: str, count: int, options: GeoTiffOptions) -> None:
    """Refuse what the encoding cannot hold rather than silently changing the values."""
    if fmt is not CoverageFormat.GEOTIFF:
        if dtype != "uint8":
            message = f"{fmt.value} holds 8-bit values only; this coverage is {dtype}: use image/tiff"
            raise FormatRefused(message)
        allowed = (1, 2, 3, 4) if fmt is CoverageFormat.PNG else (1, 3)
        if count not in allowed:
            raise FormatRefused(f"{fmt.value} cannot hold {count} bands; choose {allowed} bands or image/tiff")
        return
    kind = np.dtype(dtype).kind
    if options.predictor == 2 and kind == "f":
        raise PredictorRefused("the horizontal predictor is for integer data; use the floating-point one")
    if options.predictor == 3 and kind != "f":
        raise PredictorRefused("the floating-point predictor is for floating-point data")
    if options.predictor != 1 and options.compression not in (Compression.DEFLATE, Compression.LZW):
        raise PredictorRefused("a predictor needs Deflate or LZW compression")
    if options.compression is Compression.JPEG and (dtype != "uint8" or count not in (1, 3)):
        raise CompressionRefused("JPEG compression holds 8-bit data with 1 or 3 bands only")


def _piece(
    reader: RasterReader,
    items: list[CatalogItem],
    grid: Grid,
    bands: tuple[int, ...],
    resampling: Resampling,
    layer: Layer,
    operator: Operator,
    constraints: Constraints,
    prepare: Callable[[Raster], Raster] | None = None,
) -> Raster | None:
    """One piece of the mosaic, within the grant's resolution and area (as maps are)."""
    factor = resolution_factor(grid, layer.info.crs, constraints)
    raster, _ = mosaic(reader, items, grid.coarsened(factor) if factor > 1 else grid, bands, resampling,
                       operator, layer.config.blend_width, prepare)
    if raster is None:
        return None
    if factor > 1:
        raster = upsample(raster, grid, factor)
    return mask_outside_area(raster, constraints)


def processed_output(layer: Layer, template: ProcessingTemplate, bands: tuple[int, ...]) -> tuple[str, int, tuple[str, ...]]:
    """The data type, band count and band names a template's chain produces, found by running
    it on a few pixels (the writer needs them before the first piece is read)."""
    context = context_pixels(template)
    n = 2 * context + 3
    res = layer.info.resolution
    b = layer.info.bounds
    grid = Grid(layer.info.crs, Affine(res[0], 0, b.minx, 0, -res[1], b.maxy), n, n)
    names = tuple(layer.info.band_names[i - 1] if i <= len(layer.info.band_names) else "" for i in bands)
    probe = Raster(np.ones((len(bands), n, n), dtype=layer.info.dtype), np.ones((n, n), dtype=bool), grid, names)
    view = grid.subgrid((context, n - context, context, n - context))
    out = apply_chain(probe, template, view, context, probe if template.compare is not None else None)
    return out.data.dtype.name, out.count, tuple(out.band_names)


def read_coverage(
    reader: RasterReader,
    catalog: LayerCatalog,
    layer: Layer,
    query: CoverageQuery,
    limits: Limits,
    constraints: Constraints,
    template: ProcessingTemplate | None = None,
) -> EncodedCoverage:
    """The coverage's values piece by piece; with a processing template, the chain's values
    (read with context around each piece, as maps are, so pieces join without seams)."""
    info = layer.info
    grid = output_grid(info, query)
    if template is None:
        bands = _bands(layer, query)
        dtype, count, nodata = info.dtype, len(bands), info.nodata
        names = tuple(info.band_names[b - 1] for b in bands)
    else:
        bands = read_bands(template, info.band_count)
        dtype, count, names = processed_output(layer, template, bands)
        nodata = None  # processed values have no nodata value of their own: a mask band marks gaps
    size = raster_bytes(grid.width * grid.height, count, dtype)
    if size > limits.max_coverage_bytes:
        raise ResourceLimitExceeded(
            f"the coverage would be {size} bytes ({grid.width}x{grid.height}x{count} {dtype}); "
            f"at most {limits.max_coverage_bytes} are served"
        )
    _check_encoding(query.format, dtype, count, query.geotiff)
    context = context_pixels(template) if template else 0

    def select(want: ItemQuery) -> list[CatalogItem]:
        return allowed_items(catalog.items_for(layer, grid.expanded(context).bbox, limits.max_items, want), constraints)

    items = select(query.items)
    reference = None
    if template is not None and template.compare is not None:
        reference = select(replace(query.items, time=template.compare.time, nearest_time=True))
    operator = query.items.operator or layer.config.operator
    prepare = per_item(template)
    writer = CoverageWriter(grid, count, dtype, nodata, names, query.format, query.geotiff)
    try:
        for window in writer.windows():
            piece = grid.subgrid(window)
            read = piece.expanded(context)
            pixels = read.width * read.height
            need = mosaic_bytes(pixels, len(bands), info.dtype, operator, template is not None)
            with holding(f"a {piece.width}x{piece.height} piece of the coverage",
                         need * (2 if reference is not None else 1) + raster_bytes(pixels, count, dtype)):
                raster = _piece(reader, items, read, bands, query.resampling, layer, operator, constraints, prepare)
                if template is not None and raster is not None:
                    earlier = None if reference is None else _piece(
                        reader, reference, read, bands, query.resampling, layer, operator, constraints, prepare)
                    raster = None if reference is not None and earlier is None else apply_chain(
                        raster, template, piece, context, earlier)
                writer.write(window, None if raster is None else raster.data, None if raster is None else raster.valid)
        return writer.finish()
    finally:
        writer.close()
