"""Mosaicking: items are read in mosaic order (top first) and their overlaps combined by an operator.

Each item is warped only into the part of the view its footprint covers. The operator is a
strategy (as rio-tiler's mosaic methods): it is fed the items' parts one at a time, accumulating
in place so only one part is held in memory, and then asked for the result. "first" also tells
the loop when reading more cannot change anything, so an item whose part is already filled by
the items above it is not read at all and reading stops once the view is full; every other
operator needs every item.

An item that cannot be read (a file broken since it was indexed, a block too big to inflate) is
left out and recorded in the request's budget, so the response can say so and the catalog can
mark it; when every item the view needs is unreadable the request fails instead, rather than
answering an empty picture that looks like data.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ogcserver.model.budget import check_deadline, current_budget
from ogcserver.model.catalog import CatalogItem
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import crosses_antimeridian, transform_bbox
from ogcserver.model.image import Grid, Raster
from ogcserver.model.mosaic import Operator
from ogcserver.model.reduction import StepReduction
from ogcserver.model.timing import phase
from ogcserver.storage.interfaces import RasterReader

log = logging.getLogger(__name__)

Window = tuple[int, int, int, int]  # (row0, row1, col0, col1) of the view


def mosaic(
    reader: RasterReader,
    items: Iterable[CatalogItem],
    grid: Grid,
    bands: Sequence[int],
    resampling: Resampling,
    operator: Operator = Operator.FIRST,
    blend_width: int = 0,
    prepare: Callable[[Raster], Raster] | None = None,
    reduction: StepReduction | None = None,
) -> tuple[Raster | None, list[CatalogItem]]:
    """The mosaic on ``grid`` and the items that contributed pixels to it (top first).

    ``prepare`` transforms each item's part before it is combined (a processing chain applied
    per item, e.g. each scene's NDVI before taking the greatest). ``reduction``: each item's part
    is that statistic of its steps (the reader's ``reduce``) rather than one step's values.

    For "first" and "last" those are the items whose pixels show; for the combining operators
    (min, max, mean, blend) every item with a valid pixel, as each takes part in the values it
    overlaps. The raster is None when no item had anything to read in the view.
    """
    method = _method(operator, grid, blend_width)
    fed: list[CatalogItem] = []
    failed: list[SourceUnavailable] = []
    for item in items:
        check_deadline()
        if item.source.count < max(bands):
            continue
        window = _window(item, grid)
        if window is None or method.covers(window):
            continue
        try:
            part = _read(reader, item, grid.subgrid(window), bands, resampling, reduction)
        except SourceUnavailable as exc:
            failed.append(exc)
            continue
        if part is None:
            continue
        if prepare is not None:
            with phase("functions"):
                part = prepare(part)
        method.add(len(fed), part, window)
        part = None  # taken in: let it go before the next item is read
        fed.append(item)
        if method.full():
            break
    raster, contributors = method.result()
    if raster is None and failed:
        raise failed[0]
    return raster, [fed[i] for i in contributors]


def _window(item: CatalogItem, grid: Grid) -> Window | None:
    """Pixels of the view the item may cover (its footprint in the view's CRS, plus a margin).
    An item across the antimeridian may lie at both ends of a view's x axis: warp it all."""
    if crosses_antimeridian(item.lonlat_bounds):
        return (0, grid.height, 0, grid.width)
    try:
        box = transform_bbox(item.source.bounds, grid.crs)
    except Exception:  # noqa: BLE001 - footprint not expressible in the view's CRS: warp it all
        return (0, grid.height, 0, grid.width)
    if not box.is_valid():
        return (0, grid.height, 0, grid.width)
    return grid.window_of(box, margin=2)


def _read(
    reader: RasterReader, item: CatalogItem, grid: Grid, bands: Sequence[int], resampling: Resampling,
    reduction: StepReduction | None = None,
) -> Raster | None:
    """The item's part of the view, or None when it has none; SourceUnavailable (recorded in the
    request's budget, and not read again in this request) when it cannot be read."""
    budget = current_budget()
    known = budget.skipped.get((item.collection, item.key or item.name)) if budget is not None else None
    if known is not None:
        raise SourceUnavailable(known)
    try:
        if reduction is not None:
            return reader.reduce(item.source, grid, bands, resampling, reduction)
        return reader.read(item.source, grid, bands, resampling)
    except SourceUnavailable as exc:
        # The view is drawn without it rather than failing for every user of the layer.
        log.warning("source skipped", extra={"item": item.name, "collection": item.collection, "reason": exc.message})
        if budget is not None:
            budget.skipped[(item.collection, item.key or item.name)] = exc.message
        raise


def _cut(array: np.ndarray, window: Window) -> np.ndarray:
    """The view of ``array``'s last two axes a window covers (writable)."""
    r0, r1, c0, c1 = window
    return array[..., r0:r1, c0:c1]


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float64 results back in the items' dtype, rounded (half to even) for integer types."""
    if np.issubdtype(dtype, np.integer):
        return np.rint(values).astype(dtype)
    return values.astype(dtype)


class _Method(ABC):
    """How overlapping parts combine: fed each item's part in mosaic order, then asked for the result.

    Accumulators are allocated at the first part, which gives the band count and dtype.
    ``contributors`` are the indices (in feed order) of the parts ``mosaic`` reports as used.
    """

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.valid = np.zeros((grid.height, grid.width), dtype=bool)
        self.dtype: np.dtype | None = None
        self.names: tuple[str, ...] = ()
        self.contributors: list[int] = []

    def covers(self, window: Window) -> bool:
        """Whether no item read into ``window`` could change the result (so it need not be read)."""
        return False

    def full(self) -> bool:
        """Whether no further item could change the result."""
        return False

    def add(self, index: int, part: Raster, window: Window) -> None:
        """Take in the part of the view (``window``) read from the ``index``-th item fed."""
        if self.dtype is None:
            self.dtype, self.names = part.data.dtype, part.band_names
            self._allocate(part.data.shape[0])
        self._add(index, part, window)

    def result(self) -> tuple[Raster | None, list[int]]:
        if self.dtype is None:
            return None, []
        return Raster(self._data(), self.valid, self.grid, self.names), self._contributors()

    def _shape(self, count: int) -> tuple[int, int, int]:
        return (count, self.grid.height, self.grid.width)

    def _mark(self, index: int, part: Raster, window: Window) -> None:
        """Record the part's valid pixels as covered, and the part as a contributor if it has any."""
        target = _cut(self.valid, window)
        target |= part.valid
        if part.valid.any():
            self.contributors.append(index)

    def _contributors(self) -> list[int]:
        return self.contributors

    @abstractmethod
    def _allocate(self, count: int) -> None: ...

    @abstractmethod
    def _add(self, index: int, part: Raster, window: Window) -> None: ...

    @abstractmethod
    def _data(self) -> np.ndarray: ...


class _First(_Method):
    """The topmost valid pixel wins: each part fills only pixels still empty."""

    def covers(self, window: Window) -> bool:
        return bool(_cut(self.valid, window).all())

    def full(self) -> bool:
        return bool(self.valid.all())

    def add(self, index: int, part: Raster, window: Window) -> None:
        if self.dtype is None and part.valid.shape == self.valid.shape and part.valid.all():
            # One item fills the whole view: its arrays are the result, with no copy.
            self.dtype, self.names = part.data.dtype, part.band_names
            self.values, self.valid = part.data, part.valid
            self.contributors.append(index)
            return
        super().add(index, part, window)

    def _allocate(self, count: int) -> None:
        self.values = np.zeros(self._shape(count), dtype=self.dtype)

    def _add(self, index: int, part: Raster, window: Window) -> None:
        target = _cut(self.valid, window)
        fill = part.valid & ~target
        if not fill.any():
            return
        view = _cut(self.values, window)
        if fill.all():
            view[...] = part.data
        else:
            np.copyto(view, part.data, where=fill[None, :, :])
        target |= fill
        self.contributors.append(index)

    def _data(self) -> np.ndarray:
        return self.values


class _Last(_Method):
    """The bottom-most valid pixel wins: each part overwrites; who owns a pixel is kept for ``used``."""

    def _allocate(self, count: int) -> None:
        self.values = np.zeros(self._shape(count), dtype=self.dtype)
        self.owner = np.full(self.valid.shape, -1, dtype=np.int32)

    def _add(self, index: int, part: Raster, window: Window) -> None:
        np.copyto(_cut(self.values, window), part.data, where=part.valid[None, :, :])
        _cut(self.owner, window)[part.valid] = index
        self._mark(index, part, window)

    def _contributors(self) -> list[int]:
        return np.unique(self.owner[self.owner >= 0]).tolist()

    def _data(self) -> np.ndarray:
        return self.values


class _Extreme(_Method):
    """The least (or greatest) valid value per pixel and band, in the items' dtype."""

    pick: np.ufunc

    def _allocate(self, count: int) -> None:
        self.values = np.zeros(self._shape(count), dtype=self.dtype)

    def _add(self, index: int, part: Raster, window: Window) -> None:
        target, view = _cut(self.valid, window), _cut(self.values, window)
        new, both = part.valid & ~target, part.valid & target
        np.copyto(view, part.data, where=new[None, :, :])
        self.pick(view, part.data, out=view, where=both[None, :, :])
        self._mark(index, part, window)

    def _data(self) -> np.ndarray:
        return self.values


class _Min(_Extreme):
    pick = np.minimum


class _Max(_Extreme):
    pick = np.maximum


class _Mean(_Method):
    """The mean of the valid values per pixel and band: a float64 running sum and a count."""

    def _allocate(self, count: int) -> None:
        self.total = np.zeros(self._shape(count), dtype=np.float64)
        self.count = np.zeros(self.valid.shape, dtype=np.int32)

    def _add(self, index: int, part: Raster, window: Window) -> None:
        total = _cut(self.total, window)
        np.add(total, part.data, out=total, where=part.valid[None, :, :])
        count = _cut(self.count, window)
        count += part.valid
        self._mark(index, part, window)

    def _data(self) -> np.ndarray:
        mean = np.divide(self.total, self.count, out=np.zeros_like(self.total), where=self.valid[None, :, :])
        assert self.dtype is not None  # set by the first part added
        return _cast(mean, self.dtype)


class _Blend(_Method):
    """A weighted mean whose weights feather each item's edge over ``width`` pixels.

    An item's weight at a valid pixel is min(d, width) / width, d being the Euclidean distance
    (in view pixels) to the nearest pixel where the item is not valid in the whole view: 1/width
    on the outermost valid pixels, 1 from ``width`` pixels inside. The view's own border is not
    an item edge (the mask is padded as valid beyond it), so pixels do not fade at the border of
    every map or tile. The flip side: an item edge that lies outside the view, within ``width``
    pixels of it, is not seen; a caller wanting seamless tiles reads ``grid.expanded(width)``
    and crops.

    The mean runs in place (m += (x - m) * w / sum of w), so where one item is valid the result
    is that item's value exactly.
    """

    def __init__(self, grid: Grid, width: int) -> None:
        super().__init__(grid)
        self.width = width

    def _allocate(self, count: int) -> None:
        self.mean = np.zeros(self._shape(count), dtype=np.float64)
        self.weight = np.zeros(self.valid.shape, dtype=np.float64)

    def _add(self, index: int, part: Raster, window: Window) -> None:
        weights = self._weights(part.valid, window)
        total = _cut(self.weight, window)
        total += weights
        share = np.divide(weights, total, out=np.zeros_like(weights), where=part.valid)
        mean = _cut(self.mean, window)
        np.add(mean, (part.data - mean) * share, out=mean, where=part.valid[None, :, :])
        self._mark(index, part, window)

    def _weights(self, valid: np.ndarray, window: Window) -> np.ndarray:
        """The item's weight on its window, from its valid mask in the whole (padded) view."""
        w = self.width
        distance = _edge_distance(_padded_mask(valid, window, self.valid.shape, w), w)
        return np.where(valid, distance[w:-w, w:-w] / w, 0.0)

    def _data(self) -> np.ndarray:
        assert self.dtype is not None  # set by the first part added
        return _cast(self.mean, self.dtype)


def _padded_mask(valid: np.ndarray, window: Window, shape: tuple[int, int], pad: int) -> np.ndarray:
    """The item's view mask around its window, ``pad`` pixels wide on each side.

    Inside the view the item is not valid outside its window; beyond the view it counts as valid,
    so the view's border is not mistaken for the item's edge.
    """
    r0, r1, c0, c1 = window
    height, width = shape
    inside = (min(pad, r0), min(pad, height - r1)), (min(pad, c0), min(pad, width - c1))
    beyond = tuple((pad - before, pad - after) for before, after in inside)
    return np.pad(np.pad(valid, inside, constant_values=False), beyond, constant_values=True)


def _edge_distance(mask: np.ndarray, limit: int) -> np.ndarray:
    """Euclidean distance from each pixel to the nearest False one, capped at ``limit``.

    Numpy only (scipy is not a dependency): distances along columns, then the nearest of
    those across rows. Once the result is capped only offsets below ``limit`` matter, so this
    takes about 4 * limit array operations. Beyond the array counts as True.
    """
    edge = ~mask
    column = np.where(mask, limit, 0)
    for k in range(1, limit):
        np.minimum(column[:-k], k, out=column[:-k], where=edge[k:])
        np.minimum(column[k:], k, out=column[k:], where=edge[:-k])
    squares = column**2
    nearest = squares.copy()
    for k in range(1, limit):
        np.minimum(nearest[:, k:], squares[:, :-k] + k * k, out=nearest[:, k:])
        np.minimum(nearest[:, :-k], squares[:, k:] + k * k, out=nearest[:, :-k])
    return np.sqrt(nearest)


_METHODS: dict[Operator, type[_Method]] = {
    Operator.FIRST: _First,
    Operator.LAST: _Last,
    Operator.MIN: _Min,
    Operator.MAX: _Max,
    Operator.MEAN: _Mean,
}


def _method(operator: Operator, grid: Grid, blend_width: int) -> _Method:
    """The strategy for an operator; a blend ramp of one pixel or less gives every pixel weight 1,
    which is the plain mean."""
    if operator is Operator.BLEND:
        return _Blend(grid, blend_width) if blend_width > 1 else _Mean(grid)
    return _METHODS[operator](grid)
