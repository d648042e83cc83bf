"""WCS capabilities, coverage descriptions and exception reports: official schemas and content."""

from __future__ import annotations

import pytest
import rasterio
from lxml import etree

from tests.support.schemas import assert_valid, schema
from tests.support.wcs import OGC, OWS11, OWS20, WCS20, multipart

WCS10 = "http://www.opengis.net/wcs"
WCS11 = "http://www.opengis.net/wcs/1.1"
GML = "http://www.opengis.net/gml"
GML32 = "http://www.opengis.net/gml/3.2"
SWE = "http://www.opengis.net/swe/2.0"
NS = {"wcs": WCS10, "wcs11": WCS11, "wcs20": WCS20, "gml": GML, "gml32": GML32, "swe": SWE, "ows11": OWS11, "ows20": OWS20}


def wcs_schema(root, version):
    if version == "1.0.0":
        return schema(root, (WCS10, "http://schemas.opengis.net/wcs/1.0.0/wcsAll.xsd"))
    if version == "1.1.1":
        return schema(root, (WCS11, "http://schemas.opengis.net/wcs/1.1/wcsAll.xsd"))
    return schema(
        root,
        (WCS20, "http://schemas.opengis.net/wcs/2.0/wcsAll.xsd"),
        ("http://www.opengis.net/wcs/crs/1.0", "http://schemas.opengis.net/wcs/crs/1.0/wcsCrs.xsd"),
        ("http://www.opengis.net/WCS_service-extension_interpolation/1.0",
         "http://schemas.opengis.net/wcs/interpolation/1.0/wcsInt.xsd"),
    )


def capabilities(client, path, version):
    q = {"SERVICE": "WCS", "REQUEST": "GetCapabilities"}
    q["VERSION" if version == "1.0.0" else "ACCEPTVERSIONS"] = version
    return client.get(path, query_string=q)


def describe(client, version, ids):
    key = {"1.0.0": "COVERAGE", "1.1.1": "IDENTIFIERS", "2.0.1": "COVERAGEID"}[version]
    return client.get("/wcs", query_string={"SERVICE": "WCS", "REQUEST": "DescribeCoverage", "VERSION": version, key: ids})


VERSIONS = ["1.0.0", "1.1.1", "2.0.1"]
ALL = "parent,mosaic,dem,ms16,rgba,masked,newest,oldest"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", ["/wcs", "/services/demo/wcs", "/services/ordered/wcs"])
def test_capabilities_valid(client, ogc_schemas, version, path):
    r = capabilities(client, path, version)
    assert r.status_code == 200 and r.mimetype == "text/xml"
    assert etree.fromstring(r.data).get("version") == version
    assert_valid(wcs_schema(ogc_schemas, version), r.data)


def test_ows_endpoint_needs_service_wcs(client):
    r = client.get("/ows", query_string={"SERVICE": "WCS", "REQUEST": "GetCapabilities"})
    assert r.status_code == 200 and etree.fromstring(r.data).tag == f"{{{WCS20}}}Capabilities"


@pytest.mark.parametrize("version", VERSIONS)
def test_descriptions_valid(client, ogc_schemas, version):
    r = describe(client, version, ALL)
    assert r.status_code == 200
    assert_valid(wcs_schema(ogc_schemas, version), r.data)


def test_100_describes_every_coverage_when_none_is_named(client):
    r = client.get("/services/ordered/wcs", query_string={"SERVICE": "WCS", "REQUEST": "DescribeCoverage", "VERSION": "1.0.0"})
    names = etree.fromstring(r.data).xpath("//wcs:CoverageOffering/wcs:name/text()", namespaces=NS)
    assert r.status_code == 200 and names == ["newest", "oldest"]
    r = client.get("/wcs", query_string={"SERVICE": "WCS", "REQUEST": "DescribeCoverage", "VERSION": "2.0.1"})
    assert r.status_code == 400 and b"MissingParameterValue" in r.data


