"""Ingest: turn what sources say about items (files, sidecars, STAC) into catalog records.

A file is opened only when its metadata does not describe it fully; its valid-data footprint
is traced from its mask unless the metadata gives one. Records are written in batches, each
batch one transaction, so an interrupted ingest keeps what it wrote and a rerun replaces
items by key instead of doubling them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import PurePath

from ogcserver.model.catalog import ItemRecord, ItemSpec, Refusal, footprint_box, typed_value
from ogcserver.model.dimensions import time_span
from ogcserver.model.errors import SourceUnavailable
from ogcserver.storage.interfaces import CatalogStore, RasterReader

log = logging.getLogger(__name__)

BATCH = 500
Progress = Callable[[int, int], None]  # (items done, items skipped)


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return (self.added + self.updated) / self.seconds if self.seconds else 0.0


def describe_file(reader: RasterReader, key: str, path: str, variable: str = "") -> ItemRecord:
    """A record for a raster file (or one variable of a multidimensional file): its description,
    traced footprint and tags."""
    info = reader.describe(path, variable=variable)
    footprint = reader.footprint(info)
    footprint_box(footprint, info)  # raises SourceUnavailable when it cannot be placed in lon/lat
    properties = {k: typed_value(v) for k, v in info.attributes.items()}
    return ItemRecord(key, info, footprint, {**properties, **time_span(info.dimensions)})


def key_for(spec: ItemSpec) -> str:
    return spec.key or PurePath(spec.href).stem


def record_for(reader: RasterReader, spec: ItemSpec) -> ItemRecord:
    """A record for a spec: metadata first, the file only for what the metadata lacks (a file
    described by metadata alone is still vetted: a local raster of an accepted format)."""
    key = key_for(spec)
    info = spec.source
    if info is None:
        info = reader.describe(spec.href, variable=spec.variable)
    else:
        reader.vet(spec.href)
    footprint = spec.footprint if spec.footprint is not None else reader.footprint(info)
    if spec.acquired is not None:
        info = replace(info, acquired=spec.acquired)
    properties = {k: typed_value(v) for k, v in info.attributes.items()} if spec.source is None else {}
    properties.update(time_span(info.dimensions))
    properties.update(spec.properties)
    footprint_box(footprint, info)
    return ItemRecord(key, info, footprint, properties)


def refusal_for(spec: ItemSpec, reason: str) -> Refusal:
    """The refusal of an item, with the file's stamp where it is a local file."""
    try:
        st = os.stat(spec.href)
    except (OSError, ValueError):
        return Refusal(key_for(spec), spec.href, reason)
    return Refusal(key_for(spec), spec.href, reason, st.st_mtime, st.st_size)


def _batches(records: Iterable[ItemRecord], size: int) -> Iterator[list[ItemRecord]]:
    batch: list[ItemRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest(
    store: CatalogStore,
    reader: RasterReader,
    collection: str,
    specs: Iterable[ItemSpec],
    progress: Progress | None = None,
    batch: int = BATCH,
) -> IngestReport:
    """Add or replace the specs' items; an unreadable item is skipped with a log line."""
    report = IngestReport()
    started = time.monotonic()
    seen: set[str] = set()

    def records() -> Iterator[ItemRecord]:
        for spec in specs:
            try:
                record = record_for(reader, spec)
            except SourceUnavailable as exc:
                report.skipped += 1
                refusal = refusal_for(spec, getattr(exc, "reason", exc.message))
                store.refuse(collection, refusal)
                log.warning("source refused", extra={"collection": collection, "path": spec.href,
                                                     "reason": refusal.reason})
                continue
            if record.key in seen:  # e.g. two files of one name in different folders
                report.skipped += 1
                log.warning("item skipped", extra={"item": spec.href, "reason": f"id '{record.key}' given twice"})
                continue
            seen.add(record.key)
            yield record

    for part in _batches(records(), batch):
        result = store.upsert(collection, part)
        report.added += result.added
        report.updated += result.updated
        if progress is not None:
            progress(report.added + report.updated, report.skipped)
    report.seconds = time.monotonic() - started
    return report
