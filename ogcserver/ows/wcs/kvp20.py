"""WCS 2.0.1 GetCoverage in KVP (OGC 09-147r3 and the extensions' KVP bindings), read as written."""

from __future__ import annotations

import re

from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.items import parse_item_query, parse_rendering_rule
from ogcserver.ows.kvp import Params
from ogcserver.ows.wcs.common import coverage_ids, processing
from ogcserver.ows.wcs.request20 import Request20, Scaling, Subset

SUBSET = re.compile(r"^\s*([^\s,()]+)\s*(?:,\s*([^\s()]+)\s*)?\(([^()]*)\)\s*$")
ITEM = re.compile(r"([^\s,()]+)\s*\(([^()]*)\)")
ITEMS = re.compile(r"^\s*[^\s,()]+\s*\([^()]*\)\s*(,\s*[^\s,()]+\s*\([^()]*\)\s*)*$")
SCALINGS = {"SCALEFACTOR": "factor", "SCALEAXES": "axes", "SCALESIZE": "size", "SCALEEXTENT": "extent"}


def invalid_subsetting(message: str) -> OwsError:
    return OwsError("InvalidSubsetting", message, "SUBSET", status=404)


def _subset(raw: str) -> Subset:
    """``axis(low,high)``, ``axis(point)`` or ``axis,crs(...)``; ``*`` leaves a side open."""
    m = SUBSET.match(raw)
    if m is None:
        raise invalid_subsetting("SUBSET must read axis(low,high) or axis(point)")
    axis, crs, body = m.groups()
    values = [v.strip().strip('"') for v in body.split(",")]
    if len(values) == 1:
        return Subset(axis, crs, values[0], values[0], True)
    if len(values) != 2:
        raise invalid_subsetting("a trim has a low and a high bound")
    low, high = (None if v == "*" else v for v in values)
    return Subset(axis, crs, low, high, False)


def _scaling(params: Params) -> Scaling | None:
    given = [name for name in SCALINGS if params.get(name)]
    if len(given) > 1:
        raise OwsError("InvalidParameterValue", "give one of SCALEFACTOR, SCALEAXES, SCALESIZE, SCALEEXTENT", given[1])
    if not given:
        return None
    name, raw = given[0], params.get(given[0]) or ""
    if name == "SCALEFACTOR":
        return Scaling("factor", (("", raw),))
    if not ITEMS.match(raw):
        code = "InvalidExtent" if name == "SCALEEXTENT" else "InvalidScaleFactor"
        raise OwsError(code, f"{name} must read axis(value),axis(value)", name, status=404)
    items = ITEM.findall(raw)
    if name == "SCALEEXTENT":  # axis(low:high)
        return Scaling("extent", tuple((axis, *re.split(r"[:,]", value, maxsplit=1)) for axis, value in items))
    return Scaling(SCALINGS[name], tuple(items))


def _range_subset(raw: str | None) -> list[tuple[str, str | None]] | None:
    if raw is None:
        return None
    return [(item.split(":", 1)[0], item.split(":", 1)[1] if ":" in item else None) for item in raw.split(",")]


def kvp_request(params: Params) -> Request20:
    per_axis = [p.split(",", 1) for p in (params.get("INTERPOLATIONPERAXIS") or "").split(";") if p.strip()]
    if any(len(p) != 2 for p in per_axis):
        raise OwsError("InvalidParameterValue", "INTERPOLATIONPERAXIS must read axis,method", "INTERPOLATIONPERAXIS")
    return Request20(
        items=parse_item_query(params),
        processing=processing(params),
        rendering=parse_rendering_rule(params.get("RENDERINGRULE")),
        coverage_ids=coverage_ids(params.require("COVERAGEID"), "COVERAGEID"),
        subsets=[_subset(raw) for raw in params.values("SUBSET")],
        format=params.get("FORMAT"),
        media_type=params.get("MEDIATYPE"),
        subsetting_crs=params.get("SUBSETTINGCRS"),
        output_crs=params.get("OUTPUTCRS"),
        scaling=_scaling(params),
        interpolation=params.get("INTERPOLATION"),
        interpolation_per_axis=[(a.strip(), m.strip()) for a, m in per_axis],
        range_subset=_range_subset(params.get("RANGESUBSET")),
        geotiff={name.split(":", 1)[1].lower(): params.get(name) or ""
                 for name in params.names() if name.startswith("GEOTIFF:")},
    )
