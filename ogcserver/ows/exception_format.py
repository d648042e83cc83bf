"""The one place that chooses how an error is answered: by the protocol (and version) of the
request as parsed, each with its own table of codes and its own report (after MapProxy, whose
parsed requests carry their exception handler)."""

from __future__ import annotations

from ogcserver.ows.catalog.errors import CATALOG_FORMAT
from ogcserver.ows.error_table import COMMON, ExceptionFormat
from ogcserver.ows.exceptions import ows_exception_report
from ogcserver.ows.kml.errors import KML_FORMAT
from ogcserver.ows.processes.errors import PROCESSES_FORMAT
from ogcserver.ows.wcs import errors as wcs
from ogcserver.ows.wms import errors as wms
from ogcserver.ows.wmts.errors import WMTS_FORMAT, XYZ_FORMAT

OWS = ExceptionFormat(COMMON, ows_exception_report)  # a request that names no service we know

BY_PROTOCOL: dict[str, tuple[dict[str, ExceptionFormat], str]] = {  # each version's format, and the default
    "WMS": (wms.FORMATS, "1.3.0"),
    "WCS": (wcs.FORMATS, "2.0.1"),
    "WMTS": ({"1.0.0": WMTS_FORMAT}, "1.0.0"),
    "XYZ": ({"": XYZ_FORMAT}, ""),
    "KML": ({"": KML_FORMAT}, ""),
    "CATALOG": ({"": CATALOG_FORMAT}, ""),
    "PROCESSES": ({"": PROCESSES_FORMAT}, ""),
}


def exception_format(protocol: str | None, version: str | None = None) -> ExceptionFormat:
    """How a request of this protocol and version answers errors; an unknown version answers in
    the protocol's newest format, an unknown protocol with an OWS Common report."""
    if protocol is None or protocol.upper() not in BY_PROTOCOL:
        return OWS
    formats, newest = BY_PROTOCOL[protocol.upper()]
    return formats.get(version or newest, formats[newest])
