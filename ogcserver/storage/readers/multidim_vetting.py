"""What a netCDF, HDF5 or Zarr source must be before xarray opens it (the rules of ``vetting.py``
for multidimensional formats): a local path, the format its extension names confirmed by its
first bytes (a Zarr store by its metadata), and for Zarr nothing that makes decoding run code or
read outside the store: no symbolic links, no object arrays, and only the usual codecs
(numcodecs' ``pickle`` codec would unpickle chunk bytes, which runs code).
"""

from __future__ import annotations

import json
import os

from ogcserver.model.errors import SourceRefused
from ogcserver.storage.readers.vetting import MULTIDIM_EXTENSIONS, NOT_A_FILE, ZARR, SourceFormat, extension, identify

HEAD_BYTES = 8
ZARR_METADATA = (".zgroup", ".zarray", ".zmetadata", "zarr.json")
ARRAY_METADATA = (".zarray", "zarr.json")
# codecs that only transform bytes (compression, shuffling, scaling, checksums, sharding)
SAFE_CODECS = frozenset({
    "blosc", "zlib", "gzip", "zstd", "lz4", "bz2", "lzma", "shuffle", "bitround", "delta", "fixedscaleoffset",
    "quantize", "packbits", "crc32", "crc32c", "adler32", "fletcher32", "bytes", "endian", "transpose",
    "sharding_indexed", "astype", "categorize", "vlen-utf8", "vlen-bytes", "numcodecs.zlib", "numcodecs.blosc",
    "numcodecs.zstd", "numcodecs.gzip", "numcodecs.lz4", "numcodecs.bz2", "numcodecs.shuffle",
    "numcodecs.delta", "numcodecs.fixedscaleoffset", "numcodecs.quantize", "numcodecs.bitround",
})
MAX_STORE_ENTRIES = 2_000_000  # files of a Zarr store walked to find links; beyond, refused
MAX_METADATA_BYTES = 4 * 2**20


def is_multidim(path: str) -> bool:
    """Whether the path names a netCDF, HDF5 or Zarr source (by its extension)."""
    return extension(path.rstrip("/")) in MULTIDIM_EXTENSIONS


def _name(path: str) -> str:
    return os.path.basename(path.rstrip("/")) or path


def check_multidim_source(path: str) -> SourceFormat:
    """The format of a multidimensional source, or SourceRefused saying why it is not accepted."""
    if NOT_A_FILE.match(path):
        raise SourceRefused(_name(path), "network, virtual file system and GDAL connection paths are not "
                                         "accepted: sources are local files")
    ext = extension(path.rstrip("/"))
    expected = MULTIDIM_EXTENSIONS.get(ext)
    if expected is None:
        raise SourceRefused(_name(path), f"'{ext or 'no extension'}' is not a multidimensional format "
                                         f"({', '.join(sorted(MULTIDIM_EXTENSIONS))})")
    if expected is ZARR:
        _check_zarr(path)
        return expected
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise SourceRefused(_name(path), f"cannot be read ({exc.strerror})") from None
    if not head.startswith(expected.magic):
        found = identify(head)
        content = found.name if found is not None else "not a format ogcserver recognises"
        raise SourceRefused(_name(path), f"its content is {content}, not the {expected.name} its extension "
                                         f"'{ext}' says")
    return expected


def _check_zarr(path: str) -> None:
    if not os.path.isdir(path) or os.path.islink(path):
        raise SourceRefused(_name(path), "a Zarr store must be a directory (object storage is not supported)")
    if not any(os.path.isfile(os.path.join(path, m)) for m in ZARR_METADATA):
        raise SourceRefused(_name(path), "its content is not a Zarr store (no .zgroup, .zarray or zarr.json)")
    entries = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            entries += 1
            full = os.path.join(root, name)
            if os.path.islink(full):
                raise SourceRefused(_name(path), "a Zarr store with symbolic links is not accepted (a link "
                                                 "could make its chunks read any file)")
            if name in ARRAY_METADATA:
                _check_array_metadata(full, path)
        if entries > MAX_STORE_ENTRIES:
            raise SourceRefused(_name(path), f"a Zarr store of more than {MAX_STORE_ENTRIES} files is not accepted")


def _check_array_metadata(metadata: str, store: str) -> None:
    try:
        with open(metadata, "rb") as handle:
            document = json.loads(handle.read(MAX_METADATA_BYTES + 1)[:MAX_METADATA_BYTES])
    except (OSError, ValueError):
        raise SourceRefused(_name(store), f"its metadata '{os.path.basename(metadata)}' is not readable JSON") from None
    if not isinstance(document, dict):
        return
    dtype = str(document.get("dtype", document.get("data_type", "")))
    if "O" in dtype.lstrip("<>|=") and dtype.lstrip("<>|=").startswith("O"):
        raise SourceRefused(_name(store), "Zarr arrays of Python objects are not accepted")
    for codec in _codecs(document):
        if codec.lower() not in SAFE_CODECS:
            raise SourceRefused(_name(store), f"the Zarr codec '{codec[:40]}' is not accepted "
                                              f"(accepted: the usual compressors and filters)")


def _codecs(document: dict) -> list[str]:
    """Codec ids of a v2 ``.zarray`` (compressor, filters) or names of a v3 ``zarr.json`` (codecs,
    nested in sharding)."""
    found: list[str] = []
    pending = [document.get("compressor"), *(document.get("filters") or []), *(document.get("codecs") or [])]
    while pending:
        codec = pending.pop()
        if not isinstance(codec, dict):
            continue
        found.append(str(codec.get("id", codec.get("name", ""))))
        configuration = codec.get("configuration")
        if isinstance(configuration, dict):
            pending.extend(c for c in (configuration.get("codecs") or []) + (configuration.get("index_codecs") or []))
    return found
