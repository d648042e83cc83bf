"""KML resources' words for domain errors: the parts of their path (/kml/{layer}/{z}/{x}/{y}.kml)
and their query string, in an OWS exception report; a missing layer is a missing resource."""

from __future__ import annotations

from functools import partial

from ogcserver.model import errors
from ogcserver.ows.error_table import COMMON, ExceptionFormat, Rule, by_axis
from ogcserver.ows.exceptions import ows_exception_report

KML = COMMON.extended({
    errors.LayerNotFound: Rule("InvalidParameterValue", "layer", 404),
    errors.StyleNotFound: Rule("StyleNotDefined", "style"),
    errors.ChainError: Rule("InvalidParameterValue", "style"),
    errors.TileOutOfRange: Rule("InvalidParameterValue", by_axis({"zoom": "z", "column": "x", "row": "y", "tile": "x"})),
    errors.TooManyItems: Rule("InvalidParameterValue", "z"),
    errors.BadFilter: Rule("InvalidParameterValue", "filter"),
})

KML_FORMAT = ExceptionFormat(KML, partial(ows_exception_report, version="1.0.0"))
