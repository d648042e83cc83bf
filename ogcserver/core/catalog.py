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
from dataclasses import dataclass
from pathlib import Path

from ogcserver.model.catalog import BandStatistics, CatalogItem, LayerInfo, SourceInfo, StyleInfo
from ogcserver.model.errors import LayerNotFound, LimitExceeded, SourceUnavailable
from ogcserver.model.geo import WGS84, BBox, epsg_code, transform_bbox
from ogcserver.settings import LayerConfig, Settings
from ogcserver.storage.interfaces import CatalogStore, RasterReader

log = logging.getLogger(__name__)

ListFiles = Callable[[Path, str], list[tuple[str, float, int]]]
STATS_SAMPLE_ITEMS = 8


@dataclass(frozen=True)
class Layer:
    """A layer as the core uses it: its description plus what rendering needs."""

    info: LayerInfo
    config: LayerConfig
    render_bands: tuple[int, ...]


def _union(boxes: Sequence[BBox], crs: str) -> BBox:
    return BBox(
        min(b.minx for b in boxes), min(b.miny for b in boxes),
        max(b.maxx for b in boxes), max(b.maxy for b in boxes), crs,
    )


def default_render_bands(config: LayerConfig, count: int) -> tuple[int, ...]:
    if config.bands:
        return tuple(b for b in config.bands if b <= count) or (1,)
    return (1, 2, 3) if count >= 3 else (1,)


class LayerCatalog:
    def __init__(
        self,
        settings: Settings,
        store: CatalogStore,
        reader: RasterReader,
        list_files: ListFiles,
    ) -> None:
        self.settings = settings
        self.store = store
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
        self._generations: dict[str, str | None] = {}  # per layer: the index generation described
        # told which lon/lat areas of a layer changed (tile caches drop exactly those tiles)
        self.listeners: list[Callable[[LayerInfo, tuple[BBox, ...]], None]] = []
        self._lock = threading.Lock()

    # -- index maintenance -------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Re-index changed sources; cheap when called often (rate-limited)."""
        now = time.monotonic()
        if not force and now - self._checked < self.refresh_seconds:
            return
        with self._lock:
            if not force and now - self._checked < self.refresh_seconds:
                return
            for name, (service, config) in self._configs.items():
                files = self.list_files(config.source, config.pattern)
                result = self.store.sync(name, files, self.reader.describe)
                generation = self.store.get_meta(name, "generation")
                if result.changed or name not in self._layers or generation != self._generations.get(name):
                    if result.changed:
                        log.info("index updated", extra={
                            "layer": name, "added": result.added, "updated": result.updated, "removed": result.removed,
                        })
                    self._forget_sources(name)
                    self._generations[name] = generation
                    layer = self._describe(name, service, config)
                    if layer is None:
                        self._layers.pop(name, None)
                    else:
                        self._layers[name] = layer
                        if result.areas:  # this process made the change: it tells the caches, once
                            for listener in self.listeners:
                                listener(layer.info, result.areas)
            self._checked = time.monotonic()

    def _forget_sources(self, name: str) -> None:
        forget = getattr(self.reader, "pool", None)
        if forget is not None and name in self._layers:
            for item in self.store.items(name):
                forget.forget(item.source.path)

    def _describe(self, name: str, service: str, config: LayerConfig) -> Layer | None:
        items = self.store.items(name)
        if not items:
            log.warning("layer has no readable rasters", extra={"layer": name})
            return None
        first = items[0].source
        crs = first.crs
        native = [transform_bbox(i.source.bounds, crs) if i.source.crs != crs else i.source.bounds for i in items]
        bounds = _union(native, crs)
        lonlat = _union([i.lonlat_bounds for i in items], WGS84)
        resolution = min((i.source.resolution for i in items if i.source.crs == crs), key=lambda r: r[0])
        render_bands = default_render_bands(config, first.count)
        stats = self._statistics(name, items, render_bands) if first.dtype != "uint8" else ()
        times = sorted(i.source.acquired for i in items if i.source.acquired)
        advertised = self._advertised_crs(service, config, crs)
        title = config.title or name
        kind = "mosaic of %d rasters" % len(items) if len(items) > 1 or Path(config.source).is_dir() else "raster"
        # what decides the pixels besides the files (changed files invalidate their own tiles)
        version = hashlib.sha1(
            json.dumps([config.model_dump(mode="json"), list(render_bands), [list(vars(s).values()) for s in stats]]).encode()
        ).hexdigest()[:16]
        info = LayerInfo(
            version=version,
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
            nodata=first.nodata,
            item_count=len(items),
            is_mosaic=Path(config.source).is_dir(),
            styles=(StyleInfo("default", "Default", self._style_abstract(first, render_bands)),) + tuple(
                StyleInfo(t.name, t.title or t.name, t.abstract)
                for t in (self.settings.template(n) for n in config.styles) if t is not None
            ),
            default_style=config.default_style,
            advertised_crs=advertised,
            statistics=stats,
            time_extent=(times[0], times[-1]) if times else None,
            palette=first.palette if render_bands == (1,) else None,
        )
        return Layer(info, config, render_bands)

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
        self, name: str, items: list[CatalogItem], bands: tuple[int, ...]
    ) -> tuple[BandStatistics, ...]:
        sample = items[:: max(1, len(items) // STATS_SAMPLE_ITEMS)][:STATS_SAMPLE_ITEMS]
        signature = hashlib.sha1(
            json.dumps([[i.source.path, i.id] for i in sample] + [list(bands)]).encode()
        ).hexdigest()
        cached = self.store.get_meta(name, "statistics")
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
            name, "statistics",
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

    def layers(self, service: str | None = None) -> list[Layer]:
        self.refresh()
        order = list(self._configs)
        return [
            self._layers[n] for n in order
            if n in self._layers and (service is None or self._layers[n].info.service == service)
        ]

    def items_for(self, layer: Layer, area: BBox, limit: int) -> list[CatalogItem]:
        """Items of a layer under an area, in mosaic order; refuses more than ``limit``."""
        try:
            lonlat = transform_bbox(area, WGS84)
        except Exception:  # noqa: BLE001 - outside the CRS domain: nothing can intersect
            return []
        if not lonlat.is_valid():
            return []
        items = self.store.items_in(layer.info.name, lonlat, layer.config.order, limit + 1)
        if len(items) > limit:
            raise LimitExceeded(
                "LAYERS", f"the request covers more than {limit} rasters of layer '{layer.info.name}'; zoom in"
            )
        return items
