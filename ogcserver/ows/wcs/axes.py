"""CRS axes as WCS names them: labels in EPSG order (E/N, Lat/Long, ...), and CRS identifiers.

WCS 1.1 and 2.0 write coordinates in the axis order the EPSG database gives (EPSG:4326 is
latitude first) and 2.0 names each axis; inside ogcserver every box is x/y, so the swaps and
the label lookups happen here, at the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

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


@lru_cache(maxsize=256)
def crs_axes(code: str) -> tuple[Axis, Axis]:
    """The two axes of a CRS (``EPSG:n`` or ``CRS:84``) in the order its definition gives."""
    crs = crs_object("OGC:CRS84" if code == "CRS:84" else code)
    info = crs.axis_info
    geographic = crs.is_geographic
    axes = []
    for i, axis in enumerate(info[:2]):
        xy = 1 if axis.direction.lower() in ("north", "south") else 0
        label = axis.abbrev if axis.abbrev and NAME.match(axis.abbrev) else "xy"[xy]
        if geographic:
            label = "Lat" if xy == 1 else "Long"  # the OGC CRS dictionary's abbreviations
        names = {label.lower(), axis.name.lower().replace(" ", "")}
        if geographic:
            names |= {"lat", "latitude"} if xy == 1 else {"long", "lon", "longitude"}
        else:
            names |= {"northing", "n"} if xy == 1 and axis.name.lower() == "northing" else set()
            names |= {"easting", "e"} if xy == 0 and axis.name.lower() == "easting" else set()
        unit = UNITS.get(axis.unit_name, axis.unit_name.replace(" ", "_") or "unknown")
        axes.append(Axis(label, xy, unit, frozenset(names)))
    if len(axes) != 2 or axes[0].xy == axes[1].xy:
        axes = [Axis("x", 0, axes[0].uom if axes else "unknown", frozenset({"x"})),
                Axis("y", 1, axes[0].uom if axes else "unknown", frozenset({"y"}))]
    return axes[0], axes[1]


def axis_named(code: str, label: str) -> Axis:
    """The axis a request names, or InvalidAxisLabel."""
    wanted = label.strip().lower()
    for axis in crs_axes(code):
        if wanted in axis.aliases:
            return axis
    names = " and ".join(a.label for a in crs_axes(code))
    raise OwsError("InvalidAxisLabel", f"axis '{label[:30]}' is not an axis of {code}; use {names}", "SUBSET", status=404)


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
