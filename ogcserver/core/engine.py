"""The engine: every map, point query and legend of every protocol goes through here.

map: limits -> layers -> access -> one read per layer (core/read.py) -> style -> composite -> encode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import BinaryIO

import numpy as np

from ogcserver.core.access import Policy
from ogcserver.core.catalog import Layer, LayerCatalog
from ogcserver.core.colour_scale import SCALAR, is_scalar, scalar_template
from ogcserver.core.config import CoreSettings, Limits, ServiceDefinition
from ogcserver.core.constraints import allowed_items, point_in_area, sample_point
from ogcserver.core.coverage import read_coverage
from ogcserver.core.functions.chain import needs_dataset_statistics, read_bands, with_dataset_statistics
from ogcserver.core.functions.library import Colormap
from ogcserver.core.functions.over_dimensions import OverDimensions
from ogcserver.core.functions.templates import ProcessingTemplate, with_over
from ogcserver.core.memory import picture_bytes
from ogcserver.core.query import (
    DEFAULT_SCALE,
    EVERY_ITEM,
    ColourScale,
    CoverageQuery,
    ItemQuery,
    ItemSearch,
    LegendQuery,
    MapQuery,
    PointQuery,
)
from ogcserver.core.read import ReadRequest, ViewReader
from ogcserver.core.render.encode import encode
from ogcserver.core.render.legend import legend_picture, message_picture, scale_legend, template_legend
from ogcserver.core.render.style import composite, render_default, render_processed
from ogcserver.core.series import StepValue, point_series, series_steps
from ogcserver.model.access import Action, Constraints, Principal
from ogcserver.model.budget import Budget, check_deadline, current_budget, holding, request_budget
from ogcserver.model.catalog import CatalogItem, LayerInfo
from ogcserver.model.coverage import EncodedCoverage
from ogcserver.model.errors import (
    DownloadNotOffered,
    InvalidPoint,
    ItemNotFound,
    ProcessingNotAllowed,
    SizeLimitExceeded,
    SourceUnavailable,
    StyleNotFound,
    TooManyLayers,
)
from ogcserver.model.formats import EncodedImage, ImageFormat, Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid, Raster, RGBAImage
from ogcserver.model.timing import phase
from ogcserver.storage.interfaces import CubeEncoder, RasterReader


@dataclass(frozen=True)
class ItemHit:
    """An item's band values at a point; for a query over several steps of the layer's
    dimensions, its series instead: the first band's value at each step."""

    """A raster of a layer with valid values at the queried point."""

    item: CatalogItem
    values: list[float]
    series: tuple[StepValue, ...] = ()


@dataclass
class LayerFeatures:
    layer: str
    band_names: tuple[str, ...]
    x: float
    y: float
    crs: str
    hits: list[ItemHit] = field(default_factory=list)
    units: str = ""


STATISTICS_SAMPLE = 512  # pixels a side of the whole-layer read behind dataset statistics


