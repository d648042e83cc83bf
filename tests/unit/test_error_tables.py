"""Each typed domain error answers in every protocol with that protocol's own code, locator and
status, in a report its schema accepts: never a parameter another protocol has (a WCS 2.0.1
request over too many items is not told about LAYERS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from ogcserver.model import errors
from ogcserver.model.access import AccessDenied
from ogcserver.model.jobs import ClusterUnavailable, JobFailed, error_named
from ogcserver.ows.exception_format import exception_format
from ogcserver.ows.exceptions import OwsError
from tests.support.schemas import assert_valid, assert_valid_dtd, schema

ERRORS: dict[str, errors.OgcServerError] = {
    "layer": errors.LayerNotFound("nope"),
    "style": errors.StyleNotFound("nope", "dem"),
    "crs": errors.UnsupportedCrs("EPSG:0"),
    "format": errors.UnsupportedFormat("image/gif"),
    "width": errors.SizeLimitExceeded("width", 9000, 4096),
    "height": errors.SizeLimitExceeded("height", 9000, 4096),
    "area": errors.SizeLimitExceeded("area", 9000 * 4000, 16_000_000),
    "layers": errors.TooManyLayers(4),
    "items": errors.TooManyItems("mosaic", 100),
    "memory": errors.ResourceLimitExceeded("a 9000x9000 map needs about 309 MiB of memory"),
    "processing": errors.ProcessingNotAllowed("demo"),
    "chain": errors.ChainError("colormap", "colour 'red' is not #rrggbb"),
    "filter": errors.BadFilter("the filter has a syntax error"),
    "zoom": errors.TileOutOfRange("zoom", "zoom 40 is outside 0..24"),
    "column": errors.TileOutOfRange("column", "tile 99/0 is outside the 8x8 matrix 3"),
    "row": errors.TileOutOfRange("row", "tile 0/99 is outside the 8x8 matrix 3"),
    "tile": errors.TileOutOfRange("tile", "tile 3/0/0 is not part of layer 'dem'"),
    "tms": errors.TileMatrixSetNotOffered("Nope", "dem"),
    "band": errors.NoSuchBand("dem", 1),
    "format_refused": errors.FormatRefused("image/png cannot hold 5 bands"),
    "compression": errors.CompressionRefused("JPEG compression holds 8-bit data only"),
    "predictor": errors.PredictorRefused("a predictor needs Deflate or LZW compression"),
    "extent": errors.InvalidExtent("x", "empty"),
    "colour_scale": errors.ColourScaleRefused("a logarithmic scale needs a positive range; the range is -3 to 8"),
    "outside": errors.AreaOutsideCoverage("the area asked for does not overlap the coverage"),
    "point": errors.InvalidPoint("the point (99, 0) is outside the 10x10 map"),
    "download": errors.DownloadNotOffered("demo"),
    "item": errors.ItemNotFound("scene-a"),
    "timeout": errors.RenderTimeout("rendering took longer than the configured time limit"),
    "source": errors.SourceUnavailable("tile_3.tif cannot be read"),
    "catalog": errors.CatalogUnavailable(),
    "anonymous": AccessDenied("log in to view layer 'dem'", authenticated=False),
    "forbidden": AccessDenied("you may not view layer 'dem'", authenticated=True),
}

# The parameters (or, for resources, the path parts and query arguments) of each protocol: the
# only names its locators may use.
PROTOCOLS: dict[tuple[str, str | None], set[str]] = {
    ("WMS", "1.3.0"): {"LAYERS", "STYLES", "CRS", "BBOX", "WIDTH", "HEIGHT", "FORMAT", "I", "RENDERINGRULE", "FILTER",
                       "COLORSCALERANGE"},
    ("WMS", "1.1.1"): {"LAYERS", "STYLES", "SRS", "BBOX", "WIDTH", "HEIGHT", "FORMAT", "X", "RENDERINGRULE", "FILTER",
                       "COLORSCALERANGE"},
    ("WMTS", "1.0.0"): {"LAYER", "STYLE", "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL", "FORMAT", "I", "FILTER",
                        "COLORSCALERANGE"},
    ("XYZ", None): {"layer", "style", "tileMatrixSet", "z", "x", "y", "format", "filter", "COLORSCALERANGE"},
    ("WCS", "1.0.0"): {"COVERAGE", "CRS", "BBOX", "WIDTH", "HEIGHT", "BANDS", "FORMAT", "PROCESSING", "RENDERINGRULE",
                       "FILTER"},
    ("WCS", "1.1.1"): {"identifier", "CRS", "BoundingBox", "RangeSubset", "FORMAT", "PROCESSING", "RENDERINGRULE",
                       "FILTER"},
    ("WCS", "2.0.1"): {"coverageId", "CRS", "SUBSET", "RANGESUBSET", "FORMAT", "geotiff:compression",
                       "geotiff:predictor", "PROCESSING", "RENDERINGRULE", "FILTER"},
    ("KML", None): {"layer", "style", "z", "x", "y", "filter"},
    ("CATALOG", None): {"collection", "item", "bbox", "filter", "download"},
}

# What each protocol's specification (or, for resources, its convention) asks for.
EXPECTED = [
    # protocol, version, error, code, locator, status
    ("WMS", "1.3.0", "layer", "LayerNotDefined", "LAYERS", 400),
    ("WMS", "1.3.0", "style", "StyleNotDefined", "STYLES", 400),
    ("WMS", "1.3.0", "crs", "InvalidCRS", "CRS", 400),
    ("WMS", "1.1.1", "crs", "InvalidSRS", "SRS", 400),
    ("WMS", "1.3.0", "point", "InvalidPoint", "I", 400),
    ("WMS", "1.1.1", "point", "InvalidPoint", "X", 400),
    ("WMS", "1.3.0", "width", "InvalidParameterValue", "WIDTH", 400),
    ("WMS", "1.3.0", "height", "InvalidParameterValue", "HEIGHT", 400),
    ("WMS", "1.3.0", "layers", "InvalidParameterValue", "LAYERS", 400),
    ("WMS", "1.3.0", "items", "InvalidParameterValue", "BBOX", 400),
    ("WMS", "1.3.0", "processing", "InvalidParameterValue", "RENDERINGRULE", 400),
    ("WMS", "1.3.0", "chain", "InvalidParameterValue", "STYLES", 400),
    ("WMS", "1.3.0", "filter", "InvalidParameterValue", "FILTER", 400),
    ("WMS", "1.3.0", "format", "InvalidFormat", "FORMAT", 400),
    ("WMS", "1.3.0", "colour_scale", "InvalidParameterValue", "COLORSCALERANGE", 400),
    ("WMS", "1.1.1", "colour_scale", "InvalidParameterValue", "COLORSCALERANGE", 400),
    ("WMTS", "1.0.0", "colour_scale", "InvalidParameterValue", "COLORSCALERANGE", 400),
    ("XYZ", None, "colour_scale", "InvalidParameterValue", "COLORSCALERANGE", 400),
    ("WMTS", "1.0.0", "layer", "InvalidParameterValue", "LAYER", 400),
    ("WMTS", "1.0.0", "style", "InvalidParameterValue", "STYLE", 400),
    ("WMTS", "1.0.0", "zoom", "TileOutOfRange", "TILEMATRIX", 400),
    ("WMTS", "1.0.0", "column", "TileOutOfRange", "TILECOL", 400),
    ("WMTS", "1.0.0", "row", "TileOutOfRange", "TILEROW", 400),
    ("WMTS", "1.0.0", "tms", "InvalidParameterValue", "TILEMATRIXSET", 400),
    ("WMTS", "1.0.0", "point", "PointIJOutOfRange", "I", 400),
    ("WMTS", "1.0.0", "format", "InvalidParameterValue", "FORMAT", 400),
    ("XYZ", None, "layer", "InvalidParameterValue", "layer", 400),
    ("XYZ", None, "zoom", "TileOutOfRange", "z", 400),
    ("XYZ", None, "column", "TileOutOfRange", "x", 400),
    ("XYZ", None, "row", "TileOutOfRange", "y", 400),
    ("XYZ", None, "tms", "InvalidParameterValue", "tileMatrixSet", 400),
    ("WCS", "1.0.0", "layer", "CoverageNotDefined", "COVERAGE", 400),
    ("WCS", "1.1.1", "layer", "InvalidParameterValue", "identifier", 400),
    ("WCS", "2.0.1", "layer", "NoSuchCoverage", "coverageId", 404),
    ("WCS", "1.0.0", "items", "InvalidParameterValue", "BBOX", 400),
    ("WCS", "1.1.1", "items", "InvalidParameterValue", "BoundingBox", 400),
    ("WCS", "2.0.1", "items", "InvalidParameterValue", "SUBSET", 400),
    ("WCS", "1.0.0", "width", "InvalidParameterValue", "WIDTH", 400),
    ("WCS", "2.0.1", "width", "InvalidParameterValue", None, 400),
    ("WCS", "1.0.0", "outside", "InvalidParameterValue", "BBOX", 400),
    ("WCS", "2.0.1", "outside", "InvalidSubsetting", "SUBSET", 404),
    ("WCS", "1.0.0", "band", "InvalidParameterValue", "BANDS", 400),
    ("WCS", "1.1.1", "band", "InvalidParameterValue", "RangeSubset", 400),
    ("WCS", "2.0.1", "band", "NoSuchField", "RANGESUBSET", 404),
    ("WCS", "1.0.0", "format_refused", "InvalidFormat", "FORMAT", 400),
    ("WCS", "2.0.1", "format_refused", "InvalidParameterValue", "FORMAT", 400),
    ("WCS", "2.0.1", "compression", "CompressionInvalid", "geotiff:compression", 404),
    ("WCS", "2.0.1", "predictor", "PredictorInvalid", "geotiff:predictor", 404),
    ("WCS", "2.0.1", "chain", "InvalidParameterValue", "PROCESSING", 400),
    ("WCS", "2.0.1", "style", "InvalidParameterValue", "PROCESSING", 400),
    ("WCS", "2.0.1", "processing", "InvalidParameterValue", "RENDERINGRULE", 400),
    ("WCS", "2.0.1", "crs", "InvalidParameterValue", "CRS", 400),
    ("KML", None, "layer", "InvalidParameterValue", "layer", 404),
    ("KML", None, "tile", "InvalidParameterValue", "x", 400),
    ("KML", None, "zoom", "InvalidParameterValue", "z", 400),
    ("CATALOG", None, "layer", "LayerNotDefined", "collection", 404),
    ("CATALOG", None, "item", "NotFound", "item", 404),
    ("CATALOG", None, "filter", "InvalidParameterValue", "filter", 400),
]
EVERYWHERE = [  # the same in every protocol
    ("timeout", "NoApplicableCode", None, 503),
    ("source", "NoApplicableCode", None, 503),
    ("catalog", "NoApplicableCode", None, 503),
    ("anonymous", "AccessDenied", None, 401),
    ("forbidden", "AccessDenied", None, 403),
    ("memory", "InvalidParameterValue", None, 400),
]


@pytest.mark.parametrize("protocol, version, name, code, locator, status",
                         EXPECTED + [(p, v, *row) for p, v in PROTOCOLS for row in EVERYWHERE])
def test_each_protocol_words_each_error(protocol, version, name, code, locator, status):
    error = exception_format(protocol, version).error(ERRORS[name])
    assert (error.code, error.locator, error.status) == (code, locator, status)
    assert error.message == ERRORS[name].message or (protocol == "WCS" and name == "layer")


@pytest.mark.parametrize("protocol, version", list(PROTOCOLS), ids=lambda v: str(v))
@pytest.mark.parametrize("name", list(ERRORS))
def test_locators_are_the_protocols_own(protocol, version, name):
    error = exception_format(protocol, version).error(ERRORS[name])
    assert error.locator is None or error.locator in PROTOCOLS[(protocol, version)], error.locator
    assert error.status < 500 or error.code == "NoApplicableCode"


def _report_fields(protocol: str, version: str | None, body: bytes) -> tuple[str, str | None]:
    """The code and locator a client reads from the report."""
    if protocol == "CATALOG":
        document = json.loads(body)
        return document["code"], document.get("locator")
    root = etree.fromstring(body)
    node = next(root.iter("{*}ServiceException", "{*}Exception", "ServiceException"))
    return node.get("code") or node.get("exceptionCode"), node.get("locator")


REPORT_SCHEMAS = {
    ("WMS", "1.3.0"): ("http://www.opengis.net/ogc", "http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd"),
    ("WCS", "1.0.0"): ("http://www.opengis.net/ogc", "http://schemas.opengis.net/wcs/1.0.0/OGC-exception.xsd"),
    ("WCS", "1.1.1"): ("http://www.opengis.net/ows/1.1", "http://schemas.opengis.net/ows/1.1.0/owsAll.xsd"),
    ("WCS", "2.0.1"): ("http://www.opengis.net/ows/2.0", "http://schemas.opengis.net/ows/2.0/owsAll.xsd"),
}
OWS11 = ("http://www.opengis.net/ows/1.1", "http://schemas.opengis.net/ows/1.1.0/owsAll.xsd")


@pytest.mark.parametrize("protocol, version", list(PROTOCOLS), ids=lambda v: str(v))
@pytest.mark.parametrize("name", ["items", "width", "layer", "zoom", "band", "filter", "timeout"])
def test_reports_carry_the_code_and_locator_and_are_valid(protocol, version, name, ogc_schemas: Path):
    answer = exception_format(protocol, version)
    error = answer.error(ERRORS[name])
    response = answer.response(ERRORS[name])
    assert response.status == error.status
    code, locator = _report_fields(protocol, version, response.body)
    if (protocol, version) == ("WMS", "1.1.1"):  # its report has no locator
        assert (code, locator) == (error.code, None) and response.content_type == "application/vnd.ogc.se_xml"
        assert_valid_dtd(ogc_schemas / "ogc/wms/1.1.1/exception_1_1_1.dtd", response.body)
        return
    assert (code, locator) == (error.code, error.locator)
    if protocol == "CATALOG":
        assert response.content_type == "application/json"
        return
    assert_valid(schema(ogc_schemas, REPORT_SCHEMAS.get((protocol, version), OWS11)), response.body)


def test_an_error_worded_by_a_parser_is_answered_as_it_is():
    given = OwsError("MissingParameterValue", "parameter BBOX is required", "BBOX")
    assert exception_format("WMS", "1.3.0").error(given) is given


def test_the_format_follows_the_protocol_and_version():
    assert exception_format("WMS", "1.1.1").error(ERRORS["crs"]).code == "InvalidSRS"
    assert exception_format("WMS", None).error(ERRORS["crs"]).code == "InvalidCRS"  # newest
    assert exception_format("WCS", "9.9.9").error(ERRORS["layer"]).code == "NoSuchCoverage"
    assert b"ows/2.0" in exception_format(None).response(ERRORS["layer"]).body  # no known service


@pytest.mark.parametrize(("cause", "code", "status"), [
    (errors.InvalidValue("bbox", "the area has no pixel of the layer"), "InvalidParameterValue", 400),
    (ClusterUnavailable("the Dask scheduler at tcp://127.0.0.1:1 does not answer"), "NoApplicableCode", 503),
    (errors.SourceUnavailable("source 'dem.tif' cannot be read"), "NoApplicableCode", 503),
    (AccessDenied("dem", authenticated=True), "AccessDenied", 500),  # the caller of /results is not the cause
    (None, "NoApplicableCode", 500),  # unforeseen: the job's message alone says what happened
])
def test_a_failed_jobs_results_answer_with_the_exception_that_failed_it(cause, code, status):
    failed = JobFailed("0" * 32, cause.message if cause else "the job failed (KeyError)", type(cause) if cause else None)
    body, _ = exception_format("PROCESSES").report(exception_format("PROCESSES").error(failed))
    document = json.loads(body)
    assert (document["title"], document["status"]) == (code, status)
    assert document["detail"] == failed.message


def test_a_failed_jobs_cause_is_found_again_by_its_name():
    assert error_named("ClusterUnavailable") is ClusterUnavailable
    assert error_named("InvalidValue") is errors.InvalidValue
    assert error_named("NoSuchError") is None
