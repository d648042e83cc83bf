"""Capabilities and exception reports against the official schemas; content checks."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.support.schemas import assert_valid, assert_valid_dtd, schema

WMS = "http://www.opengis.net/wms"
XLINK = "http://www.w3.org/1999/xlink"


def wms130_schema(root):
    return schema(
        root,
        (WMS, "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd"),
        ("http://www.opengis.net/sld", "http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd"),
    )


@pytest.mark.parametrize("path", ["/wms", "/services/demo/wms", "/services/ordered/wms", "/ows"])
def test_wms_130_capabilities_valid(client, ogc_schemas, path):
    r = client.get(path, query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"})
    assert r.status_code == 200 and r.mimetype == "text/xml"
    assert_valid(wms130_schema(ogc_schemas), r.data)


@pytest.mark.parametrize("path", ["/wms", "/services/demo/wms"])
def test_wms_111_capabilities_valid(client, ogc_schemas, path):
    r = client.get(path, query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.1.1"})
    assert r.status_code == 200 and r.mimetype == "application/vnd.ogc.wms_xml"
    assert_valid_dtd(ogc_schemas / "ogc/wms/1.1.1/WMS_MS_Capabilities.dtd", r.data)


@pytest.mark.parametrize(
    "requested, answered",
    [(None, "1.3.0"), ("1.3.0", "1.3.0"), ("1.1.1", "1.1.1"), ("1.2.0", "1.1.1"), ("2.0.0", "1.3.0"), ("1.0.0", "1.1.1")],
)
def test_version_negotiation(client, requested, answered):
    q = {"SERVICE": "WMS", "REQUEST": "GetCapabilities"}
    if requested:
        q["VERSION"] = requested
    doc = etree.fromstring(client.get("/wms", query_string=q).data)
    assert doc.get("version") == answered


def test_exception_reports_valid(client, ogc_schemas):
    r13 = client.get("/wms", query_string={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "nope"})
    assert_valid(schema(ogc_schemas, ("http://www.opengis.net/ogc", "http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd")), r13.data)
    r11 = client.get("/wms", query_string={"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "nope"})
    assert r11.mimetype == "application/vnd.ogc.se_xml"
    assert_valid_dtd(ogc_schemas / "ogc/wms/1.1.1/exception_1_1_1.dtd", r11.data)


def _layer(doc, name):
    return doc.xpath(f"//wms:Layer[wms:Name='{name}']", namespaces={"wms": WMS})[0]


def test_capabilities_content(client, settings):
    doc = etree.fromstring(client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}).data)
    ns = {"wms": WMS}
    names = doc.xpath("//wms:Layer/wms:Name/text()", namespaces=ns)
    assert names == ["parent", "mosaic", "dem", "ms16", "rgba", "masked", "newest", "oldest"]
    assert doc.xpath("//wms:Service/wms:MaxWidth/text()", namespaces=ns) == [str(settings.limits.max_width)]
    assert doc.xpath("//wms:ContactOrganization/text()", namespaces=ns) == ["Test & Co"]
    dem = _layer(doc, "dem")
    crs = dem.xpath("wms:CRS/text()", namespaces=ns)
    assert crs[:2] == ["EPSG:32632", "EPSG:25832"] and {"EPSG:4326", "CRS:84", "EPSG:3857"} <= set(crs)
    boxes = {b.get("CRS"): b for b in dem.xpath("wms:BoundingBox", namespaces=ns)}
    assert set(boxes) == set(crs)  # a BoundingBox in every advertised CRS
    native = boxes["EPSG:32632"]
    assert float(native.get("minx")) == 500000 and float(native.get("maxy")) == 5200000
    geo, lonlat = boxes["EPSG:4326"], boxes["CRS:84"]
    assert float(geo.get("minx")) == pytest.approx(float(lonlat.get("miny")))  # lat first in EPSG:4326
    assert 46 < float(geo.get("minx")) < 48 and 8 < float(lonlat.get("minx")) < 10
    legend = dem.xpath("wms:Style/wms:LegendURL/wms:OnlineResource", namespaces=ns)[0].get(f"{{{XLINK}}}href")
    assert "REQUEST=GetLegendGraphic" in legend and legend.startswith("http://127.0.0.1:8080/wms?")


def test_service_endpoint_lists_only_its_layers(client):
    doc = etree.fromstring(client.get("/services/ordered/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}).data)
    assert doc.xpath("//wms:Layer/wms:Name/text()", namespaces={"wms": WMS}) == ["newest", "oldest"]
    assert doc.xpath("//wms:MaxWidth/text()", namespaces={"wms": WMS}) == ["2048"]
    assert client.get("/services/nothing/wms?SERVICE=WMS&REQUEST=GetCapabilities").status_code == 404
