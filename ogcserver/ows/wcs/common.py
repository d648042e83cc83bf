"""What every WCS version shares: versions, formats, interpolation names, numbers and band names."""

from __future__ import annotations

import math
import re

from ogcserver.core.catalog import Layer
from ogcserver.model.catalog import LayerInfo
from ogcserver.model.coverage import CoverageFormat
from ogcserver.model.formats import Resampling
from ogcserver.model.labels import unique_names
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import Params, whole_number

VERSIONS = ("1.0.0", "1.1.1", "2.0.1")
ALIASES = {"1.0.0": "1.0.0", "1.1.0": "1.1.1", "1.1.1": "1.1.1", "1.1.2": "1.1.1", "2.0.0": "2.0.1", "2.0.1": "2.0.1"}

FORMATS = {
    "image/tiff": CoverageFormat.GEOTIFF,
    "image/geotiff": CoverageFormat.GEOTIFF,
    "image/tiff;application=geotiff": CoverageFormat.GEOTIFF,
    "image/tiff;subtype=geotiff": CoverageFormat.GEOTIFF,
    "geotiff": CoverageFormat.GEOTIFF,
    "gtiff": CoverageFormat.GEOTIFF,  # GDAL's driver name, as MapServer and the bench write it
    "tiff": CoverageFormat.GEOTIFF,
    "application/netcdf": CoverageFormat.NETCDF,
    "application/x-netcdf": CoverageFormat.NETCDF,
    "netcdf": CoverageFormat.NETCDF,
    "image/png": CoverageFormat.PNG,
    "png": CoverageFormat.PNG,
    "image/jpeg": CoverageFormat.JPEG,
    "jpeg": CoverageFormat.JPEG,
}
INTERPOLATION_URI = "http://www.opengis.net/def/interpolation/OGC/1/"
# Each version's names (1.0.0, 1.1, 2.0 URIs), and the short ones any version accepts
INTERPOLATIONS = {
    "nearest neighbor": Resampling.NEAREST, "bilinear": Resampling.BILINEAR, "bicubic": Resampling.CUBIC,
    "nearest": Resampling.NEAREST, "linear": Resampling.BILINEAR, "cubic": Resampling.CUBIC,
    **{(INTERPOLATION_URI + name).lower(): method for name, method in (
        ("nearest-neighbour", Resampling.NEAREST), ("nearest-neighbor", Resampling.NEAREST),
        ("linear", Resampling.BILINEAR), ("cubic", Resampling.CUBIC),
    )},
}
LISTED_FIELDS = 20  # field names an error message lists
# per layer description (by identity): its field names and their band numbers
_FIELDS: dict[int, tuple[LayerInfo, tuple[tuple[str, ...], dict[str, int]]]] = {}
NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$", re.A)
NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def negotiate(params: Params) -> str:
    """The version of a GetCapabilities answer (OWS Common 7.3.2; WCS 1.0.0 clause 6.2.4).

    ACCEPTVERSIONS (1.1 and 2.0): the first one listed that is offered, else
    VersionNegotiationFailed. VERSION (1.0.0 style): the highest offered not above it.
    """
    accept = params.get("ACCEPTVERSIONS")
    if accept is not None and accept.strip():
        for wanted in accept.split(","):
            if wanted.strip() in ALIASES:
                return ALIASES[wanted.strip()]
        raise OwsError("VersionNegotiationFailed", f"none of the versions {accept[:40]} is offered", "AcceptVersions")
    raw = (params.get("VERSION") or "").strip()
    if not raw:
        return VERSIONS[-1]
    if raw in ALIASES:
        return ALIASES[raw]
    try:
        wanted = tuple(int(p) for p in raw.split("."))
    except ValueError:
        return VERSIONS[-1]
    lower = [v for v in VERSIONS if tuple(int(p) for p in v.split(".")) <= wanted]
    return lower[-1] if lower else VERSIONS[0]


def operation_version(params: Params) -> str:
    """The version of any other request: required, and one of the offered ones."""
    raw = params.require("VERSION").strip()
    if raw not in ALIASES:
        message = f"VERSION {raw[:20]} is not offered; use 1.0.0, 1.1.1 or 2.0.1"
        raise OwsError("InvalidParameterValue", message, "VERSION")
    return ALIASES[raw]


