"""WCS exceptions: each version's words for domain errors, and each version's report format.

1.0.0 answers with the ServiceExceptionReport of http://www.opengis.net/ogc (WCS 1.0.0's
OGC-exception.xsd), 1.1.1 with an OWS 1.1 ExceptionReport, 2.0.1 with OWS 2.0. Statuses follow
OWS Common (client errors 400, unsupported 501) and WCS 2.0 (404 for NoSuchCoverage and the
subsetting and extension codes, as the reference implementation answers). Each version names
the parameters it has: the area is BBOX in 1.0.0, BoundingBox in 1.1.1 and SUBSET in 2.0.1.
"""

from __future__ import annotations

from functools import partial

from ogcserver.model import errors
from ogcserver.ows.error_table import COMMON, ExceptionFormat, Rule, by_axis
from ogcserver.ows.exceptions import OwsError, ogc_exception_report, ows_exception_report


def _coverage(exc: errors.LayerNotFound) -> str:
    return f"Coverage '{exc.name[:64]}' is not offered"


def _area(locator: str) -> dict[type[errors.OgcServerError], Rule]:
    """Errors about the area asked for, named by the version's own area parameter."""
    return {
        errors.AreaOutsideCoverage: Rule("InvalidParameterValue", locator),
        errors.InvalidExtent: Rule("InvalidParameterValue", locator),
        errors.TooManyItems: Rule("InvalidParameterValue", locator),
    }


WCS = COMMON.extended({
    errors.UnsupportedCrs: Rule("InvalidParameterValue", "CRS"),
    errors.UnsupportedFormat: Rule("InvalidFormat", "FORMAT"),
    errors.StyleNotFound: Rule("InvalidParameterValue", "PROCESSING"),  # a template the coverage lacks
    errors.ChainError: Rule("InvalidParameterValue", "PROCESSING"),
    errors.ProcessingNotAllowed: Rule("InvalidParameterValue", "RENDERINGRULE"),
    errors.EncodingRefused: Rule("InvalidParameterValue", "FORMAT"),
})
WCS_100 = WCS.extended({
    errors.LayerNotFound: Rule("CoverageNotDefined", "COVERAGE", message=_coverage),
    **_area("BBOX"),
    errors.SizeLimitExceeded: Rule("InvalidParameterValue", by_axis({"width": "WIDTH", "height": "HEIGHT", "area": "WIDTH"})),
    errors.NoSuchBand: Rule("InvalidParameterValue", "BANDS"),
    errors.FormatRefused: Rule("InvalidFormat", "FORMAT"),
})
WCS_111 = WCS.extended({
    errors.LayerNotFound: Rule("InvalidParameterValue", "identifier", message=_coverage),
    **_area("BoundingBox"),
    errors.NoSuchBand: Rule("InvalidParameterValue", "RangeSubset"),
})
WCS_201 = WCS.extended({
    errors.LayerNotFound: Rule("NoSuchCoverage", "coverageId", 404, message=_coverage),
    **_area("SUBSET"),
    errors.AreaOutsideCoverage: Rule("InvalidSubsetting", "SUBSET", 404),
    errors.InvalidDimensionValue: Rule("InvalidSubsetting", "SUBSET", 404),
    errors.NoSuchBand: Rule("NoSuchField", "RANGESUBSET", 404),
    errors.CompressionRefused: Rule("CompressionInvalid", "geotiff:compression", 404),  # GeoTIFF extension
    errors.PredictorRefused: Rule("PredictorInvalid", "geotiff:predictor", 404),
})


def report(error: OwsError, version: str) -> tuple[bytes, str]:
    """The exception report of a WCS version and its content type."""
    if version != "1.0.0":
        return ows_exception_report(error, version)
    body = ogc_exception_report(error, "1.2.0", "http://schemas.opengis.net/wcs/1.0.0/OGC-exception.xsd")
    return body, "application/vnd.ogc.se_xml"


FORMATS = {
    version: ExceptionFormat(table, partial(report, version=version))
    for version, table in (("1.0.0", WCS_100), ("1.1.1", WCS_111), ("2.0.1", WCS_201))
}
