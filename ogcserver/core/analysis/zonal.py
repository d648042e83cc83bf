"""Zonal statistics and histograms of a layer (or a chain's values) over polygons.

Each chunk of the grid gives, per zone and band, the count, mean, sum of squared deviations,
minimum, maximum and histogram counts of the valid pixels whose centre lies in the zone; chunks
are merged pairwise (Chan's parallel update, so the standard deviation stays exact in float64),
which lets the cluster's workers compute chunks independently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from ogcserver.core.analysis.compute import chunk_values, product_bands, window_inside
from ogcserver.core.analysis.inputs import output_crs, spec_from_inputs
from ogcserver.core.analysis.plan import AnalysisSpec, Chunk, check_spec
from ogcserver.core.catalog import Layer
from ogcserver.core.config import AnalysisConfig
from ogcserver.core.engine import Engine
from ogcserver.core.seed import projected
from ogcserver.model.access import UNCONSTRAINED, Constraints
from ogcserver.model.errors import InvalidValue
from ogcserver.model.geo import WGS84, BBox, geojson_polygon, transform_bbox
from ogcserver.model.image import Grid

MAX_ZONE_POINTS = 100_000


@dataclass(frozen=True)
class Zone:
    """A polygon (GeoJSON in lon/lat) with the id and properties it came with, and its lon/lat
    bounds, which tell the chunks it cannot touch before it is parsed and projected there."""

    id: Any
    properties: dict
    geometry: dict
    bounds: tuple[float, float, float, float]


@dataclass(frozen=True)
class Histogram:
    bins: int
    ranges: tuple[tuple[float, float], ...]  # per band: the low edge of the first bin, the high edge of the last


@dataclass
class Partial:
    """One zone's running figures for one band."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    counts: np.ndarray | None = field(default=None)

    def add(self, other: Partial) -> Partial:
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        counts = None if self.counts is None or other.counts is None else self.counts + other.counts
        return Partial(n, self.mean + delta * other.count / n, self.m2 + other.m2 + delta * delta * self.count * other.count / n,
                       min(self.minimum, other.minimum), max(self.maximum, other.maximum), counts)


@dataclass(frozen=True)
class ZonalJob:
    """Everything a zonal computation needs, as plain values for the cluster."""

    spec: AnalysisSpec
    zones: list[Zone]
    histogram: Histogram | None
    band_names: tuple[str, ...]


def zonal_job(engine: Engine, layer: Layer, inputs: dict, config: AnalysisConfig, owner: str = "operator",
              constraints: Constraints = UNCONSTRAINED) -> ZonalJob:
    """The zones, and a grid over their extent (unless a bbox is given) in the output CRS."""
    zones = parse_zones(inputs.get("zones"), config.max_zones)
    if inputs.get("bbox") in (None, ""):
        union = shapely.union_all([geojson_polygon(z.geometry, MAX_ZONE_POINTS) for z in zones])
        crs = output_crs(inputs.get("crs"), layer.info.crs)
        box = transform_bbox(BBox.from_bounds(shapely.bounds(union).tolist(), WGS84), crs)
        inputs = {**inputs, "bbox": box.as_tuple(), "crs": crs}
    spec = spec_from_inputs(engine, layer, {**inputs, "polygon": None, "output": "zonal"}, owner, constraints,
                            config.chunk_size)
    check_spec(spec, config.max_output_pixels)  # refused now, not by the job that would run it
    names = product_bands(layer, spec).names
    histogram = _histogram(layer, spec, inputs.get("bins"), inputs.get("range"), config.histogram_bins, len(names))
    return ZonalJob(spec, zones, histogram, names)


def _histogram(layer: Layer, spec: AnalysisSpec, bins: Any, value_range: Any, max_bins: int,
               count: int) -> Histogram | None:
    """Bins over the given range, else over the values' type (8-bit) or the layer's statistics."""
    if bins in (None, 0):
        return None
    if not isinstance(bins, int) or not 1 <= bins <= max_bins:
        raise InvalidValue("bins", f"give between 1 and {max_bins} bins")
    if value_range is not None:
        try:
            low, high = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise InvalidValue("range", "give the histogram's range as [low, high]") from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise InvalidValue("range", "the histogram's range needs low < high")
        return Histogram(bins, ((low, high),) * count)
    if product_bands(layer, spec).dtype == "uint8":
        return Histogram(bins, ((0.0, 256.0),) * count)
    if spec.template is None and len(layer.info.statistics) == count:
        return Histogram(bins, tuple((s.minimum, s.maximum) for s in layer.info.statistics))
    raise InvalidValue("range", "give the histogram's range (low, high) for values of this type")