def coverage_format(raw: str | None, locator: str, code: str = "InvalidFormat") -> CoverageFormat:
    value = (raw or "").strip().lower().replace(" ", "")
    fmt = FORMATS.get(value)
    if fmt is None:
        message = (f"format '{(raw or '')[:60]}' is not offered; use image/tiff, image/png or image/jpeg "
                   "(application/netcdf for multidimensional coverages)")
        raise OwsError(code, message, locator)
    return fmt


def formats_for(layer: Layer) -> tuple[str, ...]:
    """The media types a coverage can be encoded in without changing its values."""
    if layer.info.dimensions:
        return ("image/tiff", "application/netcdf")
    if layer.info.dtype == "uint8" and layer.info.band_count in (1, 3):
        return ("image/tiff", "image/png", "image/jpeg")
    if layer.info.dtype == "uint8" and layer.info.band_count in (2, 4):
        return ("image/tiff", "image/png")
    return ("image/tiff",)


def interpolation(raw: str | None, locator: str, code: str, status: int | None = None) -> Resampling:
    if raw is None or not raw.strip():
        return Resampling.NEAREST
    method = INTERPOLATIONS.get(raw.strip().lower())
    if method is None:
        raise OwsError(code, f"interpolation '{raw.strip()[:80]}' is not supported: nearest, linear or cubic",
                       locator, status)
    return method


def number(text: str, locator: str, code: str = "InvalidParameterValue") -> float:
    if not NUMBER.match(text):
        raise OwsError(code, f"'{text.strip()[:40]}' is not a number", locator)
    value = float(text)
    if not math.isfinite(value):
        raise OwsError(code, f"'{text.strip()[:40]}' is not a finite number", locator)
    return value


def integer(text: str, locator: str, minimum: int = 1) -> int:
    value = whole_number(text)
    if value is None or value < minimum:
        raise OwsError("InvalidParameterValue", f"{locator} must be a whole number of at least {minimum}", locator)
    return value


def field_names(layer: Layer) -> tuple[str, ...]:
    """Band names usable as WCS field identifiers (NCNames), unique."""
    return _fields(layer.info)[0]


def _fields(info: LayerInfo) -> tuple[tuple[str, ...], dict[str, int]]:
    """A layer's field names and their band numbers, computed once per layer description: a
    request naming many fields would otherwise rebuild them per name (65,535 bands: seconds)."""
    cached = _FIELDS.get(id(info))
    if cached is not None and cached[0] is info:
        return cached[1]
    names = unique_names(
        name if name and NCNAME.match(name) else f"band_{i}" for i, name in enumerate(info.band_names, start=1)
    )
    fields = names, {name: i for i, name in enumerate(names, start=1)}
    if len(_FIELDS) >= 64:
        _FIELDS.clear()
    _FIELDS[id(info)] = (info, fields)
    return fields


def band_index(
    layer: Layer, token: str, locator: str, code: str = "InvalidParameterValue", status: int | None = None
) -> int:
    """A band by field name or by number (counted from 1)."""
    value = token.strip()
    names, numbers = _fields(layer.info)
    if value in numbers:
        return numbers[value]
    index = whole_number(value)
    if index is not None and 1 <= index <= len(names):
        return index
    listed = ", ".join(names[:LISTED_FIELDS]) + (f", ... ({len(names)} bands)" if len(names) > LISTED_FIELDS else "")
    raise OwsError(code, f"'{value[:40]}' is not a band of coverage '{layer.info.name}': {listed}", locator, status)


def coverage_ids(raw: str, locator: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(","))
    if not names or any(not n for n in names):
        raise OwsError("InvalidParameterValue", f"{locator} lists an empty name", locator)
    return names


def processing(params: Params) -> str:
    """PROCESSING=<template>: one of the layer's processing templates, as its values (vendor)."""
    name = (params.get("PROCESSING") or "").strip()
    if name and not re.match(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$", name):
        raise OwsError("InvalidParameterValue", "PROCESSING is not a template name", "PROCESSING")
    return name
