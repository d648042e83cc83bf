"""The ncWMS vendor parameters of a colour scale, shared by WMS and WMTS requests: parsed into
the core's typed ``ColourScale`` (the core never sees these names).

COLORSCALERANGE=min,max|auto|default, LOGSCALE=true|false, NUMCOLORBANDS=1..255,
ABOVEMAXCOLOR / BELOWMINCOLOR = 0xRRGGBB | #RRGGBB | extend | transparent.
"""

from __future__ import annotations

import math
import re

from ogcserver.core.colour_scale import SCALAR, scalar_style_name
from ogcserver.core.query import ColourScale
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import Params, whole_number

NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,3})?\s*$", re.A)
COLOUR = re.compile(r"^(0x|#)([0-9a-fA-F]{6})$")
MAX_COLOR_BANDS = 255
PARAMETERS = ("COLORSCALERANGE", "LOGSCALE", "NUMCOLORBANDS", "ABOVEMAXCOLOR", "BELOWMINCOLOR")


# Palette names of ncWMS 2 (default-scalar/<name>) and of THREDDS's ncWMS 1 (boxfill/<name>)
# that clients hard-code, and the ramp each stands for here.
CLIENT_PALETTES = {
    "default-scalar/psu-viridis": "viridis", "default-scalar/psu-plasma": "plasma",
    "default-scalar/psu-inferno": "inferno", "default-scalar/div-RdBu": "rdbu", "default-scalar/div-RdYlGn": "rdylgn",
    "default-scalar/seq-Blues": "blues", "default-scalar/seq-Greys": "greys", "default-scalar/x-Rainbow": "rainbow",
    "boxfill/rainbow": "rainbow", "boxfill/greyscale": "greys", "boxfill/redblue": "rdbu",
}


def scalar_style(style: str) -> str:
    """A style as the core names it: the ncWMS and THREDDS palette names clients send, and
    ncWMS's own spelling ``default-scalar/<ramp>``, become the ramp's colour-scale style
    (``default-scalar.<ramp>``); any other name is kept."""
    ramp = CLIENT_PALETTES.get(style)
    if ramp:
        return scalar_style_name(ramp)
    head, slash, tail = style.partition("/")
    return scalar_style_name(tail) if slash and head == SCALAR else style


def _invalid(name: str, message: str) -> OwsError:
    return OwsError("InvalidParameterValue", message, name)


def _range(raw: str | None) -> tuple[tuple[float, float] | None, bool]:
    """(min, max) or None for the default range; and whether to fit each view (``auto``)."""
    text = (raw or "").strip()
    if text.lower() in ("", "default"):
        return None, False
    if text.lower() == "auto":
        return None, True
    parts = text.split(",")
    if len(parts) != 2 or not all(NUMBER.match(p) for p in parts):
        raise _invalid("COLORSCALERANGE", "COLORSCALERANGE must be 'min,max' (two numbers), 'auto' or 'default'")
    low, high = float(parts[0]), float(parts[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise _invalid("COLORSCALERANGE", "COLORSCALERANGE values must be finite")
    if not high > low:
        raise _invalid("COLORSCALERANGE", "COLORSCALERANGE minimum must be less than its maximum")
    return (low, high), False


def _color_bands(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    value = whole_number(raw)
    if value is None or not 1 <= value <= MAX_COLOR_BANDS:
        raise _invalid("NUMCOLORBANDS", f"NUMCOLORBANDS must be a whole number from 1 to {MAX_COLOR_BANDS}")
    return value


def _out_of_range(params: Params, name: str) -> str | None:
    raw = (params.get(name) or "").strip()
    if raw == "":
        return None
    if raw.lower() in ("extend", "transparent"):
        return raw.lower()
    m = COLOUR.match(raw)
    if not m:
        raise _invalid(name, f"{name} must be a colour 0xRRGGBB, 'extend' or 'transparent'")
    return f"#{m.group(2).lower()}"


def parse_colour_scale(params: Params) -> ColourScale:
    """The request's colour scale; each parameter left out keeps the style's or layer's own."""
    value_range, fit_view = _range(params.get("COLORSCALERANGE"))
    log = params.boolean("LOGSCALE") if (params.get("LOGSCALE") or "").strip() else None
    if log and value_range is not None and value_range[0] <= 0:
        raise _invalid("COLORSCALERANGE", "LOGSCALE=true needs a COLORSCALERANGE above zero")
    return ColourScale(value_range, fit_view, log, _color_bands(params.get("NUMCOLORBANDS")),
                       _out_of_range(params, "ABOVEMAXCOLOR"), _out_of_range(params, "BELOWMINCOLOR"))