def parse_zones(geojson: Any, max_zones: int) -> list[Zone]:
    """Zones from a FeatureCollection, a Feature or a bare Polygon/MultiPolygon, in lon/lat."""
    if not isinstance(geojson, dict):
        raise InvalidValue("zones", "the zones must be a GeoJSON object")
    if geojson.get("type") == "FeatureCollection":
        features = geojson.get("features")
        if not isinstance(features, list):
            raise InvalidValue("zones", "a FeatureCollection needs a list of features")
    elif geojson.get("type") == "Feature":
        features = [geojson]
    else:
        features = [{"type": "Feature", "geometry": geojson, "properties": {}}]
    if not features:
        raise InvalidValue("zones", "the zones hold no polygon")
    if len(features) > max_zones:
        raise InvalidValue("zones", f"at most {max_zones} zones are computed at once")
    zones = []
    for i, feature in enumerate(features):
        if not isinstance(feature, dict):
            raise InvalidValue("zones", f"zone {i} is not a GeoJSON Feature")
        try:
            shape = geojson_polygon(feature.get("geometry"), MAX_ZONE_POINTS)
        except ValueError as exc:
            raise InvalidValue("zones", f"zone {i}: {exc}") from None
        minx, miny, maxx, maxy = shapely.bounds(shape)
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise InvalidValue("zones", f"zone {i} is not in longitude/latitude (EPSG:4326)")
        properties = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        zones.append(Zone(feature.get("id", i), properties or {}, feature["geometry"], (minx, miny, maxx, maxy)))
    return zones


def chunk_partials(engine: Engine, spec: AnalysisSpec, grid: Grid, chunk: Chunk, zones: list[Zone],
                   histogram: Histogram | None) -> dict[int, list[Partial]]:
    """Per zone (by index) touching the chunk, one partial per band."""
    raster = chunk_values(engine, spec, grid, chunk)
    if raster is None:
        return {}
    piece = raster.grid
    reach = _lonlat_reach(piece)
    out: dict[int, list[Partial]] = {}
    for index, zone in enumerate(zones):
        if reach is not None and not reach.intersects(BBox.from_bounds(zone.bounds, WGS84)):
            continue
        found = window_inside(projected(geojson_polygon(zone.geometry, MAX_ZONE_POINTS), piece.crs), piece)
        if found is None:
            continue
        (r0, r1, c0, c1), part = found
        inside = part & raster.valid[r0:r1, c0:c1]
        if not inside.any():
            continue
        partials = []
        for band in range(raster.count):
            values = raster.data[band][r0:r1, c0:c1][inside].astype(np.float64)
            values = values[np.isfinite(values)]
            if values.size == 0:
                partials.append(Partial(counts=_empty_counts(histogram)))
                continue
            mean = float(values.mean())
            counts = None
            if histogram is not None:
                low, high = histogram.ranges[band]
                counts, _ = np.histogram(values, bins=histogram.bins, range=(low, high))
            partials.append(Partial(int(values.size), mean, float(((values - mean) ** 2).sum()),
                                    float(values.min()), float(values.max()), counts))
        out[index] = partials
    return out


def _lonlat_reach(grid: Grid) -> BBox | None:
    """The lon/lat bounds of the grid with two pixels to spare (a zone outside them has no pixel
    centre in it), or None where they cannot be told."""
    try:
        box = transform_bbox(grid.expanded(2).bbox, WGS84)
    except Exception:  # noqa: BLE001 - PROJ's errors vary: test every zone then
        return None
    return box if box.is_valid() else None


def _empty_counts(histogram: Histogram | None) -> np.ndarray | None:
    return None if histogram is None else np.zeros(histogram.bins, dtype=np.int64)


def merge(into: dict[int, list[Partial]], part: dict[int, list[Partial]]) -> dict[int, list[Partial]]:
    for index, partials in part.items():
        if index in into:
            into[index] = [a.add(b) for a, b in zip(into[index], partials)]
        else:
            into[index] = partials
    return into


def results(zones: list[Zone], merged: dict[int, list[Partial]], band_names: tuple[str, ...],
            histogram: Histogram | None) -> list[dict]:
    """Per zone and band: count, min, max, mean, std (population), sum, and the histogram."""
    out = []
    for index, zone in enumerate(zones):
        bands = []
        for band, name in enumerate(band_names):
            p = merged.get(index, [Partial() for _ in band_names])[band]
            figures: dict[str, Any] = {"band": band + 1, "name": name, "count": p.count}
            if p.count:
                figures.update(min=p.minimum, max=p.maximum, mean=p.mean, std=math.sqrt(p.m2 / p.count),
                               sum=p.mean * p.count)
            else:
                figures.update(min=None, max=None, mean=None, std=None, sum=0.0)
            if histogram is not None:
                low, high = histogram.ranges[band]
                edges = np.linspace(low, high, histogram.bins + 1)
                counts = p.counts if p.counts is not None else np.zeros(histogram.bins, dtype=np.int64)
                figures["histogram"] = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
            bands.append(figures)
        out.append({"id": zone.id, "properties": zone.properties, "bands": bands})
    return out
