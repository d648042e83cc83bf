"""Zonal statistics: computed at once in this process for small inputs (a synchronous request),
or chunk by chunk on the cluster's workers, merged here."""

from __future__ import annotations

import uuid

import shapely
from distributed import Client, as_completed

from ogcserver.analysing.cluster import worker_core
from ogcserver.composition import Core
from ogcserver.core.analysis.compute import product_bands
from ogcserver.core.analysis.inputs import spec_from_inputs
from ogcserver.core.analysis.plan import AnalysisSpec, Chunk, check_spec, chunks
from ogcserver.core.analysis.zonal import Histogram, Partial, Zone, chunk_partials, merge, parse_zones, results
from ogcserver.core.catalog import Layer
from ogcserver.model.errors import InvalidValue, ResourceLimitExceeded
from ogcserver.model.geo import WGS84, BBox, geojson_polygon, transform_bbox
from ogcserver.settings import Settings


def _worker_partials(settings: Settings, spec: AnalysisSpec, chunk: Chunk, zones: list[Zone],
                     histogram: Histogram | None) -> dict[int, list[Partial]]:
    engine = worker_core(settings).engine
    return chunk_partials(engine, spec, spec.grid(), chunk, zones, histogram)


def _histogram(layer: Layer, spec: AnalysisSpec, bins: int | None, value_range: tuple[float, ...] | None,
               max_bins: int, count: int) -> Histogram | None:
    if not bins:
        return None
    if not 1 <= bins <= max_bins:
        raise InvalidValue("bins", f"give between 1 and {max_bins} bins")
    if value_range is not None:
        if len(value_range) != 2 or not value_range[0] < value_range[1]:
            raise InvalidValue("range", "give the histogram's range as low,high with low < high")
        return Histogram(bins, ((value_range[0], value_range[1]),) * count)
    bands = product_bands(layer, spec)
    if bands.dtype == "uint8":
        return Histogram(bins, ((0.0, 256.0),) * count)
    if spec.template is None and len(layer.info.statistics) == count:
        return Histogram(bins, tuple((s.minimum, s.maximum) for s in layer.info.statistics))
    raise InvalidValue("range", "give the histogram's range (low,high) for values of this type")


def zonal_spec(core: Core, settings: Settings, layer: Layer, inputs: dict, zones: list[Zone]) -> AnalysisSpec:
    """The job's spec over the zones' extent (unless a bbox is given), in the output CRS."""
    if inputs.get("bbox") in (None, ""):
        union = shapely.union_all([geojson_polygon(z.geometry, 100_000) for z in zones])
        crs = str(inputs.get("crs") or layer.info.crs).upper()
        box = transform_bbox(BBox.from_bounds(union.bounds, WGS84), crs)
        inputs = {**inputs, "bbox": box.as_tuple(), "crs": crs}
    return spec_from_inputs(core.engine, layer, {**inputs, "polygon": None}, chunk_size=settings.analysis.chunk_size)


def run_zonal(core: Core, settings: Settings, layer: Layer, inputs: dict, geojson: object, bins: int | None,
              value_range: tuple[float, ...] | None, client: Client | None) -> list[dict]:
    """Statistics per zone; without a client the grid must be small enough to answer at once."""
    zones = parse_zones(geojson, settings.analysis.max_zones)
    spec = zonal_spec(core, settings, layer, inputs, zones)
    grid = check_spec(spec, settings.analysis.max_output_pixels)
    names = product_bands(layer, spec).names
    histogram = _histogram(layer, spec, bins, value_range, settings.analysis.histogram_bins, len(names))
    merged: dict[int, list[Partial]] = {}
    plan = list(chunks(grid, spec.chunk_size))
    if client is None:
        if grid.width * grid.height > settings.analysis.max_zonal_pixels:
            raise ResourceLimitExceeded(f"zonal statistics over more than {settings.analysis.max_zonal_pixels} "
                                        "pixels run as a job (asynchronous execution)")
        for chunk in plan:
            merge(merged, chunk_partials(core.engine, spec, grid, chunk, zones, histogram))
    else:
        run = uuid.uuid4().hex  # each request its own tasks: other zones over the same grid give other figures
        futures = [client.submit(_worker_partials, settings, spec, c, zones, histogram, key=f"zonal-{run}-{c.name}")
                   for c in plan]
        try:
            for future in as_completed(futures):
                merge(merged, future.result())
        except BaseException:
            client.cancel(futures)
            raise
    return results(zones, merged, names, histogram)
