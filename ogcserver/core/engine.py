"""The engine: every map, point query and legend of every protocol goes through here.

map: limits -> layers -> catalog selection -> mosaic -> style -> composite -> encode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import BinaryIO

import numpy as np

from ogcserver.core.access import Policy
from ogcserver.core.catalog import Layer, LayerCatalog
from ogcserver.core.constraints import (
    allowed_items, mask_outside_area, point_in_area, resolution_factor, sample_point, upsample,
)
from ogcserver.core.coverage import read_coverage
from ogcserver.core.memory import mosaic_bytes, picture_bytes
from ogcserver.core.mosaic import mosaic
from ogcserver.core.overviews import choose_level, overview_usable
from ogcserver.core.render.footprints import FOOTPRINTS_DRAWN, footprint_picture, grid_lonlat
from ogcserver.core.query import EVERY_ITEM, CoverageQuery, ItemQuery, ItemSearch, LegendQuery, MapQuery, PointQuery
from ogcserver.core.render.encode import encode
from ogcserver.core.render.legend import legend_picture, message_picture, template_legend
from ogcserver.core.functions.chain import (
    apply_chain, context_pixels, needs_dataset_statistics, per_item, read_bands, with_dataset_statistics,
)
from ogcserver.core.render.style import composite, render_default, render_processed
from ogcserver.model.budget import Budget, check_deadline, holding, request_budget
from ogcserver.model.access import UNCONSTRAINED, Action, Constraints, Principal
from ogcserver.model.catalog import CatalogItem, LayerInfo
from ogcserver.model.coverage import EncodedCoverage
from ogcserver.model.errors import (
    InvalidPoint, InvalidValue, ItemNotFound, LimitExceeded, SourceUnavailable, StyleNotFound,
)
from ogcserver.model.formats import EncodedImage, ImageFormat, Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid, Raster, RGBAImage
from ogcserver.settings import Limits, ProcessingTemplate, ServiceConfig, Settings
from ogcserver.storage.interfaces import RasterReader


@dataclass(frozen=True)
class ItemHit:
    """A raster of a layer with valid values at the queried point."""

    item: CatalogItem
    values: list[float]


@dataclass
class LayerFeatures:
    layer: str
    band_names: tuple[str, ...]
    x: float
    y: float
    crs: str
    hits: list[ItemHit] = field(default_factory=list)


STATISTICS_SAMPLE = 512  # pixels a side of the whole-layer read behind dataset statistics


class Engine:
    def __init__(self, settings: Settings, catalog: LayerCatalog, reader: RasterReader, policy: Policy) -> None:
        self.settings = settings
        self.catalog = catalog
        self.reader = reader
        self.policy = policy
        self._limits = {s.name: settings.limits_for(s) for s in settings.services}
        self._bound: dict[tuple, ProcessingTemplate] = {}  # templates with dataset statistics, per layer state
        self.clock: Callable[[], float] = time.monotonic  # of every request's deadline

    def _service(self, name: str) -> ServiceConfig:
        return next(s for s in self.settings.services if s.name == name)

    def limits(self, service: str | None) -> Limits:
        return self._limits.get(service, self.settings.limits) if service else self.settings.limits

    def check_size(self, width: int, height: int, service: str | None) -> None:
        limits = self.limits(service)
        if width > limits.max_width:
            raise LimitExceeded("WIDTH", f"WIDTH {width} is more than the maximum {limits.max_width}")
        if height > limits.max_height:
            raise LimitExceeded("HEIGHT", f"HEIGHT {height} is more than the maximum {limits.max_height}")
        if width * height > limits.max_pixels:
            raise LimitExceeded("WIDTH", f"{width}x{height} is more than {limits.max_pixels} pixels")

    def layers(self, service: str | None, principal: Principal) -> list[Layer]:
        """The layers the principal may discover (capabilities, landing page)."""
        return [lr for lr in self.catalog.layers(service) if self.policy.may_discover(principal, lr.info)]

    def resolve(
        self, name: str, style: str, service: str | None, principal: Principal, action: Action, operation: str
    ) -> tuple[Layer, Constraints]:
        """The layer and the constraints on this action, after the access check."""
        layer = self.catalog.layer(name, service)
        constraints = self.policy.check(principal, layer.info, action, operation)
        if style and style not in {s.name for s in layer.info.styles}:
            raise StyleNotFound(style, name)
        return layer, constraints

    def budget(self, limits: Limits) -> Budget:
        """A new request's deadline and memory budget."""
        return Budget(self.clock() + limits.render_timeout, limits.max_request_bytes, self.clock)

    def _finish(self, budget: Budget) -> None:
        """After a request: mark the items it found unreadable, give back what the reader holds."""
        for (collection, key), reason in budget.skipped.items():
            self.catalog.mark_unreadable(collection, key, reason)
        self.reader.release()

    def render_map(self, query: MapQuery) -> EncodedImage:
        budget = self.budget(self.limits(query.service))
        try:
            with request_budget(budget):
                image = self._render_map(query)
        finally:
            self._finish(budget)
        return replace(image, skipped=len(budget.skipped))

    def _render_map(self, query: MapQuery) -> EncodedImage:
        limits = self.limits(query.service)
        self.check_size(query.grid.width, query.grid.height, query.service)
        if len(query.layers) > limits.max_layers:
            raise LimitExceeded("LAYERS", f"at most {limits.max_layers} layers per request")
        action = Action.PROCESS if query.rendering else Action.VIEW
        layers = [self.resolve(ref.layer, ref.style, query.service, query.principal, action, "map") for ref in query.layers]
        if query.rendering:
            for layer, _ in layers:
                if not self._service(layer.info.service).allow_processing:
                    raise InvalidValue("RENDERINGRULE", f"service '{layer.info.service}' takes no processing chains in requests")
        grid = query.grid
        with holding(f"a {grid.width}x{grid.height} map", picture_bytes(grid.width * grid.height)):
            picture: RGBAImage | None = None
            for (layer, constraints), ref in zip(layers, query.layers):
                rendered = self._render_layer(layer, grid, query.resampling, limits, constraints, ref.style,
                                              query.rendering, query.items)
                if rendered is not None:
                    picture = composite(picture, rendered)
        if picture is None:
            picture = self._empty(grid)
        check_deadline()
        return encode(picture, query.format, query.transparent, query.bgcolor, self.settings.rendering)

    def _render_layer(
        self,
        layer: Layer,
        grid: Grid,
        resampling: Resampling | None,
        limits: Limits,
        constraints: Constraints,
        style: str = "",
        rendering: ProcessingTemplate | None = None,
        want: ItemQuery = EVERY_ITEM,
    ) -> RGBAImage | None:
        template = rendering or self.settings.template(style or layer.info.default_style)
        if template is not None:
            template = self.with_statistics(layer, template, limits)
        method = resampling or Resampling(self.settings.rendering.default_resampling)
        factor = resolution_factor(grid, layer.info.crs, constraints)
        view = grid.coarsened(factor) if factor > 1 else grid
        context = context_pixels(template) if template else 0
        read_grid = view.expanded(context)
        bands = read_bands(template, layer.info.band_count) if template else layer.render_bands
        prepare = per_item(template)
        operator = want.operator or layer.config.operator
        size = mosaic_bytes(read_grid.width * read_grid.height, len(bands), layer.info.dtype, operator,
                            template is not None) * (2 if template and template.compare else 1)
        with holding(f"layer '{layer.info.name}' on {read_grid.width}x{read_grid.height} pixels", size):
            raster = self._read_mosaic(layer, read_grid, bands, method, limits, constraints, want, prepare)
            if isinstance(raster, RGBAImage):
                return raster  # too many items and no overview: their footprints, drawn
            if raster is None:
                return None
            if template:
                reference = None
                if template.compare is not None:
                    earlier = replace(want, time=template.compare.time, nearest_time=True)
                    reference = self._read_mosaic(layer, read_grid, bands, method, limits, constraints, earlier,
                                                  prepare)
                    if not isinstance(reference, Raster):
                        return None  # nothing (or too much) to compare with
                raster = apply_chain(raster, template, view, context, reference)
        if factor > 1:
            raster = upsample(raster, grid, factor)
        raster = mask_outside_area(raster, constraints)
        if template:
            return render_processed(raster)
        return render_default(raster, layer.info.statistics, layer.info.palette)

    def with_statistics(self, layer: Layer, template: ProcessingTemplate, limits: Limits) -> ProcessingTemplate:
        """The template with dataset-statistics stretches bound to the layer's values: computed
        once per layer state from a sample of the whole layer (about 512 px a side)."""
        if not needs_dataset_statistics(template):
            return template
        key = (layer.info.name, layer.info.version, layer.info.generation, template.model_dump_json())
        bound = self._bound.get(key)
        if bound is None:
            b = layer.info.bounds
            scale = max(b.width, b.height) / STATISTICS_SAMPLE
            grid = Grid.from_bbox(b, max(1, round(b.width / scale)), max(1, round(b.height / scale)))
            bands = read_bands(template, layer.info.band_count)
            sample = self._read_mosaic(layer, grid, bands, Resampling.NEAREST, limits, UNCONSTRAINED, EVERY_ITEM)
            bound = with_dataset_statistics(template, sample) if isinstance(sample, Raster) else template
            if len(self._bound) > 256:
                self._bound.clear()
            self._bound[key] = bound
        return bound

    def _read_mosaic(
        self, layer: Layer, grid: Grid, bands: tuple[int, ...], method: Resampling, limits: Limits,
        constraints: Constraints, want: ItemQuery,
        prepare: Callable[[Raster], Raster] | None = None,
    ) -> Raster | RGBAImage | None:
        """The mosaic's values on a grid: from the mosaic-level overview when the view is coarse
        enough (and the overview shows what was asked), else from the items; past the item cap,
        from the overview regardless, else a drawing of the items' footprints."""
        usable = prepare is None and overview_usable(layer, grid, want, constraints)
        level = choose_level(layer.overview, grid) if usable else None
        if level is not None:
            return self.reader.read(level, grid, bands, method)
        try:
            items = self.catalog.items_for(layer, grid.bbox, limits.max_items, want)
        except LimitExceeded:
            if usable:
                return self.reader.read(layer.overview[0], grid, bands, method)
            return footprint_picture(self.catalog.search(layer, grid_lonlat(grid), want, FOOTPRINTS_DRAWN, 0), grid)
        operator = want.operator or layer.config.operator
        raster, _used = mosaic(self.reader, allowed_items(items, constraints), grid, bands, method,
                               operator, layer.config.blend_width, prepare)
        return raster

    def render_picture(
        self, layer: Layer, grid: Grid, constraints: Constraints, style: str = "", want: ItemQuery = EVERY_ITEM,
    ) -> RGBAImage | None:
        """One layer drawn on a grid (for tiles), after the caller's access check."""
        limits = self.limits(layer.info.service)
        budget = self.budget(limits)
        try:
            with request_budget(budget), holding(f"a {grid.width}x{grid.height} picture",
                                                 picture_bytes(grid.width * grid.height)):
                return self._render_layer(layer, grid, None, limits, constraints, style, None, want)
        finally:
            self._finish(budget)

    @staticmethod
    def _empty(grid: Grid) -> RGBAImage:
        return RGBAImage(np.zeros((grid.height, grid.width, 4), dtype=np.uint8), grid)

    def coverage(self, query: CoverageQuery) -> EncodedCoverage:
        """Data values of one layer (not a picture), for WCS; see core/coverage.py. A processing
        template of the layer gives the chain's values; an ad-hoc chain needs a service that
        allows processing and the "process" grant besides "download"."""
        layer, constraints = self.resolve(query.coverage, query.processing, query.service, query.principal,
                                          Action.DOWNLOAD, "coverage")
        template = self.settings.template(query.processing) if query.processing else None
        if query.rendering is not None:
            if not self._service(layer.info.service).allow_processing:
                raise InvalidValue("RENDERINGRULE", f"service '{layer.info.service}' takes no processing chains in requests")
            self.resolve(query.coverage, "", query.service, query.principal, Action.PROCESS, "coverage")
            template = query.rendering
        limits = self.limits(query.service)
        budget = self.budget(limits)
        try:
            with request_budget(budget):
                if template is not None:
                    template = self.with_statistics(layer, template, limits)
                coverage = read_coverage(self.reader, self.catalog, layer, query, limits, constraints, template)
        finally:
            self._finish(budget)
        return replace(coverage, skipped=len(budget.skipped))

    def message_image(
        self, width: int, height: int, text: str, fmt: ImageFormat, transparent: bool
    ) -> EncodedImage:
        """A picture carrying an error message (or nothing), for INIMAGE and BLANK exceptions."""
        pixels = message_picture(width, height, text)
        grid = Grid.from_bbox(BBox(0, 0, width, height, "EPSG:3857"), width, height)
        return encode(RGBAImage(pixels, grid), fmt, transparent, (255, 255, 255), self.settings.rendering)

    def feature_info(self, query: PointQuery) -> list[LayerFeatures]:
        grid = query.grid
        if not (0 <= query.col < grid.width and 0 <= query.row < grid.height):
            raise InvalidPoint(f"the point ({query.col}, {query.row}) is outside the {grid.width}x{grid.height} map")
        limits = self.limits(query.service)
        x, y = grid.transform * (query.col + 0.5, query.row + 0.5)
        px, py = abs(grid.transform.a) / 2, abs(grid.transform.e) / 2
        results = []
        for name in query.layers:
            layer, constraints = self.resolve(name, "", query.service, query.principal, Action.QUERY, "feature_info")
            features = LayerFeatures(name, tuple(layer.info.band_names), x, y, grid.crs)
            results.append(features)
            if not point_in_area(x, y, grid.crs, constraints):
                continue
            sx, sy = sample_point(grid, query.col, query.row, layer.info.crs, constraints)
            area = BBox(sx - px, sy - py, sx + px, sy + py, grid.crs)
            for item in allowed_items(self.catalog.items_for(layer, area, limits.max_items, query.items), constraints):
                try:
                    values = self.reader.sample(item.source, sx, sy, grid.crs)
                except SourceUnavailable:
                    continue
                if values is not None:
                    features.hits.append(ItemHit(item, values))
                    if len(features.hits) >= query.feature_count:
                        break
        return results

    def search_items(self, query: ItemSearch) -> tuple[Layer, list[CatalogItem], bool]:
        """A page of a layer's items the caller may query, and whether more follow."""
        layer, constraints = self.resolve(query.layer, "", query.service, query.principal, Action.QUERY, "catalog")
        limit = min(query.limit, self.limits(query.service).max_items)
        found = self.catalog.search(layer, query.area, query.items, limit + 1, query.offset)
        return layer, self.catalog.with_marks(layer, allowed_items(found[:limit], constraints)), len(found) > limit

    def item(self, name: str, key: str, service: str | None, principal: Principal,
             action: Action = Action.QUERY) -> tuple[Layer, CatalogItem]:
        """One item of a layer, if the caller may act on it; else as if it did not exist."""
        layer, constraints = self.resolve(name, "", service, principal, action, "item")
        item = self.catalog.item(layer, key)
        if item is None or not allowed_items([item], constraints):
            raise ItemNotFound(key)
        return layer, self.catalog.with_marks(layer, [item])[0]

    def original(self, name: str, key: str, service: str | None, principal: Principal) -> tuple[CatalogItem, BinaryIO, int]:
        """An item's original file, for services that allow downloads, to callers granted them."""
        layer, item = self.item(name, key, service, principal, Action.DOWNLOAD)
        if not self._service(layer.info.service).allow_download:
            raise InvalidValue("download", f"service '{layer.info.service}' does not offer original files")
        stream, size = self.reader.original(item.source)
        return item, stream, size

    def legend(self, query: LegendQuery, fmt: ImageFormat) -> EncodedImage:
        layer, _ = self.resolve(query.layer, query.style, query.service, query.principal, Action.VIEW, "legend")
        if query.width or query.height:
            self.check_size(query.width or 1, query.height or 1, query.service)
        template = self.settings.template(query.style) if query.style else None
        pixels = template_legend(template, query.width, query.height) if template else None
        if pixels is None:
            pixels = legend_picture(layer, query.width, query.height)
        height, width = pixels.shape[:2]
        grid = Grid.from_bbox(BBox(0, 0, width, height, "EPSG:3857"), width, height)
        return encode(RGBAImage(pixels.copy(), grid), fmt, True, (255, 255, 255), self.settings.rendering)

    def visible_layer(self, name: str, service: str | None, principal: Principal, action: Action,
                      operation: str) -> Layer:
        """A layer the principal may discover, for checking parameters against it (its tile
        matrices, its size) before the action itself is checked: a hidden layer answers exactly
        like a missing one."""
        layer = self.catalog.layer(name, service)
        self.policy.reveal(principal, layer.info, action, operation)
        return layer

    def items_within(self, layer: Layer, constraints: Constraints, area: BBox, limit: int,
                     want: ItemQuery = EVERY_ITEM) -> list[CatalogItem]:
        """The items over an area that the caller may see, ``constraints`` from ``resolve``."""
        return allowed_items(self.catalog.items_for(layer, area, limit, want), constraints)

    def has_items(self, layer: Layer, area: BBox, want: ItemQuery = EVERY_ITEM) -> bool:
        """Whether any wanted item lies under the area (after ``resolve``): an empty tile is cheap."""
        return self.catalog.has_items(layer, area, want)

    def on_items_changed(self, listener: Callable[[LayerInfo, tuple[BBox, ...]], None]) -> None:
        """Call ``listener`` with a layer and the areas whose items changed (cache invalidation)."""
        self.catalog.listeners.append(listener)

    def operator_layer(self, name: str) -> Layer:
        """Any configured layer, for the operator's own commands (seed, cache): they run on the
        server itself with every right, so no principal is checked."""
        return self.catalog.layer(name)

    def operator_layers(self) -> list[Layer]:
        """Every configured layer, for the operator's own setup (the cache's current versions)."""
        return self.catalog.layers()

    def known_layers(self) -> int:
        """How many layers this process has described, without asking the store (liveness)."""
        return self.catalog.known_layers()

    def check_store(self) -> None:
        """Raise CatalogUnavailable unless the catalog store answers now (readiness)."""
        self.catalog.check_store()
