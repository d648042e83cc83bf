"""CRS axes as WCS names them: labels in EPSG order (E/N, Lat/Long, ...), and CRS identifiers.

WCS 1.1 and 2.0 write coordinates in the axis order the EPSG database gives (EPSG:4326 is
latitude first) and 2.0 names each axis; inside ogcserver every box is x/y, so the swaps and
the label lookups happen here, at the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ogcserver.model.errors import UnsupportedCrs
from ogcserver.model.geo import crs_object
from ogcserver.ows.crs import RequestCrs, parse_crs
from ogcserver.ows.exceptions import OwsError

UNITS = {"metre": "m", "meter": "m", "degree": "deg", "foot": "ft", "US survey foot": "ftUS"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Axis:
    label: str        # as DescribeCoverage writes it and SUBSET=label(...) names it
    xy: int           # 0: the internal x (easting, longitude), 1: y
    uom: str
    aliases: frozenset[str]  # lower-case names also accepted in requests


def _axis(axis: Any, geographic: bool) -> Axis:
    xy = 1 if axis.direction.lower() in ("north", "south") else 0
    if geographic:  # the OGC CRS dictionary's abbreviations
        label, names = ("Lat", {"lat", "latitude"}) if xy else ("Long", {"long", "lon", "longitude"})
    else:
        label = axis.abbrev if NAME.match(axis.abbrev or "") else "xy"[xy]
        names = {label.lower()}
        if axis.name.lower() in ("easting", "northing"):
            names |= {axis.name.lower(), axis.name[0].lower()}
    names.add(axis.name.lower().replace(" ", ""))
    return Axis(label, xy, UNITS.get(axis.unit_name, axis.unit_name.replace(" ", "_")), frozenset(names))


@lru_cache(maxsize=256)
def crs_axes(code: str) -> tuple[Axis, Axis]:
    """The two axes of a CRS (``EPSG:n`` or ``CRS:84``, checked by parse_crs) in its own order."""
    crs = crs_object("OGC:CRS84" if code == "CRS:84" else code)
    first, second = (_axis(a, crs.is_geographic) for a in crs.axis_info[:2])
    return first, second


def axis_named(code: str, label: str) -> Axis:
    """The axis a request names, or InvalidAxisLabel."""
    wanted = label.strip().lower()
    for axis in crs_axes(code):
        if wanted in axis.aliases:
            return axis
    names = " and ".join(a.label for a in crs_axes(code))
    message = f"axis '{label[:30]}' is not an axis of {code}; use {names}"
    raise OwsError("InvalidAxisLabel", message, "SUBSET", status=404)


def crs_uri(code: str) -> str:
    if code == "CRS:84":
        return "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    return "http://www.opengis.net/def/crs/EPSG/0/" + code.split(":", 1)[1]


def crs_urn(code: str) -> str:
    if code == "CRS:84":
        return "urn:ogc:def:crs:OGC:1.3:CRS84"
    return "urn:ogc:def:crs:EPSG::" + code.split(":", 1)[1]


def request_crs(text: str, locator: str, code: str = "InvalidParameterValue") -> RequestCrs:
    """A CRS named in a request (EPSG:n, URN, URI, CRS:84)."""
    try:
        return parse_crs(text)
    except UnsupportedCrs:
        raise OwsError(code, f"CRS '{text.strip()[:80]}' is not supported", locator) from None
