"""The one read of the core: a layer's values on a grid, as a request may see them.

Maps, tiles (and seeding), coverages, overviews and the statistics behind dataset stretches all
read through ``ViewReader.read_view``, each with one ``ReadRequest`` value, so that what a grant
allows, which items are read and how a chain meets the mosaic are decided in one place:

    the finest resolution the grant allows -> the mosaic overview, or the items wanted (within
    the grant) in mosaic order -> the mosaic (each item through a per-item chain) -> the chain,
    with a reference read to compare with -> back on the requested grid -> the grant's area.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ogcserver.core.catalog import Layer, LayerCatalog
from ogcserver.core.config import DEFAULT_MAX_STEPS
from ogcserver.core.constraints import allowed_items, mask_outside_area, resolution_factor, upsample
from ogcserver.core.functions.chain import apply_chain, context_pixels, per_item
from ogcserver.core.functions.over_dimensions import reduce_by_step, reduce_over
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.core.memory import mosaic_bytes
from ogcserver.core.mosaic import mosaic
from ogcserver.core.query import EVERY_ITEM, ItemQuery
from ogcserver.core.render.footprints import FOOTPRINTS_DRAWN, footprint_picture, grid_lonlat
from ogcserver.model.access import UNCONSTRAINED, Constraints
from ogcserver.model.budget import Budget, holding, request_budget
from ogcserver.model.catalog import CatalogItem, SourceInfo
from ogcserver.model.dimensions import (
    NO_SLICE,
    TIME_FIRST,
    TIME_LAST,
    Dimension,
    Slice,
    local_slice,
    slices_for,
    time_key,
)
from ogcserver.model.errors import TooManyItems
from ogcserver.model.filters import And, Comparison, Filter, IsNull, Or, Property
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import lonlat_intersects
from ogcserver.model.image import Grid, Raster, RGBAImage
from ogcserver.model.mosaic import Operator
from ogcserver.model.reduction import StepReduction, as_statistic
from ogcserver.model.timing import phase
from ogcserver.storage.interfaces import RasterReader

NO_DIMENSIONS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class ReadRequest:
    """Everything that decides the values of one read; two equal requests read the same pixels.

    ``exact``: the values must come from the items themselves (coverages, overview building):
    no mosaic overview stands in for them, and more items than ``max_items`` is an error. A
    picture may instead be read from the overview, or drawn as the items' footprints.
    ``budget`` (the request's deadline and memory) bounds the read but is not part of what is
    read, so it takes no part in equality.
    """

    layer: Layer
    grid: Grid
    bands: tuple[int, ...]
    resampling: Resampling
    max_items: int
    items: ItemQuery = EVERY_ITEM  # the selection and the mosaic rule
    # values of the layer's dimensions (time, elevation, ...) this read takes, by name; empty:
    # those ``items`` asks for; each dimension not named is read at its default step
    dimensions: Mapping[str, str] = field(default_factory=lambda: NO_DIMENSIONS)
    constraints: Constraints = UNCONSTRAINED
    template: ProcessingTemplate | None = None  # the chain, per item or on the mosaic, and what to compare with
    max_steps: int = DEFAULT_MAX_STEPS  # steps a template's function over the dimensions may read
    exact: bool = False
    budget: Budget | None = field(default=None, compare=False)

    @property
    def operator(self) -> Operator:
        """The mosaic rule: the request's, else the layer's."""
        return self.items.operator or self.layer.config.operator

    @property
    def slice(self) -> Slice:
        """The one step of each of the layer's dimensions this read takes (InvalidDimensionValue
        for a value naming none); a range gives its last step."""
        if not self.layer.info.dimensions:
            return NO_SLICE
        return slices_for(self.layer.info.dimensions, self.asked, 1, single=True)[0]

    @property
    def asked(self) -> Mapping[str, str]:
        """The dimension values this read was asked for, by dimension name."""
        return self.dimensions or dict(self.items.dimensions)


def at_slice(items: list[CatalogItem], step: Slice, dimensions: tuple[Dimension, ...]) -> list[CatalogItem]:
    """The items holding the step, their sources set to read it on their own axes (a layer
    spanning several files: each file has its own steps of the layer's ``dimensions``)."""
    if not step.steps:
        return items
    found = []
    for item in items:
        own = local_slice(step, dimensions, item.source.dimensions)
        if own is not None:
            found.append(replace(item, source=replace(item.source, slice=own)))
    return found


def holding_times(want: ItemQuery, dimensions: tuple[Dimension, ...], steps: Sequence[Slice]) -> ItemQuery:
    """The query narrowed to items whose time span meets the steps' times (an item described
    without its span is kept: it is filtered by its own axes when read)."""
    time = next((d for d in dimensions if d.is_time), None)
    if time is None:
        return want
    asked = sorted((time.values[i] for step in steps for axis, i in step.steps if axis == time.axis),
                   key=time_key)
    if not asked:
        return want
    first, last = Property(TIME_FIRST), Property(TIME_LAST)
    span: Filter = And((Or((IsNull(first), Comparison("<=", first, asked[-1]))),
                        Or((IsNull(last), Comparison(">=", last, asked[0])))))
    return replace(want, where=span if want.where is None else And((want.where, span)))


def choose_level(levels: tuple[SourceInfo, ...], grid: Grid) -> SourceInfo | None:
    """The coarsest level still as fine as the view; None when the view is finer than level 0."""
    if not levels:
        return None
    need = grid.pixel_size_in(levels[0].crs)
    if need is None:
        return None
    chosen = None
    for level in levels:
        x, y = level.resolution
        if x <= need[0] * 1.0001 and y <= need[1] * 1.0001:
            chosen = level
    return chosen


def overview_usable(layer: Layer, grid: Grid, want: ItemQuery, constraints: Constraints) -> bool:
    """The overview shows the layer's own mosaic: not a selection, not an item-limited grant,
    and not an area whose items changed since it was built."""
    if not layer.overview or not want.is_default or constraints.items or constraints.time is not None:
        return False
    if layer.overview_stale:
        view = grid_lonlat(grid)
        if view is None or any(lonlat_intersects(view, area) for area in layer.overview_stale):
            return False
    return True


def of_the_layers_kind(items: list[CatalogItem], layer: Layer) -> list[CatalogItem]:
    """The items whose data type and band count are the layer's. An unlike file in a folder (a
    16-bit scene among byte tiles, a scene delivered with other bands than the layer's) cannot be
    drawn with the layer's statistics, colours and bands, nor share its arrays; the catalog names
    such items once when it describes the layer."""
    kind = (layer.info.dtype, layer.info.band_count)
    return [item for item in items if (item.source.dtype, item.source.count) == kind]


class ViewReader:
    """Reads ``ReadRequest``s from a layer catalog's items through a raster reader."""

    def __init__(self, catalog: LayerCatalog, reader: RasterReader) -> None:
        self.catalog = catalog
        self.reader = reader

    def read_view(self, request: ReadRequest) -> Raster | RGBAImage | None:
        """The values on ``request.grid``; None when nothing lies there. A picture (not exact)
        past the item cap with no overview to read is the items' footprints, drawn."""
        if request.budget is None:
            return self._read(request)
        with request_budget(request.budget):
            return self._read(request)

    def read_values(self, request: ReadRequest) -> Raster | None:
        """The values of an exact read (coverages, overviews): never a drawing of footprints."""
        if not request.exact:
            raise ValueError("read_values is for exact requests")
        raster = self.read_view(request)
        if isinstance(raster, RGBAImage):  # an exact read refuses too many items instead
            raise TypeError("an exact read gave a picture")
        return raster

    def select(self, request: ReadRequest, want: ItemQuery | None = None,
               grid: Grid | None = None) -> list[CatalogItem]:
        """The items a read over ``grid`` (the request's) takes, in mosaic order, within the grant;
        more than ``max_items`` is refused."""
        return at_slice(self.candidates(request, want, grid), request.slice, request.layer.info.dimensions)

    def candidates(self, request: ReadRequest, want: ItemQuery | None = None, grid: Grid | None = None,
                   steps: Sequence[Slice] = ()) -> list[CatalogItem]:
        """The items under the grid within the grant, in mosaic order, that may hold the steps
        (``steps``, else the request's one): a layer over many files counts only those whose
        times span the steps' against ``max_items``. More is refused."""
        area = (grid or request.grid).bbox
        wanted = want or request.items
        if request.layer.info.item_count > 1:
            wanted = holding_times(wanted, request.layer.info.dimensions, steps or (request.slice,))
        with phase("select"):
            items = self.catalog.items_for(request.layer, area, request.max_items, wanted)
            return allowed_items(of_the_layers_kind(items, request.layer), request.constraints)

    def _read(self, request: ReadRequest) -> Raster | RGBAImage | None:
        layer, grid, template, constraints = request.layer, request.grid, request.template, request.constraints
        factor = resolution_factor(grid, layer.info.crs, constraints)
        view = grid.coarsened(factor) if factor > 1 else grid
        context = context_pixels(template) if template else 0
        read_grid = view.expanded(context)
        size = mosaic_bytes(read_grid.width * read_grid.height, len(request.bands), layer.info.dtype,
                            request.operator, template is not None)
        compared = template is not None and template.compare is not None
        with holding(f"layer '{layer.info.name}' on {read_grid.width}x{read_grid.height} pixels",
                     size * (2 if compared else 1)):
            raster = self._input(request, read_grid)
            if not isinstance(raster, Raster):
                return raster
            if template is not None:
                reference: Raster | None = None
                if template.compare is not None:
                    earlier = replace(request.items, time=template.compare.time, nearest_time=True)
                    found = self._mosaic(request, read_grid, earlier)
                    if not isinstance(found, Raster):
                        return None  # nothing (or too much) to compare with
                    reference = mask_outside_area(found, constraints)
                # the chain sees only what the grant shows (no value beyond the area feeds a neighbour)
                with phase("functions"):
                    raster = apply_chain(mask_outside_area(raster, constraints), template, view, context, reference)
        if factor > 1:
            raster = upsample(raster, grid, factor)
        return mask_outside_area(raster, constraints)

    def _input(self, request: ReadRequest, grid: Grid) -> Raster | RGBAImage | None:
        """What the chain runs on: the mosaic of the step asked for, or the template's function
        over the layer's dimensions, reduced from the mosaic of each step it names."""
        over = request.template.over if request.template is not None else None
        if over is None:
            return self._mosaic(request, grid, request.items)
        return reduce_over(over, request.layer.info.dimensions, request.asked, request.max_steps,
                           lambda statistic, steps: self._reduced(request, grid, statistic, steps))

    def _reduced(self, request: ReadRequest, grid: Grid, statistic: str, steps: list[Slice]) -> Raster | None:
        """The statistic of the steps' mosaics on the grid. The items are selected once for all
        the steps (a layer over many files: those whose times meet them), then each step's
        mosaic made of those holding it; one item holding every step is reduced by the reader,
        which reads the steps together. Where the overview or a drawing of footprints would
        stand for the items, each step is read as any read of it."""
        dimensions, count = request.layer.info.dimensions, max(1, len(request.bands))

        def read_any(step: Slice) -> Raster | None:
            found = self._mosaic(replace(request, dimensions=step.values(dimensions)), grid, request.items)
            return found if isinstance(found, Raster) else None  # a drawing of footprints has no values

        prepare = per_item(request.template)
        usable = not request.exact and prepare is None and overview_usable(request.layer, grid, request.items,
                                                                             request.constraints)
        if usable and choose_level(request.layer.overview, grid) is not None:
            return reduce_by_step(statistic, steps, read_any, grid, count)
        try:
            items = self.candidates(request, request.items, grid, steps=steps)
        except TooManyItems:
            return reduce_by_step(statistic, steps, read_any, grid, count)
        layer, bands, method = request.layer, request.bands, request.resampling
        if prepare is None and len(items) == 1 and items[0].source.dimensions and request.operator is not Operator.BLEND:
            own = tuple(local_slice(step, dimensions, items[0].source.dimensions) for step in steps)
            if all(s is not None for s in own):
                reduction = StepReduction(statistic, tuple(s for s in own if s is not None))
                reduced = mosaic(self.reader, items, grid, bands, method, request.operator, reduction=reduction)[0]
                return None if reduced is None else as_statistic(reduced)

        def read_step(step: Slice) -> Raster | None:
            return mosaic(self.reader, at_slice(items, step, dimensions), grid, bands, method, request.operator,
                          layer.config.blend_width, prepare)[0]

        return reduce_by_step(statistic, steps, read_step, grid, count)

    def _mosaic(self, request: ReadRequest, grid: Grid, want: ItemQuery) -> Raster | RGBAImage | None:
        """The mosaic's values on a grid: from the mosaic-level overview when the view is coarse
        enough (and the overview shows what was asked), else from the items; past the item cap,
        from the overview regardless, else a drawing of the items' footprints."""
        layer, bands, method = request.layer, request.bands, request.resampling
        prepare = per_item(request.template)
        usable = not request.exact and prepare is None and overview_usable(layer, grid, want, request.constraints)
        level = choose_level(layer.overview, grid) if usable else None
        if level is not None:
            return self.reader.read(level, grid, bands, method)
        try:
            items = self.select(request, want, grid)
        except TooManyItems:
            if request.exact:
                raise
            if usable:
                return self.reader.read(layer.overview[0], grid, bands, method)
            return footprint_picture(self.catalog.search(layer, grid_lonlat(grid), want, FOOTPRINTS_DRAWN, 0), grid)
        raster, _used = mosaic(self.reader, items, grid, bands, method, request.operator,
                               layer.config.blend_width, prepare)
        return raster
