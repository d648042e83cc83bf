"""Where ingest finds items: files, folders and globs, file lists, metadata sidecars (CSV/JSON
tables and per-file JSON), and STAC Items, ItemCollections and static catalogs (pystac).

Each source yields ItemSpecs lazily, so a catalog of a million items never sits in memory.
"""

from __future__ import annotations

import csv
import glob
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
from affine import Affine

from ogcserver.model.band_files import BandFiles, parse_stack_path
from ogcserver.model.catalog import ItemSpec, SourceInfo, typed_value
from ogcserver.model.errors import InvalidValue
from ogcserver.model.geo import BBox
from ogcserver.model.object_urls import is_object_url
from ogcserver.storage.catalogs.band_stacks import with_band_stacks
from ogcserver.storage.catalogs.files import list_source_files
from ogcserver.storage.readers.vetting import DEFAULT_RULES, SourceRules

PATH_COLUMNS = ("path", "href", "file", "filename")
ID_COLUMNS = ("id", "key")
TIME_COLUMNS = ("datetime", "acquired", "date", "time")
RASTER_MEDIA = ("image/tiff", "image/jp2", "application/x-hdf")


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 date or date-time; naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- files --------------------------------------------------------------------------------------
def paths_from(arguments: Iterable[str], pattern: str = "*.tif", band_files: BandFiles = "auto",
               rules: SourceRules = DEFAULT_RULES) -> Iterator[str]:
    """Files named by arguments: a file, a folder (searched recursively) or a glob. The band files
    of one scene are one source, as in a layer's folder: within a folder, and among the files
    named one by one or by globs (a shell's ``scene/*.TIF``), which follow the folders."""
    named: list[tuple[str, float, int]] = []
    for argument in arguments:
        if is_object_url(argument):  # one object: its bucket and format are vetted at ingest
            yield argument
            continue
        path = Path(argument)
        if path.is_dir():
            yield from (p for p, _m, _s in list_source_files(path, pattern, band_files=band_files, rules=rules))
            continue
        matches = [path] if path.is_file() else [Path(m) for m in sorted(glob.glob(argument, recursive=True))]
        if not matches:
            raise InvalidValue("path", f"'{argument}' matches no file")
        named += (row for m in matches if (row := _stamp(m)) is not None)
    yield from (p for p, _m, _s in with_band_stacks(named, band_files, rules))


