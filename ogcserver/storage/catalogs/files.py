"""List the raster files behind a layer source: a file, or a folder searched recursively."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from ogcserver.storage.readers.multidim_vetting import is_multidim


def list_source_files(source: Path, pattern: str) -> list[tuple[str, float, int]]:
    """(path, mtime, size) of every file of the source, sorted; hidden files are skipped."""
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
    return sorted(found)


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
