"""OGC exceptions: an error worded for the client, and the exception reports each protocol sends.

Which code a domain error gets is each protocol's table (``error_table`` and the protocols'
``errors`` modules); which report answers is chosen in ``exception_format``.
"""

from __future__ import annotations

import re

from lxml import etree

OGC_NS = "http://www.opengis.net/ogc"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# characters XML 1.0 cannot carry (controls, lone surrogates): a message may quote a request value
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Status codes follow OWS Common 2.0 (clause 8.6): client mistakes 400, unsupported 501.
STATUS = {
    "OperationNotSupported": 501,
    "OptionNotSupported": 501,
    "NoApplicableCode": 500,
    "ServerBusy": 503,
}


class OwsError(Exception):
    """An error already worded for the client: OGC code, message, locator."""

    def __init__(self, code: str, message: str, locator: str | None = None, status: int | None = None) -> None:
        message = NOT_XML.sub("\ufffd", message)
        super().__init__(message)
        self.code = code
        self.message = message
        self.locator = NOT_XML.sub("\ufffd", locator) if locator else locator
        self.status = status if status is not None else STATUS.get(code, 400)


def wms_exception_report(error: OwsError, version: str) -> tuple[bytes, str]:
    """The ServiceExceptionReport of WMS 1.1.1 or 1.3.0, and its content type."""
    if version.startswith("1.1"):
        root = etree.Element("ServiceExceptionReport", version="1.1.1")
        node = etree.SubElement(root, "ServiceException", code=error.code)  # 1.1.1 has no locator
        node.text = error.message
        doctype = '<!DOCTYPE ServiceExceptionReport SYSTEM "http://schemas.opengis.net/wms/1.1.1/exception_1_1_1.dtd">'
        body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype)
        return body, "application/vnd.ogc.se_xml"
    body = ogc_exception_report(error, "1.3.0", "http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd")
    return body, "text/xml"


def ogc_exception_report(error: OwsError, version: str, schema: str) -> bytes:
    """A ServiceExceptionReport in the http://www.opengis.net/ogc namespace (WMS 1.3.0, WCS 1.0.0)."""
    root = etree.Element(f"{{{OGC_NS}}}ServiceExceptionReport", nsmap={None: OGC_NS, "xsi": XSI_NS}, version=version)
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OGC_NS} {schema}")
    node = etree.SubElement(root, f"{{{OGC_NS}}}ServiceException", code=error.code)
    if error.locator:
        node.set("locator", error.locator)
    node.text = error.message
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def ows_exception_report(error: OwsError, version: str = "2.0.0") -> tuple[bytes, str]:
    """An OWS Common ExceptionReport, for requests that name no known service."""
    ns = "http://www.opengis.net/ows/2.0" if version.startswith("2") else "http://www.opengis.net/ows/1.1"
    root = etree.Element(f"{{{ns}}}ExceptionReport", nsmap={None: ns}, version=version)
    node = etree.SubElement(root, f"{{{ns}}}Exception", exceptionCode=error.code)
    if error.locator:
        node.set("locator", error.locator)
    etree.SubElement(node, f"{{{ns}}}ExceptionText").text = error.message
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), "text/xml"
