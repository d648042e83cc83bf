"""List the raster files behind a layer source: a file, or a folder searched recursively."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path


def list_source_files(source: Path, pattern: str) -> list[tuple[str, float, int]]:
    """(path, mtime, size) of every file of the source, sorted; hidden files are skipped."""
    if source.is_file():
        st = source.stat()
        return [(str(source.resolve()), st.st_mtime, st.st_size)]
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