@pytest.mark.parametrize(
    "query, answered",
    [
        ({}, "2.0.1"),
        ({"ACCEPTVERSIONS": "1.1.1,2.0.1"}, "1.1.1"),
        ({"ACCEPTVERSIONS": "3.0.0,2.0.0"}, "2.0.1"),
        ({"ACCEPTVERSIONS": "1.1.0"}, "1.1.1"),
        ({"VERSION": "1.0.0"}, "1.0.0"),
        ({"VERSION": "1.5.0"}, "1.1.1"),
        ({"VERSION": "0.9.0"}, "1.0.0"),
        ({"VERSION": "7.0.0"}, "2.0.1"),
    ],
)
def test_version_negotiation(client, query, answered):
    r = client.get("/wcs", query_string={"SERVICE": "WCS", "REQUEST": "GetCapabilities", **query})
    assert r.status_code == 200 and etree.fromstring(r.data).get("version") == answered


def test_version_negotiation_failure(client):
    r = client.get("/wcs", query_string={"SERVICE": "WCS", "REQUEST": "GetCapabilities", "ACCEPTVERSIONS": "3.0.0"})
    assert r.status_code == 400 and b"VersionNegotiationFailed" in r.data


def test_service_endpoint_lists_only_its_coverages(client):
    doc = etree.fromstring(capabilities(client, "/services/ordered/wcs", "2.0.1").data)
    assert doc.xpath("//wcs20:CoverageId/text()", namespaces=NS) == ["newest", "oldest"]
    doc = etree.fromstring(capabilities(client, "/wcs", "1.0.0").data)
    assert doc.xpath("//wcs:CoverageOfferingBrief/wcs:name/text()", namespaces=NS) == ALL.split(",")


@pytest.mark.parametrize("version, code, status, ns", [
    ("1.0.0", "CoverageNotDefined", 400, OGC), ("1.1.1", "InvalidParameterValue", 400, OWS11),
    ("2.0.1", "NoSuchCoverage", 404, OWS20),
])
def test_exception_reports_valid(client, ogc_schemas, version, code, status, ns):
    r = describe(client, version, "nothing")
    assert r.status_code == status
    doc = etree.fromstring(r.data)
    if version == "1.0.0":
        assert r.mimetype == "application/vnd.ogc.se_xml"
        assert_valid(schema(ogc_schemas, (OGC, "http://schemas.opengis.net/wcs/1.0.0/OGC-exception.xsd")), r.data)
        assert doc.find(f"{{{ns}}}ServiceException").get("code") == code
    else:
        location = "http://schemas.opengis.net/ows/" + ("1.1.0/owsAll.xsd" if version == "1.1.1" else "2.0/owsAll.xsd")
        assert_valid(schema(ogc_schemas, (ns, location)), r.data)
        assert doc.find(f"{{{ns}}}Exception").get("exceptionCode") == code


def test_coverages_part_of_store_false_is_valid(client, ogc_schemas):
    r = client.get("/wcs", query_string={
        "SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": "dem", "FORMAT": "image/tiff",
        "BOUNDINGBOX": "500005,5199005,500995,5199995,urn:ogc:def:crs:EPSG::32632",
    })
    assert r.status_code == 200 and r.mimetype == "multipart/related"
    (xml_headers, xml), (tiff_headers, _tiff) = multipart(r.headers["Content-Type"], r.data)
    assert xml_headers["Content-Type"].startswith("text/xml")
    assert_valid(wcs_schema(ogc_schemas, "1.1.1"), xml)
    href = etree.fromstring(xml).find(f".//{{{OWS11}}}Reference").get("{http://www.w3.org/1999/xlink}href")
    assert href == "cid:" + tiff_headers["Content-ID"].strip("<>") and tiff_headers["Content-Type"] == "image/tiff"


def _floats(text):
    return [float(v) for v in text.split()]


