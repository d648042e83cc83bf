"""``ogcserver seed`` and ``ogcserver cache``: fill, inspect and truncate the tile cache.

Seeding runs in local worker processes, or with ``--cluster`` on the workers of a Dask cluster
(each process builds its own core, so GDAL handles are never shared; the tile store's metatile
locks keep one render per metatile across all of them), shows progress with rate and ETA
(ogcserver/progress.py), and resumes: metatiles already cached are skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import shapely

from ogcserver.composition import build_core
from ogcserver.core import seed, tiling
from ogcserver.model.formats import ImageFormat
from ogcserver.model.geo import WGS84, BBox
from ogcserver.model.tiles import TileKey
from ogcserver.progress import Progress
from ogcserver.settings import Settings, load_settings
from ogcserver.storage.readers.process_memory import keep_heap_for_batch_work

_worker = None
# metatiles per cluster task: each task costs some 20 ms of CPU in the scheduler, the client and
# the worker, a metatile about 0.2 s; batches shrink as the plan runs out so that no worker
# finishes long before the others
MAX_CLUSTER_BATCH = 8
BATCHES_AHEAD = 2  # a batch is at most 1/BATCHES_AHEAD of what remains per worker thread


def _init(config: str) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the pool
    _worker = build_core(load_settings(Path(config))).tiles
    keep_heap_for_batch_work()


def _seed_one(job: tuple[str, str, seed.Metatile, str]) -> tuple[int, int]:
    layer, tms, meta, fmt = job
    return _worker.seed(layer, tms, meta, ImageFormat(fmt)), meta.tiles


def _zooms(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def _seed_polygon(bbox: str | None, polygon: str | None) -> shapely.Geometry | None:
    """The polygon (from a GeoJSON file) that narrows the seeded area, if any."""
    if polygon is None:
        return None
    if bbox:
        raise ValueError("give --bbox or --polygon, not both")
    try:
        return seed.lonlat_polygon(json.loads(Path(polygon).read_text()))
    except OSError as exc:
        raise ValueError(f"cannot read the polygon file: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the polygon file is not JSON: {exc.msg} (line {exc.lineno})") from None


def _seed_batch(settings: Settings, jobs: list[tuple[str, str, seed.Metatile, str]]) -> tuple[int, int]:
    """On a cluster worker: some metatiles through this process's core; (written, tiles)."""
    from ogcserver.analysing.cluster import worker_core

    tiles = worker_core(settings).tiles
    written = count = 0
    for layer, tms, meta, fmt in jobs:
        written += tiles.seed(layer, tms, meta, ImageFormat(fmt))
        count += meta.tiles
    return written, count


def _on_cluster(settings: Settings, address: str, jobs: Iterator, metatiles: int) -> Iterator[tuple[int, int]]:
    """(written, tiles) per batch of metatiles seeded on the cluster, the plan walked lazily: a
    few batches per worker thread in flight, so memory stays flat over any number of metatiles."""
    from distributed import as_completed

    from ogcserver.analysing.cluster import cluster_client

    # a local cluster's workers are forked from this process, which has imported and built all they need
    with cluster_client(settings.analysis, address or None, start_method="fork") as client:
        threads = sum(client.nthreads().values())
        slots = max(2, 4 * threads)
        batches = cluster_batches(jobs, metatiles, threads)
        pending = as_completed([client.submit(_seed_batch, settings, b, pure=False)
                                for b in itertools.islice(batches, slots)])
        for future in pending:
            yield future.result()
            following = next(batches, None)
            if following is not None:
                pending.add(client.submit(_seed_batch, settings, following, pure=False))


def cluster_batches(jobs: Iterator, metatiles: int, threads: int) -> Iterator[list]:
    """Guided batches: large while much remains (fewer tasks to schedule), down to one metatile
    at the end (the workers finish together)."""
    remaining = metatiles
    while batch := list(itertools.islice(jobs, _batch_size(remaining, threads))):
        remaining -= len(batch)
        yield batch


