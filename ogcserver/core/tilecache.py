"""Tiles: the access check first, then the cache, then one render per metatile.

A miss takes the metatile's lock (shared by every process), looks again (another process may
have rendered it meanwhile), renders the whole metatile once through the engine, cuts it into
tiles and stores them all. Views the caller may see only in part (area, resolution or item
constraints) are rendered for them alone and never cached.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ogcserver.core import tiling
from ogcserver.core.catalog import Layer
from ogcserver.core.config import CacheConfig, Rendering
from ogcserver.core.engine import Engine
from ogcserver.core.query import DEFAULT_SCALE, EVERY_ITEM, ColourScale, ItemQuery, TileQuery
from ogcserver.core.render.encode import encode
from ogcserver.core.render.vector import footprint_tile
from ogcserver.core.seed import Metatile
from ogcserver.model.access import UNCONSTRAINED, Action, Constraints
from ogcserver.model.catalog import LayerInfo
from ogcserver.model.formats import ImageFormat
from ogcserver.model.geo import BBox, lonlat_parts, normalized_lonlat, transform_bbox
from ogcserver.model.image import Grid, RGBAImage
from ogcserver.model.tiles import StoredTile, TileKey
from ogcserver.storage.interfaces import TileStore

log = logging.getLogger(__name__)
FOOTPRINTS_PER_TILE = 5000
EXTENSIONS = {ImageFormat.PNG: "png", ImageFormat.JPEG: "jpg", ImageFormat.PNG8: "png8"}


@dataclass(frozen=True)
class TileResult:
    body: bytes
    content_type: str
    etag: str
    modified: float
    cached: bool


@lru_cache(maxsize=16)
def _empty_tile(fmt: ImageFormat, size: int, rendering: Rendering) -> bytes:
    """The one empty (transparent, or white for JPEG) tile of a format.

    Encoded once with full zlib compression: the fast strategies used for imagery would spend
    far more on nothing (Huffman-only: a bit per byte, 33 kB instead of a few hundred bytes).
    """
    grid = Grid.from_bbox(BBox(0, 0, size, size, "EPSG:3857"), size, size)
    pixels = np.zeros((size, size, 4), dtype=np.uint8)
    compact = rendering.model_copy(update={"png_strategy": "default", "png_compression": 9})
    return encode(RGBAImage(pixels, grid), fmt, True, (255, 255, 255), compact).body


class TileService:
    def __init__(self, engine: Engine, store: TileStore | None, config: CacheConfig) -> None:
        self.engine = engine
        self.store = store
        self.config = config
        self._written = 0
        self._quota_lock = threading.Lock()
        if store is not None:
            engine.on_items_changed(self._items_changed)
            for layer in engine.operator_layers():  # a static front serves the configured version
                self._point_current(layer.info)

    def store_ready(self) -> bool:
        """Whether the tile cache can store tiles now (readiness); without a cache, it is."""
        if self.store is None:
            return True
        try:
            self.store.check()
        except OSError:
            return False
        return True

    @property
    def _cache(self) -> TileStore:
        """The store, on the paths that run only with one (cacheable tiles, seeding, invalidation)."""
        if self.store is None:
            raise RuntimeError("this tile service has no cache")
        return self.store

    def _point_current(self, info: LayerInfo) -> None:
        for style in info.all_styles:
            for tms in tiling.sets_for(info):
                self._cache.point_current(info.name, style.name, tms.id, info.version)

    def _items_changed(self, info: LayerInfo, areas: tuple[BBox, ...]) -> None:
        """Drop exactly the cached tiles over the areas whose items changed (old and new footprints)."""
        self._point_current(info)
        removed = 0
        for tms in tiling.sets_for(info):
            for part in (p for area in areas for p in lonlat_parts(normalized_lonlat(area))):  # each side of 180
                try:
                    box = transform_bbox(part, tms.crs)
                except Exception:  # noqa: BLE001 - outside this set's CRS domain
                    continue
                for z in range(tms.minzoom, tms.maxzoom + 1):
                    span = tms.tiles_over(box, z)
                    if span is None:
                        continue
                    for style in info.all_styles:
                        removed += self._cache.delete_area(info.name, style.name, tms.id, info.version, z, span)
        log.info("tiles invalidated", extra={"layer": info.name, "tiles": removed})

    def _lookup(self, q: TileQuery) -> tuple[Layer, Constraints, tiling.TileMatrixSet, TileKey, bool]:
        """The layer and the caller's constraints, the tile set, the tile's cache key, and whether
        it may be cached."""
        layer, constraints = self.engine.resolve(q.layer, q.style, q.service, q.principal, Action.VIEW, "tile")
        tms = tiling.for_layer(layer.info, q.tms)
        tms.check(q.z, q.x, q.y)
        style = q.style or layer.info.default_style
        style_key, version = style, layer.info.version
        if not q.items.is_default:
            # a selection's tiles are keyed by it and by the catalog generation: any change to
            # the collection retires them (the quota sweep reclaims them), as exact invalidation
            # by area covers only the layer's own styles
            style_key = f"{style}~{hashlib.sha1(repr(q.items).encode()).hexdigest()[:12]}"
            version = f"{version}g{layer.info.generation}"
        key = TileKey(layer.info.name, style_key, tms.id, version, q.z, q.x, q.y, EXTENSIONS[q.format])
        # a request's own colour scale is drawn for it and never cached: ranges are any numbers,
        # so their tiles would only crowd the cache out; each style the layer lists is cached
        cacheable = (self.store is not None and constraints.unconstrained and layer.config.cache
                     and q.scale.is_default and any(s.name == style for s in layer.info.all_styles))
        return layer, constraints, tms, key, cacheable

    def footprints(self, q: TileQuery) -> bytes:
        """The layer's item footprints over one tile, as a Mapbox Vector Tile (a catalog query)."""
        layer, constraints = self.engine.resolve(q.layer, "", q.service, q.principal, Action.QUERY, "footprints")
        tms = tiling.for_layer(layer.info, q.tms)
        tms.check(q.z, q.x, q.y)
        box = tms.tile_bbox(q.z, q.x, q.y)
        items = self.engine.items_within(layer, constraints, box, FOOTPRINTS_PER_TILE, q.items)
        return footprint_tile(items, box, layer.info.name)

    def cached(self, q: TileQuery) -> TileResult | None:
        """The tile if the cache has it (after the same access check), else None: nothing rendered."""
        _layer, _constraints, _tms, key, cacheable = self._lookup(q)
        hit = self._cache.get(key) if cacheable else None
        return self._result(hit, q.format, cached=True) if hit is not None else None

    def tile(self, q: TileQuery) -> TileResult:
        layer, constraints, tms, key, cacheable = self._lookup(q)
        style = q.style or layer.info.default_style
        if cacheable:
            hit = self._cache.get(key)
            if hit is not None:
                return self._result(hit, q.format, cached=True)
        if not self.engine.has_items(layer, tms.tile_bbox(q.z, q.x, q.y), q.items):
            body = _empty_tile(q.format, tms.tms.matrix(q.z).tileWidth, self.engine.settings.rendering)
            return TileResult(body, q.format.content_type, f"empty-{layer.info.version}", 0.0, False)
        if not cacheable:
            return self._alone(layer, tms, q, constraints, style)
        meta = self._metatile(tms, q.z, q.x, q.y)
        self._fill(layer, tms, key, meta, q.format, style, q.items)
        self._maybe_enforce_quota()
        stored = self._cache.get(key)
        if stored is None:  # the store did not keep it (out of reach, or swept at once): answered all the same
            return self._alone(layer, tms, q, constraints, style)
        return self._result(stored, q.format, cached=False)

    def _alone(self, layer: Layer, tms: tiling.TileMatrixSet, q: TileQuery, constraints: Constraints,
               style: str) -> TileResult:
        """The tile rendered by itself for this request, not stored."""
        tiles = self._render(layer, tms, q.z, (q.x, q.y, q.x, q.y), q.format, constraints, 0, style, q.items, q.scale)
        body = tiles[(q.x, q.y)]
        if body is None:  # nothing valid in this tile (e.g. all nodata)
            body = _empty_tile(q.format, tms.tms.matrix(q.z).tileWidth, self.engine.settings.rendering)
        return TileResult(body, q.format.content_type, "", time.time(), False)

    def seed(self, layer_name: str, tms_id: str, meta: Metatile, fmt: ImageFormat) -> int:
        """Render one metatile into the cache unless all its tiles are there; returns tiles written."""
        layer = self.engine.operator_layer(layer_name)
        tms = tiling.for_layer(layer.info, tms_id)
        style, ext = layer.info.default_style, EXTENSIONS[fmt]
        keys = (TileKey(layer.info.name, style, tms.id, layer.info.version, meta.z, x, y, ext)
                for y in range(meta.y0, meta.y1 + 1) for x in range(meta.x0, meta.x1 + 1))
        missing = next((k for k in keys if self._cache.get(k) is None), None)
        if missing is None:
            return 0
        if not self.engine.has_items(layer, tms.grid(meta.z, meta.x0, meta.y0, meta.x1, meta.y1).bbox):
            return 0  # nothing there: empty tiles are answered without the cache
        return self._fill(layer, tms, missing, (meta.x0, meta.y0, meta.x1, meta.y1), fmt, style, EVERY_ITEM)

    def truncate(self, layer_name: str, tms_id: str | None = None, zooms: range | None = None) -> int | None:
        """Drop a layer's cached tiles: all of them (returns None: the store does not count them),
        or those of ``zooms`` in one tile matrix set (returns how many)."""
        store = self.store
        if store is None:
            raise ValueError("the tile cache is off in this configuration")
        info = self.engine.operator_layer(layer_name).info
        if zooms is None:
            store.delete_layer(info.name)
            return None
        tms = tiling.for_layer(info, tms_id or "WebMercatorQuad")
        removed = 0
        for z in zooms:
            removed += store.delete_zoom(info.name, tms.id, z)
        return removed

    def _fill(self, layer: Layer, tms: tiling.TileMatrixSet, probe: TileKey, span: tuple[int, int, int, int],
              fmt: ImageFormat, style: str, want: ItemQuery) -> int:
        """The one metatile loop of on-demand tiles and seeding: under the metatile's lock (shared
        by every process), look for ``probe`` again (another process may have stored it while this
        one waited), else render the metatile once and store every tile of it; returns tiles stored."""
        with self._cache.lock(f"{probe.layer}/{probe.style}/{probe.tms}/{probe.version}/{probe.z}/{span}"):
            if self._cache.get(probe) is not None:
                return 0
            tiles = self._render(layer, tms, probe.z, span, fmt, UNCONSTRAINED, self.config.meta_buffer, style, want)
            log.info("metatile rendered", extra={"layer": probe.layer, "tms": probe.tms, "z": probe.z, "span": span})
            for (x, y), body in tiles.items():
                target = replace(probe, x=x, y=y)
                if body is None:
                    empty = _empty_tile(fmt, tms.tms.matrix(probe.z).tileWidth, self.engine.settings.rendering)
                    self._cache.put_empty(target, empty)
                else:
                    self._cache.put(target, body)
                    self._written += len(body)
        return len(tiles)

    def _maybe_enforce_quota(self) -> None:
        """After every 5% of the quota written, sweep in the background (one sweep at a time)."""
        quota, store = self.config.max_bytes, self.store
        if quota is None or store is None or self._written < quota // 20:
            return
        if not self._quota_lock.acquire(blocking=False):
            return
        self._written = 0

        def sweep() -> None:
            try:
                with store.lock("quota"):
                    evicted = store.enforce_quota(quota)
                if evicted:
                    log.info("cache quota enforced", extra={"evicted": evicted, "max_bytes": quota})
            finally:
                self._quota_lock.release()

        threading.Thread(target=sweep, name="cache-quota", daemon=True).start()

    @staticmethod
    def _result(hit: StoredTile, fmt: ImageFormat, cached: bool) -> TileResult:
        return TileResult(hit.body, fmt.content_type, hit.etag, hit.mtime, cached)

    def _metatile(self, tms: tiling.TileMatrixSet, z: int, x: int, y: int) -> tuple[int, int, int, int]:
        m = tms.tms.matrix(z)
        n = self.config.meta_size
        x0, y0 = (x // n) * n, (y // n) * n
        return x0, y0, min(x0 + n, m.matrixWidth) - 1, min(y0 + n, m.matrixHeight) - 1

    def _render(
        self, layer: Layer, tms: tiling.TileMatrixSet, z: int, span: tuple[int, int, int, int], fmt: ImageFormat,
        constraints: Constraints, buffer: int, style: str = "", want: ItemQuery = EVERY_ITEM,
        scale: ColourScale = DEFAULT_SCALE,
    ) -> dict[tuple[int, int], bytes | None]:
        """Render tiles x0..x1, y0..y1 in one read; None marks a tile with nothing in it."""
        x0, y0, x1, y1 = span
        grid = tms.grid(z, x0, y0, x1, y1, buffer)
        picture = self.engine.render_picture(layer, grid, constraints, style, want, scale)
        size = tms.tms.matrix(z).tileWidth
        rendering = self.engine.settings.rendering
        out: dict[tuple[int, int], bytes | None] = {}
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                r, c = buffer + (y - y0) * size, buffer + (x - x0) * size
                if picture is None:
                    out[(x, y)] = None
                    continue
                pixels = picture.pixels[r : r + size, c : c + size]
                if pixels.shape[2] == 4 and not pixels[..., 3].any():
                    out[(x, y)] = None
                    continue
                tile = RGBAImage(np.ascontiguousarray(pixels), tms.grid(z, x, y, x, y))
                out[(x, y)] = encode(tile, fmt, True, (255, 255, 255), rendering).body
        return out
