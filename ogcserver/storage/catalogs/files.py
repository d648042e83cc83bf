"""List the raster files behind a layer source: a file, a folder searched recursively, or an
object in object storage (``s3://bucket/key``)."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.object_urls import is_object_url
from ogcserver.storage.s3 import Clients, head


def list_source_files(source: Path | str, pattern: str, objects: Clients | None = None
                      ) -> list[tuple[str, float, int]]:
    """(path, mtime, size) of every file of the source, sorted; hidden files are skipped. An
    object's time and size come from the object store (a changed object is described afresh)."""
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
