"""List the raster files behind a layer source: a file, a folder searched recursively, or an
object in object storage (``s3://bucket/key``)."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import rasterio

from ogcserver.model.band_files import BandFiles
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.object_urls import is_object_url, is_prefix_url
from ogcserver.storage.catalogs.band_stacks import with_band_stacks
from ogcserver.storage.readers.multidim_vetting import is_multidim
from ogcserver.storage.readers.vetting import DEFAULT_RULES, SourceRules, check_dataset, open_source
from ogcserver.storage.s3 import Clients, head, list_objects


def list_source_files(source: Path | str, pattern: str, objects: Clients | None = None, band_files: BandFiles = "off",
                      rules: SourceRules = DEFAULT_RULES) -> list[tuple[str, float, int]]:
    """(path, mtime, size) of every file of the source, sorted; hidden files are skipped. An
    object's time and size come from the object store (a changed object is described afresh).
    ``band_files``: whether a folder's single-band files of one scene are one source (one row)."""
    if isinstance(source, str) and is_prefix_url(source):
        if objects is None:
            raise SourceUnavailable(f"folder '{source[:200]}': no object storage is configured (settings: storage.s3)")
        try:
            return list_objects(objects, source, pattern)
        except OSError as exc:
            raise SourceUnavailable(f"folder '{source[:200]}' cannot be listed ({exc.strerror})") from None
    if isinstance(source, str) and is_object_url(source):
        if objects is None:
            raise SourceUnavailable(f"object '{source[:200]}': no object storage is configured (settings: storage.s3)")
        try:
            mtime, size = head(objects, source)
        except OSError as exc:
            raise SourceUnavailable(f"object '{source[:200]}' cannot be reached ({exc.strerror})") from None
        return [(source, mtime, size)]
    source = Path(source)
    if source.is_file():
        st = source.stat()
        return [(str(source.resolve()), st.st_mtime, st.st_size)]
    if is_multidim(str(source)):  # a Zarr store: one source, changed when any of its files is
        return [store_stamp(source)]
    found = []
    for root, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith(".") or not fnmatch.fnmatch(name.lower(), pattern.lower()):
                continue
            path = Path(root, name)
            try:
                st = path.stat()
            except OSError:
                continue
            found.append((str(path.resolve()), st.st_mtime, st.st_size))
    return with_band_stacks(sorted(found), band_files, rules)


def store_stamp(store: Path) -> tuple[str, float, int]:
    """(path, latest mtime, total size) of a directory store."""
    latest, total = store.stat().st_mtime, 0
    for root, _dirs, names in os.walk(store):
        for name in names:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            latest, total = max(latest, st.st_mtime), total + st.st_size
    return str(store.resolve()), latest, total


MAX_MULTIDIM_FILES = 1000  # netCDF/HDF5/Zarr sources of one folder published variable by variable


def multidim_sources(folder: Path) -> list[Path]:
    """The netCDF, HDF5 and Zarr sources in a folder (searched recursively, not into stores)."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        stores = sorted(d for d in dirs if not d.startswith(".") and is_multidim(d))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in stores)
        found += [Path(root, n) for n in stores + sorted(names) if not n.startswith(".") and is_multidim(n)
                  and (n in stores or Path(root, n).is_file())]
        if len(found) >= MAX_MULTIDIM_FILES:
            break
    return sorted(found)[:MAX_MULTIDIM_FILES]


MAX_KIND_CHECKS = 1000  # files of a folder opened to tell whether they are of one kind


def raster_kinds(paths: list[Path], rules: SourceRules = DEFAULT_RULES) -> set[tuple[int, str]]:
    """The (band count, data type) pairs of the rasters, read from at most MAX_KIND_CHECKS of them
    spread over the list (headers only). Each file is checked as every source is before GDAL opens
    it; files refused or unreadable are left to the catalog, which refuses them with the reason."""
    step = max(1, -(-len(paths) // MAX_KIND_CHECKS))
    kinds = set()
    for path in paths[::step]:
        try:
            with open_source(str(path), rules) as ds:
                check_dataset(ds, str(path), rules)
                kinds.add((ds.count, ds.dtypes[0]))
        except (SourceUnavailable, rasterio.errors.RasterioError, OSError):
            continue
    return kinds
