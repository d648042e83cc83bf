"""CRS identifiers as OGC requests write them, checked by pattern before PROJ sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ogcserver.model.errors import UnsupportedCrs
from ogcserver.model.geo import axis_is_yx, crs_object

PATTERNS = [
    re.compile(r"^EPSG:(\d{1,6})$", re.I | re.A),
    re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d{1,6})$", re.I | re.A),
    re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d{1,6})$", re.I | re.A),
]
CRS84 = re.compile(r"^(CRS:84|urn:ogc:def:crs:OGC:1\.3:CRS84|https?://www\.opengis\.net/def/crs/OGC/1\.3/CRS84)$", re.I)


@dataclass(frozen=True)
class RequestCrs:
    """A parsed request CRS: the internal identifier and whether the wire order is y,x."""

    code: str       # as advertised: "EPSG:4326", "CRS:84"
    internal: str   # what the core uses: "EPSG:4326" for both
    yx: bool        # EPSG axis order is northing/latitude first


@lru_cache(maxsize=512)
def parse_crs(text: str) -> RequestCrs:
    value = text.strip()
    if CRS84.match(value):
        return RequestCrs("CRS:84", "EPSG:4326", False)
    for pattern in PATTERNS:
        m = pattern.match(value)
        if m:
            code = f"EPSG:{int(m.group(1))}"
            try:
                crs = crs_object(code)
            except UnsupportedCrs:
                raise UnsupportedCrs(code) from None
            if not (crs.is_projected or crs.is_geographic) or len(crs.axis_info) != 2:
                raise UnsupportedCrs(code)
            return RequestCrs(code, code, axis_is_yx(code))
    raise UnsupportedCrs(value[:80])
