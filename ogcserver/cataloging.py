"""``ogcserver catalog``: create collections and add, remove, list and query their items.

The commands work on the configured catalog (SQLite or PostGIS) while servers use it: every
change bumps the collection's generation, which running servers pick up at their next index
check, and their tile caches drop the tiles under the changed footprints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain
from pathlib import Path

from ogcserver.composition import build_core, catalog_store, raster_reader
from ogcserver.core.catalog import UNREADABLE_PROPERTY, with_unreadable_marks
from ogcserver.core.filters import parse_filter
from ogcserver.core.ingest import ingest
from ogcserver.core.overviews import OverviewBuilder
from ogcserver.model.band_files import BandFiles, band_files_argument
from ogcserver.model.catalog import CatalogItem, ItemSpec, Selection, TimeRange
from ogcserver.model.geo import WGS84, BBox, geojson_bbox, normalized_lonlat
from ogcserver.model.mosaic import BY_NAME, parse_ordering
from ogcserver.model.time import format_time, parse_time
from ogcserver.ows.catalog.features import bare_feature
from ogcserver.progress import Progress
from ogcserver.settings import Settings
from ogcserver.storage.catalogs import sources
from ogcserver.storage.interfaces import CatalogStore
from ogcserver.storage.readers.vetting import DEFAULT_RULES, SourceRules
from ogcserver.storage.writers import GeoTiffWriter, remove_builds

PAGE = 1000
LISTED_REFUSALS = 100  # refused files listed by `stats` (all are counted)


def _specs(paths: list[str], list_file: str | None, table: str | None, stac: list[str], asset: str | None,
           pattern: str, variable: str = "", band_files: BandFiles = "auto",
           rules: SourceRules = DEFAULT_RULES) -> Iterator[ItemSpec]:
    files = chain(sources.paths_from(paths, pattern, band_files, rules),
                  sources.paths_from_list(Path(list_file)) if list_file else ())
    for spec in sources.specs_for_files(files, sources.read_table(Path(table)) if table else None):
        yield replace(spec, variable=variable)
    for location in stac:
        yield from sources.specs_from_stac(Path(location), asset)


def _selection(bbox: str | None, datetime_text: str | None, where: str | None, sortby: str | None) -> Selection:
    area = BBox(*(float(v) for v in bbox.split(",")), WGS84) if bbox else None
    when: TimeRange | None = parse_time(datetime_text, "datetime") if datetime_text else None
    ordering = parse_ordering(sortby) if sortby else BY_NAME
    return Selection(area, parse_filter(where) if where else None, when, ordering)


def _row(item: CatalogItem) -> str:
    """Key, time, lon/lat box, file; and why the item is unreadable, when a request found it so."""
    when = format_time(item.acquired) if item.acquired else "-"
    b = item.lonlat_bounds
    row = f"{item.key}\t{when}\t{b.minx:.6f},{b.miny:.6f},{b.maxx:.6f},{b.maxy:.6f}\t{item.source.path}"
    reason = item.properties.get(UNREADABLE_PROPERTY)
    return f"{row}\tunreadable: {reason}" if reason else row


def _pages(store: CatalogStore, collection: str, selection: Selection, limit: int | None) -> Iterator[CatalogItem]:
    """Items in pages, so a million-item listing never sits in memory."""
    offset = 0
    while limit is None or offset < limit:
        size = PAGE if limit is None else min(PAGE, limit - offset)
        page = store.select(collection, selection, size, offset)
        yield from page
        if len(page) < size:
            return
        offset += size


def _overviews(settings: Settings, layer: str, factor: int, full: bool) -> int:
    """Build or refresh a layer's mosaic-level overview (the collection argument names the layer)."""
    core = build_core(settings)
    builder = OverviewBuilder(core.catalog, core.reader, GeoTiffWriter(),
                              settings.server.data_dir / "overviews", remove_builds)
    progress = Progress("blocks")
    report = builder.build(layer, factor, full, lambda done, total: progress.update(done, total))
    progress.close()
    if report is None:
        print(f"the overview of '{layer}' is up to date")
        return 0
    kind = "refreshed" if report.incremental else "built"
    print(f"overview of '{layer}' {kind}: {report.levels} levels, {report.blocks} blocks in {report.seconds:.1f} s")
    return 0


def run_catalog(settings: Settings, action: str, collection: str | None, args) -> int:  # noqa: ANN001
    store = catalog_store(settings)
    if action == "stats":
        for name in [collection] if collection else store.collections():
            s = store.stats(name)
            box = geojson_bbox(normalized_lonlat(s.lonlat_bounds)) if s.lonlat_bounds else None
            first, last = (format_time(t) if t else None for t in (s.first, s.last))
            refused = store.refusals(name)
            print(json.dumps({"collection": name, "items": s.count, "bbox": box, "first": first, "last": last,
                              "generation": s.generation, "refused": len(refused),
                              "refused_files": [{"key": r.key, "path": r.path, "reason": r.reason}
                                                for r in refused[:LISTED_REFUSALS]]}))
        return 0
    if collection is None:
        print("name the collection", file=sys.stderr)
        return 2
    if action == "create":
        created = store.create(collection)
        print(f"collection '{collection}' {'created' if created else 'exists already'}")
        return 0
    if action == "drop":
        print(f"collection '{collection}' dropped ({store.drop(collection)} items)")
        return 0
    if action == "overviews":
        return _overviews(settings, collection, args.factor, args.full)
    if action == "add":
        try:
            band_files = band_files_argument(args.band_files)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        store.create(collection)
        progress = Progress("items")
        reader = raster_reader(settings)
        specs = _specs(args.paths, args.list, args.metadata, args.stac or [], args.asset, args.pattern,
                       args.variable or "", "off" if args.variable else band_files, reader.rules)
        report = ingest(store, reader, collection, specs, lambda done, skipped: progress.update(done, skipped=skipped))
        progress.update(report.added + report.updated, skipped=report.skipped)
        progress.close()
        print(f"added {report.added}, updated {report.updated}, skipped {report.skipped} "
              f"in {report.seconds:.1f} s ({report.rate:.0f} items/s)")
        return 0
    if action == "remove":
        keys = list(args.paths)
        if args.filter:
            keys += [i.key for i in _pages(store, collection, _selection(None, None, args.filter, None), None)]
        result = store.remove(collection, keys)
        print(f"removed {result.removed} items")
        return 0
    selection = _selection(args.bbox, args.datetime, args.filter, args.sortby)
    marks = store.unreadable(collection)
    items = (with_unreadable_marks([i], marks)[0] for i in _pages(store, collection, selection, args.limit))
    if action == "list":
        for item in items:
            print(_row(item))
        for refusal in store.refusals(collection):  # after the items, marked as comments
            print(f"# refused\t{refusal.key}\t{refusal.path}\t{refusal.reason}")
        return 0
    print('{"type": "FeatureCollection", "features": [', end="")
    for n, item in enumerate(items):
        print(("," if n else "") + "\n" + json.dumps(bare_feature(item, path=item.source.path)), end="")
    print("\n]}")
    return 0
