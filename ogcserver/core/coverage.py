"""Coverages: the data values of a layer on a requested grid, for WCS.

The same catalog selection and mosaic order as maps ("first": the top item per pixel), but the
values stay as they are: no styling, every dtype kept, and pixels without data get the layer's
nodata value (or a mask where it has none). Each piece is one exact read (core/read.py: never
from the mosaic overview); reading and writing go piece by piece, so a worker's memory does not
grow with the size of the output. A chain's output type comes from its functions' declarations.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ogcserver.core.catalog import Layer
from ogcserver.core.config import Limits
from ogcserver.core.coverage_grid import output_grid
from ogcserver.core.functions.chain import chain_output, context_pixels, read_bands
from ogcserver.core.functions.library import BandSet
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.core.memory import raster_bytes
from ogcserver.core.query import CoverageQuery
from ogcserver.core.read import ReadRequest, ViewReader
from ogcserver.core.render.coverage_encode import CoverageWriter, Scaling
from ogcserver.model.access import Constraints
from ogcserver.model.budget import current_budget, holding, readable_size
from ogcserver.model.coverage import Compression, CoverageFormat, EncodedCoverage, GeoTiffOptions
from ogcserver.model.dimensions import Dimension, Slice, slices_for
from ogcserver.model.errors import (
    CompressionRefused,
    FormatRefused,
    NoSuchBand,
    PredictorRefused,
    ResourceLimitExceeded,
)
from ogcserver.model.timing import phase
from ogcserver.storage.interfaces import CubeEncoder


def _bands(layer: Layer, query: CoverageQuery) -> tuple[int, ...]:
    count = layer.info.band_count
    bands = query.bands or tuple(range(1, count + 1))
    if any(not 1 <= b <= count for b in bands):
        raise NoSuchBand(layer.info.name, count)
    return bands


def _check_encoding(fmt: CoverageFormat, dtype: str, count: int, options: GeoTiffOptions) -> None:
    """Refuse what the encoding cannot hold rather than silently changing the values."""
    if fmt is CoverageFormat.NETCDF:
        return
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


def read_coverage(
    views: ViewReader,
    layer: Layer,
    query: CoverageQuery,
    limits: Limits,
    constraints: Constraints,
    template: ProcessingTemplate | None = None,
    cubes: CubeEncoder | None = None,
) -> EncodedCoverage:
    """The coverage's values piece by piece, each one read (see core/read.py); with a processing
    template, the chain's values (read with context around each piece, as maps are, so pieces
    join without seams)."""
    info = layer.info
    grid = output_grid(info, query)
    # a function over the dimensions takes the steps asked for as its input: one set of bands
    reduced = template is not None and template.over is not None
    axes = () if reduced else info.dimensions
    steps = slices_for(axes, dict(query.items.dimensions), limits.max_steps, single=False)
    scaling: Scaling = ((), ())
    if template is None:
        bands = _bands(layer, query)
        dtype, count, nodata = info.dtype, len(bands), info.nodata
        names = tuple(info.band_names[b - 1] for b in bands)
        if info.scales:  # the stored values, with how they become physical ones
            scaling = (tuple(info.scales[b - 1] for b in bands), tuple(info.offsets[b - 1] for b in bands))
    else:
        bands = read_bands(template, info.band_count)
        given = BandSet(info.dtype, tuple(info.band_names[i - 1] if i <= len(info.band_names) else "" for i in bands))
        produced = chain_output(template, given)
        dtype, count, names = produced.dtype, produced.count, produced.names
        nodata = None  # processed values have no nodata value of their own: a mask band marks gaps
    if axes:  # each step's bands in turn, named by their step
        names = tuple(f"{name} {step.label(info.dimensions)}" for step in steps for name in names)
        count = len(names)
        scaling = (scaling[0] * len(steps), scaling[1] * len(steps))
    size = raster_bytes(grid.width * grid.height, count, dtype)
    if size > limits.max_coverage_bytes:
        raise ResourceLimitExceeded(
            f"the coverage would be {readable_size(size)} ({_side(grid.width)}x{_side(grid.height)}x{count} "
            f"{dtype}); at most {readable_size(limits.max_coverage_bytes)} are served"
        )
    _check_encoding(query.format, dtype, count, query.geotiff)
    netcdf = query.format is CoverageFormat.NETCDF
    if netcdf and (cubes is None or not axes):
        raise FormatRefused("application/netcdf is offered for multidimensional coverages; use image/tiff")
    whole = ReadRequest(layer, grid, bands, query.resampling, limits.max_items, query.items,
                        constraints=constraints, template=template, exact=True, max_steps=limits.max_steps,
                        budget=current_budget())
    fmt = CoverageFormat.GEOTIFF if netcdf else query.format  # netCDF: the GeoTIFF's bands, re-encoded
    writer = CoverageWriter(grid, count, dtype, nodata, names, fmt, query.geotiff, scaling)
    try:
        windows = list(writer.windows())
        if len(windows) > 1:
            _check_item_count(views, whole)
        for window in windows:
            piece = grid.subgrid(window)
            with holding(f"a {piece.width}x{piece.height} piece of the coverage",
                         raster_bytes(piece.width * piece.height, count, dtype)):
                data, valid = _read_steps(views, replace(whole, grid=piece), axes, steps)
                with phase("encode"):
                    writer.write(window, data, valid)
        with phase("encode"):
            encoded = writer.finish()
            if netcdf and cubes is not None:
                return cubes.encode(encoded, axes, steps, info.band_names[0], info.units)
            return encoded
    finally:
        writer.close()


def _read_steps(views: ViewReader, request: ReadRequest, dimensions: tuple[Dimension, ...],
                steps: list[Slice]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One piece's values at every step, bands of each step in turn (None: nothing there); the
    validity is per pixel, so a pixel is valid where any step has a value (nodata marks the rest)."""
    if not dimensions:
        raster = views.read_values(request)
        return (None, None) if raster is None else (raster.data, raster.valid)
    rasters = [views.read_values(replace(request, dimensions=step.values(dimensions))) for step in steps]
    if all(r is None for r in rasters):
        return None, None
    count, shape = len(request.bands), (request.grid.height, request.grid.width)
    nodata = np.nan if request.layer.info.nodata is None else request.layer.info.nodata
    data = np.full((count * len(steps), *shape), nodata, np.dtype(request.layer.info.dtype))
    valid = np.zeros(shape, bool)
    for i, raster in enumerate(rasters):
        if raster is not None:
            data[i * count:(i + 1) * count] = np.where(raster.valid, raster.data, data[i * count:(i + 1) * count])
            valid |= raster.valid
    return data, valid


def _check_item_count(views: ViewReader, whole: ReadRequest) -> None:
    """Refuse a coverage over more items than one read may take, as if it were read at once
    (its pieces are read one by one, each within the cap)."""
    around = whole.grid.expanded(context_pixels(whole.template) if whole.template else 0)
    views.select(whole, grid=around)
    if whole.template is not None and whole.template.compare is not None:
        views.select(whole, replace(whole.items, time=whole.template.compare.time, nearest_time=True), around)


def _side(pixels: int) -> str:
    return str(pixels) if pixels < 10**12 else f"about 10^{len(str(pixels)) - 1}"