class Engine:
    def __init__(self, settings: CoreSettings, catalog: LayerCatalog, reader: RasterReader, policy: Policy) -> None:
        self.settings = settings
        self.views = ViewReader(catalog, reader)  # every read of layer values goes through it
        self.policy = policy
        self._limits = {s.name: settings.limits_for(s) for s in settings.services}
        self._bound: dict[tuple, ProcessingTemplate] = {}  # templates with dataset statistics, per layer state
        self.clock: Callable[[], float] = time.monotonic  # of every request's deadline
        self.cubes: CubeEncoder | None = None  # multidimensional coverages as netCDF (set by the composition)

    @property
    def catalog(self) -> LayerCatalog:
        return self.views.catalog

    @property
    def reader(self) -> RasterReader:
        """The raster reader of every read (replacing it here replaces it there)."""
        return self.views.reader

    @reader.setter
    def reader(self, reader: RasterReader) -> None:
        self.views.reader = reader

    def service(self, name: str) -> ServiceDefinition:
        return next(s for s in self.settings.services if s.name == name)

    def limits(self, service: str | None) -> Limits:
        return self._limits.get(service, self.settings.limits) if service else self.settings.limits

    def check_size(self, width: int, height: int, service: str | None) -> None:
        limits = self.limits(service)
        if width > limits.max_width:
            raise SizeLimitExceeded("width", width, limits.max_width)
        if height > limits.max_height:
            raise SizeLimitExceeded("height", height, limits.max_height)
        if width * height > limits.max_pixels:
            raise SizeLimitExceeded("area", width * height, limits.max_pixels)

    def layers(self, service: str | None, principal: Principal) -> list[Layer]:
        """The layers the principal may discover (capabilities, landing page)."""
        return [lr for lr in self.catalog.layers(service) if self.policy.may_discover(principal, lr.info)]

    def permits(self, principal: Principal, info: LayerInfo, action: Action) -> bool:
        """Whether the principal may do this to the layer at all (within some constraints):
        for links a document offers, never instead of ``resolve`` before the action itself."""
        return self.policy.decide(principal, info, action) is not None

    def resolve(
        self, name: str, style: str, service: str | None, principal: Principal, action: Action, operation: str
    ) -> tuple[Layer, Constraints]:
        """The layer and the constraints on this action, after the access check."""
        layer = self.catalog.layer(name, service)
        constraints = self.policy.check(principal, layer.info, action, operation)
        if style and style not in {s.name for s in layer.info.styles} and not is_scalar(layer.info, style):
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
            raise TooManyLayers(limits.max_layers)
        action = Action.PROCESS if query.rendering else Action.VIEW
        layers = [self.resolve(ref.layer, ref.style, query.service, query.principal, action, "map") for ref in query.layers]
        if query.rendering:
            for layer, _ in layers:
                if not self.service(layer.info.service).allow_processing:
                    raise ProcessingNotAllowed(layer.info.service)
        grid = query.grid
        with holding(f"a {grid.width}x{grid.height} map", picture_bytes(grid.width * grid.height)):
            picture: RGBAImage | None = None
            for (layer, constraints), ref in zip(layers, query.layers):
                rendered = self._render_layer(layer, grid, query.resampling, limits, constraints, ref.style,
                                              query.rendering, query.items, query.scale, query.over)
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
        scale: ColourScale = DEFAULT_SCALE,
        over: OverDimensions | None = None,
    ) -> RGBAImage | None:
        """One layer's picture on a grid: its read (see core/read.py), then its style; ``over``:
        the request's function over the layer's dimensions, before the style's chain."""
        template = self._template(layer, style, rendering, scale)
        if over is not None:
            template = with_over(template, over)
        if template is not None:
            template = self.with_statistics(layer, template, limits)
        request = ReadRequest(
            layer, grid, read_bands(template, layer.info.band_count) if template else layer.render_bands,
            resampling or Resampling(self.settings.rendering.default_resampling), limits.max_items, want,
            constraints=constraints, template=template, max_steps=limits.max_steps, budget=current_budget(),
        )
        raster = self.views.read_view(request)
        if raster is None or isinstance(raster, RGBAImage):
            return raster  # nothing there, or too many items and no overview: their footprints, drawn
        with phase("functions"):  # the style: values to colours
            if template and template.chain:
                return render_processed(raster)
            return render_default(raster, layer.info.statistics, layer.info.palette)

    def _template(self, layer: Layer, style: str, rendering: ProcessingTemplate | None,
                  scale: ColourScale) -> ProcessingTemplate | None:
        """The chain of a style (an ad-hoc one, a processing template, a colour scale) with the
        request's colour scale applied; None: the layer's default picture."""
        if rendering is not None:
            return rendering
        style = style or layer.info.default_style
        return scalar_template(layer, style, self.settings.template(style), scale)

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
            sample = self.views.read_view(ReadRequest(layer, grid, bands, Resampling.NEAREST, limits.max_items))
            bound = with_dataset_statistics(template, sample) if isinstance(sample, Raster) else template
            if len(self._bound) > 256:
                self._bound.clear()
            self._bound[key] = bound
        return bound

    def render_picture(
        self, layer: Layer, grid: Grid, constraints: Constraints, style: str = "", want: ItemQuery = EVERY_ITEM,
        scale: ColourScale = DEFAULT_SCALE,
    ) -> RGBAImage | None:
        """One layer drawn on a grid (for tiles), after the caller's access check."""
        limits = self.limits(layer.info.service)
        budget = self.budget(limits)
        try:
            with request_budget(budget), holding(f"a {grid.width}x{grid.height} picture",
                                                 picture_bytes(grid.width * grid.height)):
                return self._render_layer(layer, grid, None, limits, constraints, style, None, want, scale)
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
        if is_scalar(layer.info, query.processing):
            raise StyleNotFound(query.processing, query.coverage)  # colours, not values
        template = self.settings.template(query.processing) if query.processing else None
        if query.rendering is not None:
            if not self.service(layer.info.service).allow_processing:
                raise ProcessingNotAllowed(layer.info.service)
            self.resolve(query.coverage, "", query.service, query.principal, Action.PROCESS, "coverage")
            template = query.rendering
        limits = self.limits(query.service)
        budget = self.budget(limits)
        try:
            with request_budget(budget):
                if template is not None:
                    template = self.with_statistics(layer, template, limits)
                coverage = read_coverage(self.views, layer, query, limits, constraints, template, self.cubes)
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
            features = LayerFeatures(name, tuple(layer.info.band_names), x, y, grid.crs, units=layer.info.units)
            results.append(features)
            if not point_in_area(x, y, grid.crs, constraints):
                continue
            sx, sy = sample_point(grid, query.col, query.row, layer.info.crs, constraints)
            pixel = Grid.from_bbox(BBox(sx - px, sy - py, sx + px, sy + py, grid.crs), 1, 1)
            request = ReadRequest(layer, pixel, (), Resampling.NEAREST, limits.max_items, query.items,
                                  constraints=constraints, max_steps=limits.max_steps)
            steps = series_steps(request)
            if steps:
                found = point_series(self.views, request, steps, (sx, sy))
                if found is not None:
                    features.hits.append(ItemHit(found[0], [], found[1]))
                continue
            for item in self.views.select(request):
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
        if not self.service(layer.info.service).allow_download:
            raise DownloadNotOffered(layer.info.service)
        stream, size = self.reader.original(item.source)
        return item, stream, size

    def legend(self, query: LegendQuery, fmt: ImageFormat) -> EncodedImage:
        layer, _ = self.resolve(query.layer, query.style, query.service, query.principal, Action.VIEW, "legend")
        if query.width or query.height:
            self.check_size(query.width or 1, query.height or 1, query.service)
        template = self._template(layer, query.style, None, query.scale)
        pixels = self._legend_pixels(layer, template, query) if template is not None else None
        if pixels is None:
            pixels = legend_picture(layer, query.width, query.height)
        height, width = pixels.shape[:2]
        grid = Grid.from_bbox(BBox(0, 0, width, height, "EPSG:3857"), width, height)
        return encode(RGBAImage(pixels.copy(), grid), fmt, True, (255, 255, 255), self.settings.rendering)

    @staticmethod
    def _legend_pixels(layer: Layer, template: ProcessingTemplate, query: LegendQuery) -> np.ndarray | None:
        """A colour scale's bar (the scalar styles, and templates ending in a ramp drawn with a
        request's colour scale), else the template's own legend."""
        last = template.chain[-1] if template.compare is None and template.chain else None
        if isinstance(last, Colormap) and not last.stops and (template.name == SCALAR or not query.scale.is_default):
            title = layer.info.title if template.name == SCALAR else template.title or template.name
            return scale_legend(last, title, layer.info.units, query.width, query.height, query.bar_only)
        return template_legend(template, query.width, query.height)

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
