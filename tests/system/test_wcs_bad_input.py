"""Bad WCS requests get each version's exception, code and status: never a 500 or a traceback."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from lxml import etree

from ogcserver.app import core_of
from ogcserver.model.budget import readable_size
from tests.support.wcs import OGC, OWS11, OWS20, read_coverage

BOX = "500000,5199000,501000,5200000"
V10 = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "dem", "CRS": "EPSG:32632",
       "BBOX": BOX, "WIDTH": "100", "HEIGHT": "100", "FORMAT": "GeoTIFF"}
V11 = {"SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": "dem", "FORMAT": "image/tiff",
       "BOUNDINGBOX": "500005,5199005,500995,5199995,urn:ogc:def:crs:EPSG::32632"}
V20 = {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": "dem"}


def code_of(response) -> str:
    doc = etree.fromstring(response.data)
    for tag, attr in ((f"{{{OGC}}}ServiceException", "code"), (f"{{{OWS11}}}Exception", "exceptionCode"),
                      (f"{{{OWS20}}}Exception", "exceptionCode")):
        node = doc.find(tag)
        if node is not None:
            return node.get(attr)
    raise AssertionError(response.data[:300])


def changed(base: dict, change: dict) -> list[tuple[str, str]]:
    query = {k: v for k, v in base.items() if change.get(k, "") is not None}
    query.update({k: v for k, v in change.items() if v is not None and not k.startswith("+")})
    pairs = list(query.items())
    pairs += [(k[1:], v) for k, v in change.items() if k.startswith("+")]  # a repeated parameter
    return pairs


CASES = [
    (V10, {"COVERAGE": None}, "MissingParameterValue", 400),
    (V10, {"COVERAGE": "nope"}, "CoverageNotDefined", 400),
    (V10, {"COVERAGE": "../state/catalog.sqlite"}, "CoverageNotDefined", 400),
    (V10, {"CRS": None}, "MissingParameterValue", 400),
    (V10, {"CRS": "EPSG:99999999"}, "InvalidParameterValue", 400),
    (V10, {"RESPONSE_CRS": "+proj=utm"}, "InvalidParameterValue", 400),
    (V10, {"BBOX": "a,b,c,d"}, "InvalidParameterValue", 400),
    (V10, {"BBOX": "501000,5199000,500000,5200000"}, "InvalidParameterValue", 400),
    (V10, {"BBOX": "nan,0,1,1"}, "InvalidParameterValue", 400),
    (V10, {"BBOX": "1,2,3"}, "InvalidParameterValue", 400),
    (V10, {"WIDTH": "0"}, "InvalidParameterValue", 400),
    (V10, {"WIDTH": "ten"}, "InvalidParameterValue", 400),
    (V10, {"HEIGHT": None}, "MissingParameterValue", 400),
    (V10, {"WIDTH": None, "HEIGHT": None}, "MissingParameterValue", 400),
    (V10, {"RESX": "10", "RESY": "10"}, "InvalidParameterValue", 400),
    (V10, {"WIDTH": None, "HEIGHT": None, "RESX": "-1", "RESY": "10"}, "InvalidParameterValue", 400),
    (V10, {"WIDTH": "100000", "HEIGHT": "100000"}, "InvalidParameterValue", 400),
    (V10, {"FORMAT": "image/gif"}, "InvalidFormat", 400),
    (V10, {"FORMAT": None}, "MissingParameterValue", 400),
    (V10, {"INTERPOLATION": "magic"}, "InvalidParameterValue", 400),
    (V10, {"BANDS": "7"}, "InvalidParameterValue", 400),
    (V10, {"TIME": "not-a-date"}, "InvalidParameterValue", 400),
    (V10, {"REQUEST": "DeleteCoverage"}, "OperationNotSupported", 501),
    (V10, {"VERSION": "9.9.9"}, "InvalidParameterValue", 400),
    (V11, {"IDENTIFIER": "nope"}, "InvalidParameterValue", 400),
    (V11, {"BOUNDINGBOX": None}, "MissingParameterValue", 400),
    (V11, {"BOUNDINGBOX": "1,2,3"}, "InvalidParameterValue", 400),
    (V11, {"BOUNDINGBOX": "1,2,3,4,urn:ogc:def:crs:EPSG::1"}, "InvalidParameterValue", 400),
    (V11, {"BOUNDINGBOX": "0,0,10,10,urn:ogc:def:crs:EPSG::32632"}, "InvalidParameterValue", 400),
    (V11, {"STORE": "true"}, "InvalidParameterValue", 400),
    (V11, {"GRIDOFFSETS": "0,0"}, "InvalidParameterValue", 400),
    (V11, {"GRIDOFFSETS": "10,-10", "GRIDTYPE": "urn:ogc:def:method:WCS:1.1:2dGridIn3dCrs"}, "InvalidParameterValue", 400),
    (V11, {"GRIDCS": "urn:x"}, "InvalidParameterValue", 400),
    (V11, {"RANGESUBSET": "other"}, "InvalidParameterValue", 400),
    (V11, {"RANGESUBSET": "contents[bands[7]]"}, "InvalidParameterValue", 400),
    (V11, {"RANGESUBSET": "contents:magic"}, "InvalidParameterValue", 400),
    (V11, {"FORMAT": "text/html"}, "InvalidParameterValue", 400),
    (V20, {"COVERAGEID": "nope"}, "NoSuchCoverage", 404),
    (V20, {"COVERAGEID": None}, "MissingParameterValue", 400),
    (V20, {"COVERAGEID": "dem,ms16"}, "InvalidParameterValue", 400),
    (V20, {"+SUBSET": "Q(1,2)"}, "InvalidAxisLabel", 404),
    (V20, {"+SUBSET": "Lat(46,47)"}, "InvalidAxisLabel", 404),
    (V20, {"+SUBSET": "E(501000,500000)"}, "InvalidSubsetting", 404),
    (V20, {"+SUBSET": "E(a,b)"}, "InvalidSubsetting", 404),
    (V20, {"+SUBSET": "E 1,2"}, "InvalidSubsetting", 404),
    (V20, {"+SUBSET": "E(0,10)"}, "InvalidSubsetting", 404),
    (V20, {"+SUBSET": "E(1,2,3)"}, "InvalidSubsetting", 404),
    (V20, {"SCALEFACTOR": "0"}, "InvalidScaleFactor", 404),
    (V20, {"SCALEFACTOR": "-2"}, "InvalidScaleFactor", 404),
    (V20, {"SCALEFACTOR": "fast"}, "InvalidScaleFactor", 404),
    (V20, {"SCALEFACTOR": "1e6"}, "InvalidParameterValue", 400),
    (V20, {"SCALESIZE": "E(0)"}, "InvalidScaleFactor", 404),
    (V20, {"SCALESIZE": "Q(10)"}, "ScaleAxisUndefined", 404),
    (V20, {"SCALESIZE": "E10"}, "InvalidScaleFactor", 404),
    (V20, {"SCALEEXTENT": "E(10:5)"}, "InvalidExtent", 404),
    (V20, {"SCALEFACTOR": "2", "SCALESIZE": "E(10)"}, "InvalidParameterValue", 400),
    (V20, {"INTERPOLATION": "http://www.opengis.net/def/interpolation/OGC/1/barycentric"}, "InterpolationMethodNotSupported", 404),
    (V20, {"INTERPOLATION": "http://www.opengis.net/def/interpolation/OGC/1/linear",
           "INTERPOLATIONPERAXIS": "E,http://www.opengis.net/def/interpolation/OGC/1/cubic"}, "InterpolationMethodNotSupported", 404),
    (V20, {"RANGESUBSET": "nope"}, "NoSuchField", 404),
    (dict(V20, COVERAGEID="ms16"), {"RANGESUBSET": "nir:blue"}, "IllegalFieldSequence", 404),
    (V20, {"OUTPUTCRS": "http://www.opengis.net/def/crs/EPSG/0/99999"}, "OutputCrs-NotSupported", 400),
    (V20, {"SUBSETTINGCRS": "file:///etc/passwd"}, "SubsettingCrs-NotSupported", 400),
    (V20, {"geotiff:compression": "Zstd"}, "CompressionInvalid", 404),
    (V20, {"geotiff:compression": "Huffman"}, "CompressionNotSupported", 404),
    (V20, {"geotiff:compression": "JPEG"}, "CompressionInvalid", 404),
    (V20, {"geotiff:compression": "Deflate", "geotiff:predictor": "Horizontal"}, "PredictorInvalid", 404),
    (V20, {"geotiff:predictor": "Diagonal"}, "PredictorInvalid", 404),
    (V20, {"geotiff:jpeg_quality": "0"}, "JpegQualityInvalid", 404),
    (V20, {"geotiff:tilewidth": "17"}, "TilingInvalid", 404),
    (V20, {"geotiff:tiling": "false", "geotiff:tileheight": "64"}, "TilingInvalid", 404),
    (V20, {"geotiff:interleave": "Line"}, "InterleavingInvalid", 404),
    (V20, {"geotiff:colour": "red"}, "InvalidParameterValue", 400),
    (V20, {"FORMAT": "image/gif"}, "InvalidParameterValue", 400),
    (V20, {"FORMAT": "image/png"}, "InvalidParameterValue", 400),  # float32 values do not fit 8 bits
    (V20, {"MEDIATYPE": "multipart/related"}, "InvalidParameterValue", 400),
    (V20, {"REQUEST": None}, "MissingParameterValue", 400),
    (V20, {"VERSION": None}, "MissingParameterValue", 400),
]


@pytest.mark.parametrize("base, change, code, status", CASES, ids=[f"{b['VERSION']}-{c}"[:60] for b, c, _, _ in CASES])
def test_getcoverage_bad_input(client, base, change, code, status):
    r = client.get("/wcs?" + urlencode(changed(base, change)))
    assert r.status_code == status, r.data[:400]
    assert code_of(r) == code
    assert b"Traceback" not in r.data and b".py" not in r.data


def test_report_format_follows_the_version(client):
    r10 = client.get("/wcs", query_string=dict(V10, COVERAGE="nope"))
    assert r10.mimetype == "application/vnd.ogc.se_xml" and etree.fromstring(r10.data).tag == f"{{{OGC}}}ServiceExceptionReport"
    r11 = client.get("/wcs", query_string=dict(V11, IDENTIFIER="nope"))
    assert etree.fromstring(r11.data).tag == f"{{{OWS11}}}ExceptionReport"
    r20 = client.get("/wcs", query_string=dict(V20, COVERAGEID="nope"))
    assert etree.fromstring(r20.data).tag == f"{{{OWS20}}}ExceptionReport"


def test_unknown_coverage_answer_does_not_depend_on_the_name(client):
    bodies = {client.get("/wcs", query_string=dict(V20, COVERAGEID=name)).data.replace(name.encode(), b"N")
              for name in ("nothing", "etc_passwd", "catalog.sqlite")}
    assert len(bodies) == 1


def test_size_limit_is_configurable(client, app):
    limit = core_of(app).engine.settings.limits.max_coverage_bytes
    side = int((limit / 4) ** 0.5) + 1
    r = client.get("/wcs", query_string=dict(V10, WIDTH=side, HEIGHT=side))
    assert r.status_code == 400 and f"at most {readable_size(limit)} are served".encode() in r.data


def test_an_absurd_size_is_told_in_a_few_words(client):
    """Grid offsets of 1e-300 ask for a coverage of some 10^600 bytes: the report says so briefly."""
    r = client.get("/wcs", query_string=dict(V11, GRIDOFFSETS="1e-300,-1e-300"))
    assert r.status_code == 400, r.data[:300]
    text = etree.fromstring(r.data).findtext(f".//{{{OWS11}}}ExceptionText")
    assert "bytes" in text and "10^" in text and len(text) < 200, text


GETCOVERAGE_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<wcs:GetCoverage service="WCS" version="2.0.1" xmlns:wcs="http://www.opengis.net/wcs/2.0"
    xmlns:scal="http://www.opengis.net/WCS_service-extension_scaling/1.0"
    xmlns:rsub="http://www.opengis.net/wcs/range-subsetting/1.0"
    xmlns:int="http://www.opengis.net/WCS_service-extension_interpolation/1.0"
    xmlns:geotiff="http://www.opengis.net/gmlcov/geotiff/1.0">
  <wcs:Extension>
    <rsub:RangeSubset><rsub:RangeItem><rsub:RangeInterval><rsub:startComponent>green</rsub:startComponent>
      <rsub:endComponent>red</rsub:endComponent></rsub:RangeInterval></rsub:RangeItem></rsub:RangeSubset>
    <scal:Scaling><scal:ScaleToSize>
      <scal:TargetAxisSize><scal:axis>E</scal:axis><scal:targetSize>50</scal:targetSize></scal:TargetAxisSize>
      <scal:TargetAxisSize><scal:axis>N</scal:axis><scal:targetSize>25</scal:targetSize></scal:TargetAxisSize>
    </scal:ScaleToSize></scal:Scaling>
    <int:Interpolation><int:globalInterpolation>http://www.opengis.net/def/interpolation/OGC/1/nearest-neighbour</int:globalInterpolation></int:Interpolation>
    <geotiff:parameters><geotiff:compression>LZW</geotiff:compression></geotiff:parameters>
  </wcs:Extension>
  <wcs:CoverageId>ms16</wcs:CoverageId>
  <wcs:DimensionTrim><wcs:Dimension>E</wcs:Dimension><wcs:TrimLow>500500</wcs:TrimLow><wcs:TrimHigh>501500</wcs:TrimHigh></wcs:DimensionTrim>
  <wcs:DimensionTrim><wcs:Dimension>N</wcs:Dimension><wcs:TrimLow>5199000</wcs:TrimLow><wcs:TrimHigh>5199500</wcs:TrimHigh></wcs:DimensionTrim>
  <wcs:format>image/tiff</wcs:format>
</wcs:GetCoverage>"""


