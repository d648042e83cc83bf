"""WMTS 1.0.0 words for domain errors (clause 8.2.5, table 22), and those of the XYZ tile and
TileJSON resources, which name the parts of their path instead of KVP parameters."""

from __future__ import annotations

from functools import partial

from ogcserver.model import errors
from ogcserver.ows.error_table import COMMON, ExceptionFormat, Rule, by_axis
from ogcserver.ows.exceptions import ows_exception_report

WMTS = COMMON.extended({
    errors.LayerNotFound: Rule("InvalidParameterValue", "LAYER"),
    errors.StyleNotFound: Rule("InvalidParameterValue", "STYLE"),
    errors.ChainError: Rule("InvalidParameterValue", "STYLE"),
    errors.TileOutOfRange: Rule("TileOutOfRange", by_axis(
        {"zoom": "TILEMATRIX", "column": "TILECOL", "row": "TILEROW", "tile": "TILECOL"})),
    errors.TileMatrixSetNotOffered: Rule("InvalidParameterValue", "TILEMATRIXSET"),
    errors.UnsupportedCrs: Rule("InvalidParameterValue", "TILEMATRIXSET"),
    errors.UnsupportedFormat: Rule("InvalidParameterValue", "FORMAT"),
    errors.InvalidPoint: Rule("PointIJOutOfRange", "I"),
    errors.TooManyItems: Rule("InvalidParameterValue", "TILEMATRIX"),
    errors.ColourScaleRefused: Rule("InvalidParameterValue", "COLORSCALERANGE"),  # an ncWMS vendor parameter
})
XYZ = WMTS.extended({
    errors.LayerNotFound: Rule("InvalidParameterValue", "layer"),
    errors.StyleNotFound: Rule("InvalidParameterValue", "style"),
    errors.ChainError: Rule("InvalidParameterValue", "style"),
    errors.TileOutOfRange: Rule("TileOutOfRange", by_axis({"zoom": "z", "column": "x", "row": "y", "tile": "x"})),
    errors.TileMatrixSetNotOffered: Rule("InvalidParameterValue", "tileMatrixSet"),
    errors.UnsupportedCrs: Rule("InvalidParameterValue", "tileMatrixSet"),
    errors.UnsupportedFormat: Rule("InvalidParameterValue", "format"),
    errors.TooManyItems: Rule("InvalidParameterValue", "z"),
    errors.InvalidPoint: Rule("PointIJOutOfRange"),
    errors.BadFilter: Rule("InvalidParameterValue", "filter"),
})

WMTS_FORMAT = ExceptionFormat(WMTS, partial(ows_exception_report, version="1.0.0"))
XYZ_FORMAT = ExceptionFormat(XYZ, partial(ows_exception_report, version="1.0.0"))
