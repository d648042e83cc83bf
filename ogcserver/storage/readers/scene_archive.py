"""A scene of one file per band downloaded as its original files: a zip of the band files and
the scene's MTL, each stored as it is (not recompressed: the rasters are compressed already).

The originals, not a multiband GeoTIFF built from them: WCS GetCoverage gives that one already,
and the files themselves keep what a re-encoding loses (each file's own tags and the MTL's
calibration, quality and geometry fields) byte for byte. The zip is written to an anonymous
temporary file, copied a chunk at a time, so a scene of any size costs a request no more memory
than one chunk; the file disappears when the response closes it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from typing import BinaryIO

from ogcserver.model.band_files import BandStack
from ogcserver.model.errors import SourceUnavailable
from ogcserver.storage.readers.band_stack import mtl_file

CHUNK = 1 << 20


def scene_archive(stack: BandStack) -> tuple[BinaryIO, int]:
    """The zip of the stack's band files and its MTL, open for reading at its start, and its size."""
    members = [*stack.files, *filter(None, [mtl_file(stack)])]
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - the caller streams and closes it
    try:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED, allowZip64=True) as zipped:
            for path in members:
                with open(path, "rb") as source, zipped.open(os.path.basename(path), "w", force_zip64=True) as entry:
                    shutil.copyfileobj(source, entry, CHUNK)
        size = archive.tell()
        archive.seek(0)
    except OSError as exc:
        archive.close()
        raise SourceUnavailable(f"scene '{stack.name}' cannot be read") from exc
    return archive, size
