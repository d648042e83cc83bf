"""WCS exceptions: each version's codes for core errors, and each version's report format.

1.0.0 answers with the ServiceExceptionReport of http://www.opengis.net/ogc (WCS 1.0.0's
OGC-exception.xsd), 1.1.1 with an OWS 1.1 ExceptionReport, 2.0.1 with OWS 2.0. Statuses follow
OWS Common (client errors 400, unsupported 501) and WCS 2.0 (404 for NoSuchCoverage and the
subsetting and extension codes, as the reference implementation answers).
"""

from __future__ import annotations


from ogcserver.model import errors
from ogcserver.ows.exceptions import OwsError, from_domain, ogc_exception_report, ows_exception_report

CODE_20 = {"predictor": "PredictorInvalid", "compression": "CompressionInvalid", "bands": "NoSuchField"}


def wcs_error(exc: errors.OgcServerError, version: str) -> OwsError:
    """A core error in the words of one WCS version."""
    if isinstance(exc, errors.LayerNotFound):
        message = f"Coverage '{exc.name[:64]}' is not offered"
        if version == "1.0.0":
            return OwsError("CoverageNotDefined", message, "COVERAGE")
        if version == "1.1.1":
            return OwsError("InvalidParameterValue", message, "identifier")
        return OwsError("NoSuchCoverage", message, "coverageId", status=404)
    if isinstance(exc, errors.AreaOutsideCoverage):
        if version == "2.0.1":
            return OwsError("InvalidSubsetting", exc.message, "SUBSET", status=404)
        return OwsError("InvalidParameterValue", exc.message, "BBOX" if version == "1.0.0" else "BoundingBox")
    if isinstance(exc, errors.InvalidValue) and version == "2.0.1" and exc.parameter in CODE_20:
        return OwsError(CODE_20[exc.parameter], exc.message, exc.parameter, status=404)
    if isinstance(exc, errors.InvalidValue) and exc.parameter == "format" and version == "1.0.0":
        return OwsError("InvalidFormat", exc.message, "FORMAT")
    if isinstance(exc, errors.UnsupportedCrs):
        return OwsError("InvalidParameterValue", exc.message, "CRS")
    return from_domain(exc)


def report(error: OwsError, version: str) -> tuple[bytes, str]:
    """The exception report of a WCS version and its content type."""
    if version != "1.0.0":
        return ows_exception_report(error, version)
    body = ogc_exception_report(error, "1.2.0", "http://schemas.opengis.net/wcs/1.0.0/OGC-exception.xsd")
    return body, "application/vnd.ogc.se_xml"