def test_xml_post_getcoverage_equals_its_kvp(client):
    posted = client.post("/wcs", data=GETCOVERAGE_XML, content_type="text/xml")
    assert posted.status_code == 200, posted.data[:400]
    kvp = client.get("/wcs?" + urlencode([*V20.items(), ("COVERAGEID", "ms16"), ("SUBSET", "E(500500,501500)"),
                                          ("SUBSET", "N(5199000,5199500)"), ("RANGESUBSET", "green:red"),
                                          ("SCALESIZE", "E(50),N(25)")]).replace("COVERAGEID=dem&", ""))
    a, b = read_coverage(posted.data), read_coverage(kvp.data)
    assert a.data.shape == (2, 25, 50) and a.descriptions == ("green", "red") and a.structure["COMPRESSION"] == "LZW"
    assert a.data.tobytes() == b.data.tobytes() and a.transform == b.transform


def test_xml_post_capabilities_and_description(client):
    caps = b"""<wcs:GetCapabilities service="WCS" xmlns:wcs="http://www.opengis.net/wcs/2.0"
        xmlns:ows="http://www.opengis.net/ows/2.0"><ows:AcceptVersions><ows:Version>2.0.1</ows:Version>
        </ows:AcceptVersions></wcs:GetCapabilities>"""
    r = client.post("/wcs", data=caps, content_type="text/xml")
    assert r.status_code == 200 and b"<wcs:CoverageId>dem</wcs:CoverageId>" in r.data
    describe = b"""<wcs:DescribeCoverage service="WCS" version="2.0.1" xmlns:wcs="http://www.opengis.net/wcs/2.0">
        <wcs:CoverageId>dem</wcs:CoverageId></wcs:DescribeCoverage>"""
    r = client.post("/services/demo/wcs", data=describe, content_type="text/xml")
    assert r.status_code == 200 and b"gml:RectifiedGrid" in r.data
    empty = b'<wcs:GetCoverage service="WCS" version="2.0.1" xmlns:wcs="http://www.opengis.net/wcs/2.0"/>'
    r = client.post("/wcs", data=empty, content_type="text/xml")
    assert r.status_code == 404 and code_of(r) == "emptyCoverageIdList"
    scoped = client.post("/services/ordered/wcs", data=describe, content_type="text/xml")
    assert scoped.status_code == 404 and code_of(scoped) == "NoSuchCoverage"


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS" version="2.0.1"><wcs:CoverageId>&lol4;</wcs:CoverageId></wcs:GetCoverage>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS" version="2.0.1"><wcs:CoverageId>&x;</wcs:CoverageId></wcs:GetCoverage>"""
DEEP = b"<wcs:GetCoverage xmlns:wcs='http://www.opengis.net/wcs/2.0'>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</wcs:GetCoverage>"


@pytest.mark.parametrize("body", [BOMB, XXE, DEEP, b"<wcs:GetCoverage", b"\x00\xff garbage"], ids=["bomb", "xxe", "deep", "unclosed", "garbage"])
def test_hostile_xml_is_refused(client, body):
    r = client.post("/wcs", data=body, content_type="text/xml")
    assert r.status_code == 400 and code_of(r) == "InvalidParameterValue"
    assert b"lollol" not in r.data and b"Traceback" not in r.data


def test_huge_xml_body_is_refused(client):
    r = client.post("/wcs", data=b"<a>" + b"x" * 2_000_000 + b"</a>", content_type="text/xml")
    assert r.status_code == 413