def _stamp(path: Path) -> tuple[str, float, int] | None:
    """(path, mtime, size) of a file; None for anything else."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), st.st_mtime, st.st_size) if path.is_file() else None


def paths_from_list(list_file: Path) -> Iterator[str]:
    """One path per line; blank lines and '#' comments are skipped; relative to the list."""
    with open(list_file, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line if is_object_url(line) else str((list_file.parent / line).resolve())


# -- metadata tables and sidecars --------------------------------------------------------------
def read_table(table: Path) -> dict[str, dict[str, Any]]:
    """Rows of a CSV or JSON metadata table, by the file name (and the id, if given) they describe."""
    if table.suffix.lower() == ".csv":
        with open(table, newline="", encoding="utf-8") as handle:
            rows: list[dict[str, Any]] = list(csv.DictReader(handle))
    else:
        data = json.loads(table.read_text(encoding="utf-8"))
        rows = data if isinstance(data, list) else data.get("items", [])
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        name = next((str(row[c]) for c in PATH_COLUMNS if row.get(c)), None)
        if name:
            found[Path(name).name] = row
        ident = next((str(row[c]) for c in ID_COLUMNS if row.get(c)), None)
        if ident:
            found.setdefault(ident, row)
    return found


def _sidecar(path: str) -> dict[str, Any]:
    """A per-file JSON sidecar: ``scene.tif.json`` or ``scene.json`` beside ``scene.tif``."""
    for candidate in (path + ".json", os.path.splitext(path)[0] + ".json"):
        if os.path.isfile(candidate):
            try:
                data = json.loads(Path(candidate).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def spec_from_row(path: str, row: dict[str, Any]) -> ItemSpec:
    """An item from a file and the metadata about it: id, datetime and the rest as properties."""
    key = next((str(row[c]) for c in ID_COLUMNS if row.get(c)), None)
    when = next((parse_time(str(row[c])) for c in TIME_COLUMNS if row.get(c)), None)
    skip = set(PATH_COLUMNS + ID_COLUMNS + TIME_COLUMNS)
    properties = {k: typed_value(v) for k, v in row.items() if k not in skip and v not in (None, "")}
    return ItemSpec(path, key, when, properties)


def specs_for_files(paths: Iterable[str], table: dict[str, dict[str, Any]] | None = None) -> Iterator[ItemSpec]:
    """Items of files, with the metadata the table or a sidecar gives; a scene of band files is
    named (and looked up in the table) by the scene's name, as a layer's folder names it."""
    for path in paths:
        stack = parse_stack_path(path)
        row = dict(_sidecar(path)) if stack is None else {}
        if table:
            names = (stack.name,) if stack is not None else (Path(path).name, Path(path).stem)
            row.update(next((table[n] for n in names if n in table), {}))
        if stack is not None:
            row = {"id": stack.name, **row}
        yield spec_from_row(path, row)


# -- STAC ---------------------------------------------------------------------------------------
def specs_from_stac(location: Path, asset: str | None = None) -> Iterator[ItemSpec]:
    """Items of a STAC Item, ItemCollection or static Catalog/Collection file."""
    try:
        data = json.loads(location.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidValue("stac", f"'{location.name}' is not readable JSON") from exc
    kind = data.get("type")
    if kind == "Feature":
        items: Iterable[pystac.Item] = [pystac.Item.from_file(str(location))]
    elif kind == "FeatureCollection":
        items = pystac.ItemCollection.from_file(str(location)).items
    elif kind in ("Catalog", "Collection") and isinstance(catalog := pystac.read_file(str(location)), pystac.Catalog):
        items = catalog.get_items(recursive=True)
    else:
        raise InvalidValue("stac", f"'{location.name}' is not a STAC Item, ItemCollection or Catalog")
    for item in items:
        spec = spec_from_stac(item, asset)
        if spec is not None:
            yield spec


def _pick_asset(item: pystac.Item, name: str | None) -> pystac.Asset | None:
    if name is not None:
        return item.assets.get(name)
    for candidate in item.assets.values():
        if "data" in (candidate.roles or []) and (candidate.media_type or "").split(";")[0] in RASTER_MEDIA:
            return candidate
    return next((a for a in item.assets.values() if (a.media_type or "").split(";")[0] in RASTER_MEDIA), None)


def spec_from_stac(item: pystac.Item, asset_name: str | None = None) -> ItemSpec | None:
    asset = _pick_asset(item, asset_name)
    if asset is None:
        return None
    href = asset.get_absolute_href() or asset.href
    when = item.datetime or item.common_metadata.start_datetime
    properties = {k: v for k, v in item.properties.items()
                  if k not in ("datetime",) and isinstance(v, (str, int, float, bool))}
    source = _source_from_stac(href, item, asset, when)
    return ItemSpec(href, item.id, when, properties, item.geometry, source)


def _source_from_stac(href: str, item: pystac.Item, asset: pystac.Asset, when: datetime | None) -> SourceInfo | None:
    """The raster's description from the projection and raster extensions, when complete."""
    fields = {**item.properties, **asset.extra_fields}
    code = fields.get("proj:code") or (f"EPSG:{fields['proj:epsg']}" if fields.get("proj:epsg") else None)
    shape, transform = fields.get("proj:shape"), fields.get("proj:transform")
    bands = fields.get("raster:bands") or []
    if not (code and shape and transform and bands and len(transform) >= 6):
        return None
    height, width = int(shape[0]), int(shape[1])
    t = Affine(*transform[:6])
    if t.b or t.d:
        return None  # rotated grids are described by opening the file
    x0, y0 = t.c, t.f
    x1, y1 = t * (width, height)
    bounds = BBox(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), str(code))
    return SourceInfo(
        path=href, crs=str(code), bounds=bounds, width=width, height=height, count=len(bands),
        dtype=str(bands[0].get("data_type", "uint8")), nodata=bands[0].get("nodata"),
        band_names=tuple(str(b.get("name", "")) for b in bands), acquired=when,
    )
