"""GDAL's process-wide options: the safety ones every entry point sets before GDAL opens a file.

They are environment variables, so worker processes (forked or spawned) inherit them, and GDAL
reads them at each use. The safety options are forced, whatever the environment says: a VRT must
not run Python or read raw bytes of other files, and no source may reach the network (sources are
local files, or objects of the configured buckets; see ``vetting.py``, which refuses anything else
before GDAL sees it, and these options stand behind it: ``remote.py`` lets one thread reach one
vetted object while it opens it). Tuning options keep an operator's own value.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# A name no URL can equal: /vsicurl/ and every network file system built on it (/vsis3/,
# /vsigs/, /vsiaz/, http:// paths...) open only the one file this names, so none at all.
NO_NETWORK = "/ogcserver/network-sources-are-off"

SAFETY = {
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",  # honoured from GDAL 3.12; the VRT check refuses it before
    "CPL_VSIL_CURL_ALLOWED_FILENAME": NO_NETWORK,
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.jp2",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_NETRC": "NO",
}
# Settings that would loosen the above if the environment carried them.
LOOSENING = (
    "GDAL_VRT_PYTHON_TRUSTED_MODULES",
    "GDAL_VRT_RAWRASTERBAND_ALLOWED_SOURCE",
    "GDAL_HTTP_HEADER_FILE",
    "GDAL_HTTP_HEADERS",
    "GDAL_HTTP_COOKIEFILE",
    "GDAL_HTTP_UNSAFESSL",
)
TUNING = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing (and no side-car files) per open
    "GDAL_HTTP_TIMEOUT": "10",
}


def apply_gdal_options(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set GDAL's safety options (forced) and tuning defaults (an operator's value wins)."""
    for key in LOOSENING:
        environ.pop(key, None)
    environ.update(SAFETY)
    for key, value in TUNING.items():
        environ.setdefault(key, value)