def test_descriptions_match_the_source_grid(client, data_dir):
    """Envelope, grid origin and offsets of every version rebuild the source geotransform exactly."""
    with rasterio.open(data_dir / "dem.tif") as src:
        t, width, height, nodata = src.transform, src.width, src.height, src.nodata
    centre = (t.c + t.a / 2, t.f + t.e / 2)
    d10 = etree.fromstring(describe(client, "1.0.0", "dem").data)
    grid = d10.find(".//gml:RectifiedGrid", NS)
    assert _floats(grid.findtext("gml:origin/gml:pos", namespaces=NS)) == list(centre)
    assert [_floats(v.text) for v in grid.findall("gml:offsetVector", NS)] == [[t.a, 0], [0, t.e]]
    assert grid.findtext(".//gml:high", namespaces=NS) == f"{width - 1} {height - 1}"
    assert [_floats(p.text) for p in d10.findall(".//gml:Envelope/gml:pos", NS)] == [
        [t.c, t.f + height * t.e], [t.c + width * t.a, t.f]]
    assert d10.findtext(".//wcs:nullValues/wcs:singleValue", namespaces=NS) == str(int(nodata))
    assert d10.findtext(".//wcs:nativeCRSs", namespaces=NS) == "EPSG:32632"
    assert d10.findtext(".//wcs:requestResponseCRSs", namespaces=NS).split()[:2] == ["EPSG:32632", "EPSG:25832"]

    d11 = etree.fromstring(describe(client, "1.1.1", "dem").data)
    assert _floats(d11.findtext(".//wcs11:GridOrigin", namespaces=NS)) == list(centre)
    assert _floats(d11.findtext(".//wcs11:GridOffsets", namespaces=NS)) == [t.a, t.e]
    box = d11.find(".//ows11:BoundingBox", NS)  # WCS 1.1 bounds grid points: the outermost centres
    assert _floats(box.findtext("ows11:UpperCorner", namespaces=NS)) == [t.c + (width - 0.5) * t.a, centre[1]]

    d20 = etree.fromstring(describe(client, "2.0.1", "dem").data)
    env = d20.find(".//gml32:Envelope", NS)
    assert env.get("axisLabels") == "E N" and env.get("srsName").endswith("/EPSG/0/32632")
    assert _floats(env.findtext("gml32:lowerCorner", namespaces=NS)) == [t.c, t.f + height * t.e]
    grid = d20.find(".//gml32:RectifiedGrid", NS)
    assert _floats(grid.findtext("gml32:origin/gml32:Point/gml32:pos", namespaces=NS)) == list(centre)
    assert [_floats(v.text) for v in grid.findall("gml32:offsetVector", NS)] == [[t.a, 0], [0, t.e]]
    field = d20.find(".//swe:field", NS)
    assert field.get("name") == "elevation"
    assert field.find("swe:Quantity", NS).get("definition").endswith("/float32")
    assert float(field.findtext(".//swe:nilValue", namespaces=NS)) == nodata


def test_ranges_formats_and_interpolations(client):
    d10 = etree.fromstring(describe(client, "1.0.0", "ms16,parent").data)
    ms16, parent = d10.findall("wcs:CoverageOffering", NS)
    assert ms16.xpath(".//wcs:AxisDescription/wcs:values/wcs:singleValue/text()", namespaces=NS) == ["1", "2", "3", "4"]
    assert ms16.xpath(".//wcs:formats/text()", namespaces=NS) == ["GeoTIFF"]
    assert parent.xpath(".//wcs:formats/text()", namespaces=NS) == ["GeoTIFF", "PNG", "JPEG"]
    assert parent.xpath(".//wcs:interpolationMethod/text()", namespaces=NS) == ["nearest neighbor", "bilinear", "bicubic"]
    d20 = etree.fromstring(describe(client, "2.0.1", "ms16").data)
    assert d20.xpath(".//swe:field/@name", namespaces=NS) == ["blue", "green", "red", "nir"]
    d11 = etree.fromstring(describe(client, "1.1.1", "ms16").data)
    assert d11.xpath(".//wcs11:Key/text()", namespaces=NS) == ["1", "2", "3", "4"]
    caps = etree.fromstring(capabilities(client, "/wcs", "2.0.1").data)
    assert "http://www.opengis.net/def/interpolation/OGC/1/linear" in caps.xpath("//*[local-name()='interpolationSupported']/text()")
    assert "http://www.opengis.net/spec/WCS_service-extension_scaling/1.0/conf/scaling" in caps.xpath(
        "//ows20:Profile/text()", namespaces=NS)
