"""WMS 1.1.1 and 1.3.0 words for domain errors, and each version's exception report."""

from __future__ import annotations

from functools import partial

from ogcserver.model import errors
from ogcserver.ows.error_table import COMMON, ExceptionFormat, Rule, by_axis, dimension_parameter
from ogcserver.ows.exceptions import wms_exception_report

WMS_130 = COMMON.extended({
    errors.LayerNotFound: Rule("LayerNotDefined", "LAYERS"),
    errors.StyleNotFound: Rule("StyleNotDefined", "STYLES"),
    errors.UnsupportedCrs: Rule("InvalidCRS", "CRS"),
    errors.UnsupportedFormat: Rule("InvalidFormat", "FORMAT"),
    errors.InvalidPoint: Rule("InvalidPoint", "I"),
    errors.SizeLimitExceeded: Rule("InvalidParameterValue", by_axis({"width": "WIDTH", "height": "HEIGHT", "area": "WIDTH"})),
    errors.TooManyLayers: Rule("InvalidParameterValue", "LAYERS"),
    errors.TooManyItems: Rule("InvalidParameterValue", "BBOX"),
    errors.ProcessingNotAllowed: Rule("InvalidParameterValue", "RENDERINGRULE"),
    errors.ChainError: Rule("InvalidParameterValue", "STYLES"),
    errors.AreaOutsideCoverage: Rule("InvalidParameterValue", "BBOX"),
    errors.InvalidExtent: Rule("InvalidParameterValue", "BBOX"),
    errors.ColourScaleRefused: Rule("InvalidParameterValue", "COLORSCALERANGE"),  # an ncWMS vendor parameter
    errors.InvalidDimensionValue: Rule("InvalidDimensionValue", dimension_parameter),
})
WMS_111 = WMS_130.extended({
    errors.UnsupportedCrs: Rule("InvalidSRS", "SRS"),
    errors.InvalidPoint: Rule("InvalidPoint", "X"),
})

FORMATS = {
    version: ExceptionFormat(table, partial(wms_exception_report, version=version))
    for version, table in (("1.1.1", WMS_111), ("1.3.0", WMS_130))
}