def _batch_size(remaining: int, threads: int) -> int:
    return max(1, min(MAX_CLUSTER_BATCH, remaining // (BATCHES_AHEAD * max(1, threads))))


def run_seed(config: Path, layers: list[str], tms_id: str, zoom: str, bbox: str | None, polygon: str | None,
             fmt: str, workers: int, dry_run: bool, cluster: str | None = None) -> int:
    settings = load_settings(config)
    engine = build_core(settings).engine
    zooms = _zooms(zoom)
    meta_size = settings.cache.meta_size
    within = _seed_polygon(bbox, polygon)
    plans, tiles, metatiles = [], 0, 0
    for layer in layers:
        info = engine.operator_layer(layer).info
        tms = tiling.for_layer(info, tms_id)
        area = seed.lonlat_area(bbox, info.lonlat_bounds) if within is None else BBox(*within.bounds, WGS84)
        metas, count = seed.count(tms, area, zooms, meta_size, within)
        print(f"{layer} {tms.id} zoom {zooms.start}-{zooms.stop - 1}: {count} tiles in {metas} metatiles", flush=True)
        plans.append((layer, tms, area))
        tiles += count
        metatiles += metas
    if dry_run:
        return 0
    image = ImageFormat.JPEG if fmt in ("jpg", "jpeg") else ImageFormat.PNG
    jobs: Iterator = ((layer, tms.id, m, image.value) for layer, tms, area in plans
                      for m in seed.plan(tms, area, zooms, meta_size, within))
    started = time.monotonic()
    done = written = 0
    progress = Progress("tiles", tiles)
    try:
        with contextlib.ExitStack() as stack:
            if cluster is not None:
                results = stack.enter_context(contextlib.closing(_on_cluster(settings, cluster, jobs, metatiles)))
            else:
                pool = stack.enter_context(multiprocessing.get_context("fork").Pool(workers, initializer=_init,
                                                                                     initargs=(str(config),)))
                results = pool.imap_unordered(_seed_one, jobs, chunksize=4)
            for wrote, count in results:
                done += count
                written += wrote
                progress.update(done, written=written)
    except KeyboardInterrupt:
        progress.close(f"interrupted: {written} tiles written; a re-run resumes where this one stopped")
        return 130
    progress.close(f"done: {written} tiles written, {tiles - written} already cached or empty, "
                   f"{time.monotonic() - started:.1f} s")
    return 0


def run_cache(settings: Settings, action: str, layer: str | None, tms_id: str, zoom: str | None,
              bbox: str | None, tile: str | None) -> int:
    core = build_core(settings)
    store = core.tile_store
    if store is None:
        print("the tile cache is disabled in this configuration", file=sys.stderr)
        return 2
    if action == "stats":
        for name, stats in store.stats().items():
            print(f"{name}: {stats['tiles']} tiles, {stats['bytes'] / 1e6:.1f} MB")
        return 0
    if layer is None:
        print("give --layer to truncate", file=sys.stderr)
        return 2
    info = core.engine.operator_layer(layer).info
    if tile is None and bbox is None:
        removed = core.tiles.truncate(info.name, tms_id, _zooms(zoom) if zoom else None)
        print(f"{info.name}: every cached tile removed" if removed is None else f"{info.name}: {removed} cached tiles removed")
        return 0
    tms = tiling.for_layer(info, tms_id)
    if tile is not None:
        z, x, y = (int(v) for v in tile.split("/"))
        targets = [(z, x, y)]
    else:
        area = seed.lonlat_area(bbox, info.lonlat_bounds)
        targets = (
            (m.z, x, y)
            for m in seed.plan(tms, area, _zooms(zoom) if zoom else range(tms.minzoom, tms.maxzoom + 1), 1)
            for x in range(m.x0, m.x1 + 1) for y in range(m.y0, m.y1 + 1)
        )
    removed = 0
    for z, x, y in targets:
        for ext in ("png", "jpg", "png8"):
            for style in (s.name for s in info.styles):
                removed += store.delete(TileKey(info.name, style, tms.id, info.version, z, x, y, ext))
    print(f"{info.name}: {removed} cached tiles removed")
    return 0
