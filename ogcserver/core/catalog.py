"""Layers and their items: keeps the catalog in line with the files and describes each layer.

A layer is a collection in the catalog store: one item for a file, many for a folder mosaic.
The index is built on first start and refreshed, at most every ``refresh_seconds``, when files
are added, changed or removed; a refresh that changes nothing costs one directory walk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ogcserver.core.colour_scale import scalar_styles
from ogcserver.core.config import CoreSettings, LayerConfig
from ogcserver.core.ingest import describe_file
from ogcserver.core.query import EVERY_ITEM, ItemQuery
from ogcserver.model.band_files import natural_colour, parse_stack_path, stack_key
from ogcserver.model.catalog import (
    BandStatistics,
    CatalogItem,
    ItemRecord,
    LayerInfo,
    Selection,
    SourceInfo,
    StyleInfo,
    TimeRange,
)
from ogcserver.model.dimensions import spanning, with_defaults
from ogcserver.model.errors import (
    CatalogUnavailable,
    InvalidDimensionValue,
    LayerNotFound,
    SourceUnavailable,
    TooManyItems,
)
from ogcserver.model.geo import (
    BBox,
    epsg_code,
    lonlat_union,
    normalized_longitude,
    normalized_lonlat,
    to_lonlat,
    transform_bbox,
)
from ogcserver.model.mosaic import BY_NAME
from ogcserver.model.object_urls import is_prefix_url
from ogcserver.storage.interfaces import CatalogStore, RasterReader

log = logging.getLogger(__name__)

# (source, pattern, band_files) -> (path, mtime, size) of its files, a scene's band files as one
ListFiles = Callable[..., list[tuple[str, float, int]]]
STATS_SAMPLE_ITEMS = 8
EXACT_EXTENT_ITEMS = 2000  # larger collections are described from the index and a sample
SAMPLE_ITEMS = 64
MAX_TIMES = 1000  # distinct acquisition times listed in capabilities; beyond, a range


@dataclass(frozen=True)
class Layer:
    """A layer as the core uses it: its description plus what rendering needs."""

    info: LayerInfo
    config: LayerConfig
    render_bands: tuple[int, ...]
    overview: tuple[SourceInfo, ...] = ()  # mosaic-level overview levels, finest first
    overview_stale: tuple[BBox, ...] = ()  # lon/lat areas changed since the overview was built


def _union(boxes: Sequence[BBox], crs: str) -> BBox:
    return BBox(
        min(b.minx for b in boxes), min(b.miny for b in boxes),
        max(b.maxx for b in boxes), max(b.maxy for b in boxes), crs,
    )


def _key_for(root: Path | str, path: str) -> str:
    """A folder item's key: its path under the folder without the extension (a single file or
    object: its name without it), as ``ogcserver catalog add`` names files; a scene's band files:
    their name without the band token."""
    if (stack := parse_stack_path(path)) is not None:
        return stack_key(stack, str(root.resolve()) if isinstance(root, Path) else "")
    if isinstance(root, str):
        under = path.removeprefix(root) if is_prefix_url(root) else PurePosixPath(path).name
        return PurePosixPath(under).with_suffix("").as_posix()
    try:
        inside = root.is_dir() and Path(path) != root.resolve()  # not a directory store itself
        relative = Path(path).relative_to(root.resolve()) if inside else Path(Path(path).name)
    except ValueError:
        relative = Path(Path(path).name)
    return relative.with_suffix("").as_posix()


def default_render_bands(config: LayerConfig, first: SourceInfo) -> tuple[int, ...]:
    """The publisher's bands, else natural colour for a scene's band files where the sensor's red,
    green and blue are known, else the first three bands, else the first."""
    if config.bands:
        return tuple(b for b in config.bands if b <= first.count) or (1,)
    stack = parse_stack_path(first.path)
    colour = natural_colour(stack) if stack is not None else None
    if colour is not None and max(colour) <= first.count:
        return colour
    return (1, 2, 3) if first.count >= 3 else (1,)


UNREADABLE_PROPERTY = "ogcserver:unreadable"


def with_unreadable_marks(items: list[CatalogItem], marks: dict[str, tuple[str, str]]) -> list[CatalogItem]:
    """Items found unreadable when read carry the reason as a property (a mark made on an older
    state of the file no longer applies)."""
    out = []
    for item in items:
        mark = marks.get(item.key)
        if mark is not None and mark[1] == item.stamp:
            item = replace(item, properties={**item.properties, UNREADABLE_PROPERTY: mark[0]})
        out.append(item)
    return out


class LayerCatalog:
    def __init__(
        self,
        settings: CoreSettings,
        store: CatalogStore,
        reader: RasterReader,
        list_files: ListFiles,
        cache_scope: str = "",
    ) -> None:
        self.settings = settings
        self.store = store
        # which tile cache this process fills: caches are told of changes once per cache, so a
        # bucket shared by every node is swept once, and each machine's own folder once each
        self._told_key = f"cache_generation:{cache_scope}" if cache_scope else "cache_generation"
        self.reader = reader
        self.list_files = list_files
        self.refresh_seconds = settings.server.index_refresh_seconds
        self._configs: dict[str, tuple[str, LayerConfig]] = {
            layer.name: (service.name, layer)
            for service in settings.services
            for layer in service.layers
        }
        self._layers: dict[str, Layer] = {}
        self._checked = 0.0
        self._generations: dict[str, tuple] = {}  # per layer: the generation and overview described
        self._refused: dict[str, str] = {}  # layers left out, with the reason last logged
        # told which lon/lat areas of a layer changed (tile caches drop exactly those tiles)
        self.listeners: list[Callable[[LayerInfo, tuple[BBox, ...]], None]] = []
        self._lock = threading.Lock()

    # -- index maintenance -------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Re-index changed folder sources and pick up catalog changes; cheap when called often
        (rate-limited; a check that finds nothing costs a directory walk or one meta lookup)."""
        now = time.monotonic()
        if not force and now - self._checked < self.refresh_seconds:
            return
        with self._lock:
            if not force and now - self._checked < self.refresh_seconds:
                return
            for name, (service, config) in self._configs.items():
                try:
                    self._refresh_layer(name, service, config)
                except CatalogUnavailable:
                    raise  # the catalog is down, not the layer: 503 until it returns, layers kept
                except Exception as exc:  # noqa: BLE001 - one layer that cannot be published must not stop the others
                    self._leave_out(name, exc)
            self._checked = time.monotonic()

    def _refresh_layer(self, name: str, service: str, config: LayerConfig) -> None:
        collection = config.collection_name
        if config.source is not None:
            self._sync_folder(name, config)
        generation = self.store.get_meta(collection, "generation")
        state = (generation, self.store.get_meta(collection, f"overview:{name}"))
        if name in self._generations and state == self._generations[name]:
            return  # described (or found empty or left out, and said so) as it is; tried again when its items change
        self._forget_sources(name)
        self._generations[name] = state
        layer = self._describe(name, service, config)
        if layer is None:
            self._layers.pop(name, None)
            return
        self._layers[name] = layer
        self._tell_caches(layer, int(generation or 0))
        self._refused.pop(name, None)

    def _leave_out(self, name: str, exc: Exception) -> None:
        """Drop a layer that failed to index or describe; say why once, not on every refresh."""
        self._layers.pop(name, None)
        reason = f"{type(exc).__name__}: {exc}"[:500]
        if self._refused.get(name) != reason:
            self._refused[name] = reason
            log.warning("layer left out", extra={"layer": name, "reason": reason})

    def describe_file(self, key: str, path: str, variable: str = "") -> ItemRecord:
        """A catalog record for a raster file (``variable``: of a multidimensional one): its
        description, valid-data footprint and tags."""
        return describe_file(self.reader, key, path, variable)

    def _sync_folder(self, name: str, config: LayerConfig) -> None:
        root = config.local_source or str(config.source)
        rows = [
            (_key_for(root, path), path, mtime, size)
            for path, mtime, size in self.list_files(root, config.pattern, band_files=config.band_files)
        ]
        variable = config.variable or ""
        result = self.store.sync(config.collection_name, rows,
                                 lambda key, path: self.describe_file(key, path, variable))
        for refusal in result.refused:  # once: a refused file is not examined again until it changes
            log.warning("source refused", extra={"layer": name, "path": refusal.path, "reason": refusal.reason})
        if result.changed:
            log.info("index updated", extra={
                "layer": name, "added": result.added, "updated": result.updated, "removed": result.removed,
            })

    def _tell_caches(self, layer: Layer, generation: int) -> None:
        """Tell the tile caches which areas changed since they were last told (once per change,
        whichever process sees it first; the mark lives in the catalog, shared by all of them)."""
        collection = layer.config.collection_name
        told = self.store.get_meta(collection, self._told_key)
        if told is not None and int(told) >= generation:
            return
        self.store.set_meta(collection, self._told_key, str(generation))
        if told is None:
            return  # the first server on this catalog: no cache was filled from it yet
        areas = self.store.changes_since(collection, int(told))
        if areas is None:  # too far behind to know: the whole layer
            areas = (layer.info.lonlat_bounds,)
        if areas:
            for listener in self.listeners:
                listener(layer.info, areas)

    def _forget_sources(self, name: str) -> None:
        """Changed items must be reopened: drop this process's handles of the layer's files."""
        if name in self._layers:
            self.reader.forget_handles()

    def _describe(self, name: str, service: str, config: LayerConfig) -> Layer | None:
        """The layer's description from its collection: exact extents for collections of up to
        EXACT_EXTENT_ITEMS items, the index's lon/lat extent and a sample of items beyond."""
        collection = config.collection_name
        summary = self.store.stats(collection)
        if not summary.count:
            refused = len(self.store.refusals(collection))
            log.warning("layer left out: no publishable raster",
                        extra={"layer": name, "refused": refused, "reason": _empty_reason(config, refused)})
            return None
        exact = summary.count <= EXACT_EXTENT_ITEMS
        items = self.store.items(collection) if exact else self.store.select(
            collection, Selection(ordering=BY_NAME), SAMPLE_ITEMS)
        first = items[0].source
        crs = first.crs
        if exact:
            native = [transform_bbox(i.source.bounds, crs) if i.source.crs != crs else i.source.bounds for i in items]
            bounds = _union(native, crs)
            lonlat = lonlat_union([i.lonlat_bounds for i in items])
        else:  # the index's extremes: a collection on both sides of the antimeridian spans the globe
            assert summary.lonlat_bounds is not None  # a collection with items has an extent
            lonlat = normalized_lonlat(summary.lonlat_bounds)
            bounds = transform_bbox(lonlat, crs)
        resolution = min((i.source.resolution for i in items if i.source.crs == crs), key=lambda r: r[0])
        unlike = [i for i in items if (i.source.dtype, i.source.count) != (first.dtype, first.count)]
        if unlike:  # left out of every read (core/read.py: of_the_layers_kind)
            log.warning("items left out: their data type or band count is not the layer's", extra={
                "layer": name, "dtype": first.dtype, "bands": first.count, "left_out": len(unlike),
                "items": [f"{i.name} ({i.source.count} band(s) of {i.source.dtype})" for i in unlike[:10]]})
        render_bands = default_render_bands(config, first)
        stats = self._statistics(name, collection, items, render_bands) if first.dtype != "uint8" else ()
        if config.value_range is not None:  # the publisher's colour range instead of the percentiles
            low, high = config.value_range
            stats = tuple(BandStatistics(low, high, low, high) for _ in render_bands)
        advertised = self._advertised_crs(service, config, crs)
        title = config.title or first.attributes.get("long_name") or name
        is_mosaic = config.collection is not None or (config.local_source is not None and config.local_source.is_dir()) \
            or (isinstance(config.source, str) and is_prefix_url(config.source))
        kind = "mosaic of %d rasters" % summary.count if summary.count > 1 or is_mosaic else "raster"
        # what decides the pixels besides the files (changed files invalidate their own tiles):
        # the layer's entry, the chains of the templates it offers as styles, the rendering settings
        templates = [t.model_dump(mode="json") for t in self.settings.processing if t.name in config.styles]
        version = hashlib.sha1(json.dumps([
            config.model_dump(mode="json"), templates, self.settings.rendering.model_dump(mode="json"),
            list(render_bands), [list(vars(s).values()) for s in stats],
        ]).encode()).hexdigest()[:16]
        info = LayerInfo(
            version=version,
            generation=summary.generation,
            name=name,
            title=title,
            abstract=config.abstract or f"{title}: {kind}, {first.count} band(s) of {first.dtype}",
            keywords=config.keywords,
            service=service,
            crs=crs,
            bounds=bounds,
            lonlat_bounds=lonlat,
            resolution=resolution,
            band_count=first.count,
            dtype=first.dtype,
            band_names=first.band_names,
            scales=first.scales,
            offsets=first.offsets,
            nodata=first.nodata,
            item_count=summary.count,
            is_mosaic=is_mosaic,
            styles=(StyleInfo("default", "Default", self._style_abstract(first, render_bands)),) + tuple(
                StyleInfo(t.name, t.title or t.name, t.abstract)
                for t in (self.settings.template(n) for n in config.styles) if t is not None
            ),
            default_style=config.default_style,
            advertised_crs=advertised,
            statistics=stats,
            time_extent=(summary.first, summary.last) if summary.first and summary.last else None,
            times=tuple(self.store.times(collection, MAX_TIMES + 1)),
            palette=first.palette if render_bands == (1,) else None,
            scalar_styles=scalar_styles(len(render_bands)),
            dimensions=with_defaults(spanning([i.source.dimensions for i in items]), config.dimensions),
            units=(config.colour_scale.units if config.colour_scale and config.colour_scale.units else first.units),
        )
        levels, stale = self._overview(name, collection, summary.generation)
        return Layer(info, config, render_bands, levels, stale)

    # -- mosaic-level overviews --------------------------------------------------------------
    def _overview(self, name: str, collection: str, generation: int) -> tuple[tuple[SourceInfo, ...], tuple[BBox, ...]]:
        """The overview's levels and the areas changed since it was built ((), () if unusable)."""
        text = self.store.get_meta(collection, f"overview:{name}")
        if not text:
            return (), ()
        record = json.loads(text)
        stale: tuple[BBox, ...] | None = ()
        if record["generation"] != generation:
            stale = self.store.changes_since(collection, record["generation"])
        if stale is None:
            return (), ()
        try:
            levels = tuple(self.reader.describe(p, own=True) for p in record["paths"])
        except SourceUnavailable:
            log.warning("overview unreadable", extra={"layer": name})
            return (), ()
        return levels, stale

    def overview_record(self, layer: Layer) -> dict | None:
        text = self.store.get_meta(layer.config.collection_name, f"overview:{layer.info.name}")
        return json.loads(text) if text else None

    def set_overview_record(self, layer: Layer, record: dict) -> None:
        self.store.set_meta(layer.config.collection_name, f"overview:{layer.info.name}", json.dumps(record))

    @staticmethod
    def _style_abstract(first: SourceInfo, bands: tuple[int, ...]) -> str:
        names = ", ".join(first.band_names[b - 1] or f"band {b}" for b in bands)
        if first.palette is not None and bands == (1,):
            return f"Band {names} in the raster's colour table"
        stretch = "" if first.dtype == "uint8" else ", stretched between the 2nd and 98th percentiles"
        return f"Bands {names}{stretch}"

    def _advertised_crs(self, service: str, config: LayerConfig, native: str) -> tuple[str, ...]:
        service_conf = next(s for s in self.settings.services if s.name == service)
        codes: list[str] = []
        if epsg_code(native) is not None:
            codes.append(f"EPSG:{epsg_code(native)}")
        codes += list(config.crs) + list(service_conf.crs) + list(self.settings.crs)
        return tuple(dict.fromkeys(codes))

    def _statistics(
        self, name: str, collection: str, items: list[CatalogItem], bands: tuple[int, ...]
    ) -> tuple[BandStatistics, ...]:
        sample = items[:: max(1, len(items) // STATS_SAMPLE_ITEMS)][:STATS_SAMPLE_ITEMS]
        signature = hashlib.sha1(
            json.dumps([[i.source.path, i.id] for i in sample] + [list(bands)]).encode()
        ).hexdigest()
        cached = self.store.get_meta(collection, f"statistics:{name}")
        if cached:
            data = json.loads(cached)
            if data.get("signature") == signature:
                return tuple(BandStatistics(*s) for s in data["bands"])
        per_item = []
        for item in sample:
            try:
                per_item.append(self.reader.statistics(item.source, bands))
            except SourceUnavailable:
                continue
        if not per_item:
            return tuple(BandStatistics(0.0, 1.0, 0.0, 1.0) for _ in bands)
        stats = tuple(
            BandStatistics(
                min(s[b].minimum for s in per_item), max(s[b].maximum for s in per_item),
                min(s[b].low for s in per_item), max(s[b].high for s in per_item),
            )
            for b in range(len(bands))
        )
        self.store.set_meta(
            collection, f"statistics:{name}",
            json.dumps({"signature": signature, "bands": [list(vars(s).values()) for s in stats]}),
        )
        return stats

    # -- lookups -----------------------------------------------------------------------------
    def layer(self, name: str, service: str | None = None) -> Layer:
        self.refresh()
        layer = self._layers.get(name)
        if layer is None or (service is not None and layer.info.service != service):
            raise LayerNotFound(name)
        return layer

    def known_layers(self) -> int:
        """How many layers this process has described, without asking the store (liveness)."""
        return len(self._layers)

    def check_store(self) -> None:
        """Raise CatalogUnavailable unless the catalog store answers now (readiness)."""
        self.store.get_meta("", "generation")

    def layers(self, service: str | None = None) -> list[Layer]:
        self.refresh()
        order = list(self._configs)
        return [
            self._layers[n] for n in order
            if n in self._layers and (service is None or self._layers[n].info.service == service)
        ]

    def items_for(self, layer: Layer, area: BBox, limit: int, want: ItemQuery = EVERY_ITEM) -> list[CatalogItem]:
        """Items of a layer under an area that the request wants, in mosaic order (the request's
        ordering, else the layer's); refuses more than ``limit``."""
        selection = self._selection(layer, area, want)
        if selection is None:
            return []
        items = self.store.select(layer.config.collection_name, selection, limit + 1)
        if len(items) > limit:
            raise TooManyItems(layer.info.name, limit)
        return items

    def has_items(self, layer: Layer, area: BBox, want: ItemQuery = EVERY_ITEM) -> bool:
        """Whether any wanted item lies under the area: one row read, so an empty tile costs little."""
        selection = self._selection(layer, area, want)
        return selection is not None and bool(self.store.select(layer.config.collection_name, selection, 1))

    def _selection(self, layer: Layer, area: BBox, want: ItemQuery) -> Selection | None:
        try:
            lonlat = to_lonlat(area)
        except Exception:  # noqa: BLE001 - outside the CRS domain: nothing can intersect
            return None
        if not lonlat.is_valid():
            return None
        ordering = want.ordering or layer.config.ordering
        focus = ((lonlat.minx, lonlat.maxy) if ordering.kind == "northwest"
                 else (normalized_longitude((lonlat.minx + lonlat.maxx) / 2), (lonlat.miny + lonlat.maxy) / 2))
        return Selection(lonlat, want.where, self.time_wanted(layer, want), ordering, focus)

    def search(self, layer: Layer, area: BBox | None, want: ItemQuery, limit: int, offset: int) -> list[CatalogItem]:
        """A page of the layer's items for a catalog query (no nearest-time matching)."""
        ordering = want.ordering or layer.config.ordering
        focus = None if area is None else (
            (area.minx, area.maxy) if ordering.kind == "northwest" else
            ((area.minx + area.maxx) / 2, (area.miny + area.maxy) / 2))
        selection = Selection(area, want.where, want.time, ordering, focus)
        return self.store.select(layer.config.collection_name, selection, limit, offset)

    def item(self, layer: Layer, key: str) -> CatalogItem | None:
        return self.store.item(layer.config.collection_name, key)

    def mark_unreadable(self, collection: str, key: str, reason: str) -> None:
        """Mark an item that failed to read, once per state of its file."""
        item = self.store.item(collection, key)
        if item is None or self.store.unreadable(collection).get(key) == (reason, item.stamp):
            return
        self.store.mark_unreadable(collection, key, reason, item.stamp)
        log.warning("item marked unreadable", extra={"collection": collection, "item": key, "reason": reason})

    def with_marks(self, layer: Layer, items: list[CatalogItem]) -> list[CatalogItem]:
        """The items, those marked unreadable saying why (see ``with_unreadable_marks``)."""
        return with_unreadable_marks(items, self.store.unreadable(layer.config.collection_name))

    @staticmethod
    def time_wanted(layer: Layer, want: ItemQuery) -> TimeRange | None:
        """The request's time, or with nearest matching the closest acquisition time when no
        item falls inside it (ties go to the later time)."""
        asked = want.time
        given = dict(want.dimensions).get("time", "")
        if asked is None and layer.info.time_extent is not None and given.lower() not in ("", "current", "default"):
            raise InvalidDimensionValue("time", f"'{given[:40]}' is not a date of the Gregorian calendar")
        if asked is not None and layer.info.time_extent is None:
            return None  # a layer without dates has no TIME dimension: the parameter is ignored
        if asked is None or not want.nearest_time or not layer.info.times:
            return asked
        if any(asked.start <= t <= asked.end for t in layer.info.times):
            return asked
        middle = asked.start + (asked.end - asked.start) / 2
        best = min(layer.info.times, key=lambda t: (abs((t - middle).total_seconds()), -t.timestamp()))
        return TimeRange(best, best)


def _empty_reason(config: LayerConfig, refused: int) -> str:
    """Why a layer has no item, in the publisher's terms."""
    if refused:
        return f"every file was refused ({refused}; each logged as 'source refused' with its reason)"
    if config.source is not None:
        return f"no file in the source matches the pattern '{config.pattern}' (set 'pattern' to publish others)"
    return f"the collection '{config.collection_name}' has no items"
