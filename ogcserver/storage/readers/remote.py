"""GDAL's side of object storage: per-bucket options, and one object let through at a time.

GDAL is told the endpoint and credentials of each configured bucket as path-specific options
(``VSISetPathSpecificOption`` on ``/vsis3/bucket/``), set once per process: nothing is written
into the process environment, and no request changes them. The network stays closed otherwise
(``gdal_options.py`` sets ``CPL_VSIL_CURL_ALLOWED_FILENAME`` to a name no URL equals); to open a
vetted object, this thread alone lets GDAL reach exactly that object's name while it opens or
reads its header. Reads through an open handle need no further leave, and nothing the object
names (a side-car ``.ovr``, a VRT source) is let through.

rasterio does not expose these calls, so they go to the GDAL library rasterio itself loaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading
from collections.abc import Iterator

import rasterio

from ogcserver.storage.s3 import S3Endpoint, gdal_options, gdal_path

ALLOWED = "CPL_VSIL_CURL_ALLOWED_FILENAME"
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def _gdal() -> ctypes.CDLL:
    """rasterio's GDAL: the bundled library of a wheel, else the system one it links to."""
    global _lib
    with _lock:
        if _lib is None:
            bundled = sorted(glob.glob(os.path.join(os.path.dirname(rasterio.__file__) + ".libs", "libgdal*.so*")))
            lib = ctypes.CDLL(bundled[0] if bundled else "libgdal.so")
            for name, args, result in (
                ("VSISetPathSpecificOption", [ctypes.c_char_p] * 3, None),
                ("CPLSetThreadLocalConfigOption", [ctypes.c_char_p] * 2, None),
                ("CPLSetConfigOption", [ctypes.c_char_p] * 2, None),
                ("CPLGetThreadLocalConfigOption", [ctypes.c_char_p] * 2, ctypes.c_char_p),
                ("VSIFOpenL", [ctypes.c_char_p] * 2, ctypes.c_void_p),
                ("VSIFReadL", [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p], ctypes.c_size_t),
                ("VSIFCloseL", [ctypes.c_void_p], ctypes.c_int),
                ("VSIGetFileMetadata", [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p],
                 ctypes.POINTER(ctypes.c_char_p)),
                ("CSLDestroy", [ctypes.POINTER(ctypes.c_char_p)], None),
                ("VSICurlPartialClearCache", [ctypes.c_char_p], None),
                ("VSICurlClearCache", [], None),
            ):
                function = getattr(lib, name)
                function.argtypes, function.restype = args, result
            _lib = lib
        return _lib


def configure_buckets(endpoint: S3Endpoint, buckets: tuple[str, ...]) -> None:
    """Give GDAL the endpoint and credentials of each bucket (process-wide, by path prefix; GDAL
    looks credentials up by the bucket's path without a trailing slash), and the size of its cache
    of ranges read (process-wide, sized when the first object is read)."""
    lib = _gdal()
    lib.CPLSetConfigOption(b"CPL_VSIL_CURL_CACHE_SIZE", str(endpoint.read_cache_bytes).encode())
    for bucket in buckets:
        for key, value in gdal_options(endpoint).items():
            lib.VSISetPathSpecificOption(f"/vsis3/{bucket}".encode(), key.encode(), value.encode())


@contextlib.contextmanager
def reachable(path: str) -> Iterator[str]:
    """Let this thread's GDAL reach the one object ``path`` names (``s3://`` or its ``/vsis3/``
    name, for vetted paths only); yields its GDAL name."""
    name = gdal_path(path)
    if not name.startswith("/vsis3/"):
        yield path
        return
    lib = _gdal()
    before = lib.CPLGetThreadLocalConfigOption(ALLOWED.encode(), None)
    lib.CPLSetThreadLocalConfigOption(ALLOWED.encode(), name.encode())
    try:
        yield name
    finally:
        lib.CPLSetThreadLocalConfigOption(ALLOWED.encode(), before)


def read_head(path: str, size: int) -> bytes:
    """The object's first ``size`` bytes (one range request); OSError when it cannot be read."""
    lib = _gdal()
    with reachable(path) as name:
        handle = lib.VSIFOpenL(name.encode(), b"rb")
        if not handle:
            raise OSError(2, "no such object, or it cannot be reached")
        try:
            buffer = ctypes.create_string_buffer(size)
            count = lib.VSIFReadL(buffer, 1, size, handle)
            return buffer.raw[:count]
        finally:
            lib.VSIFCloseL(handle)


def size(path: str) -> int:
    """Bytes of an object as GDAL sees it (a file that changed is forgotten first, see ``forget``)."""
    lib = _gdal()
    with reachable(path) as name:
        entries = lib.VSIGetFileMetadata(name.encode(), b"HEADERS", None)
        if not entries:
            raise OSError(2, "no such object, or it cannot be reached")
        headers: dict[str, str] = {}
        try:
            i = 0
            while entries[i] is not None:
                key, _, value = entries[i].decode("latin-1").partition("=")
                headers[key.lower()] = value
                i += 1
        finally:
            lib.CSLDestroy(entries)
    # GDAL answers from a first range request: the whole size is after the '/' of Content-Range
    whole = headers.get("content-range", "").rpartition("/")[2] or headers.get("content-length", "")
    try:
        return int(whole)
    except ValueError:
        raise OSError(5, "the object store gave no size") from None


def forget(path: str) -> None:
    """Drop GDAL's cached blocks and size of an object that changed."""
    name = gdal_path(path)
    if name != path:
        _gdal().VSICurlPartialClearCache(name.encode())


def forget_all() -> None:
    """Drop GDAL's cached blocks and sizes of every object."""
    if _lib is not None:  # nothing was ever read from object storage otherwise
        _lib.VSICurlClearCache()
