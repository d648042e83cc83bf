"""WCS 2.0.1 requests as XML POST bodies (already parsed by the hardened ows/xml.py parser)."""

from __future__ import annotations

from lxml import etree

from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.wcs.request20 import Request20, Scaling, Subset

WCS = "http://www.opengis.net/wcs/2.0"
OWS = "http://www.opengis.net/ows/2.0"
SCAL = "http://www.opengis.net/WCS_service-extension_scaling/1.0"
INT = "http://www.opengis.net/WCS_service-extension_interpolation/1.0"
RSUB = "http://www.opengis.net/wcs/range-subsetting/1.0"
CRS = "http://www.opengis.net/wcs/crs/1.0"
GEOTIFF = "http://www.opengis.net/gmlcov/geotiff/1.0"
OPERATIONS = ("GetCapabilities", "DescribeCoverage", "GetCoverage")


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _text(node: etree._Element | None) -> str | None:
    return None if node is None else (node.text or "").strip()


def _required(parent: etree._Element, ns: str, name: str) -> str:
    value = _text(parent.find(_q(ns, name)))
    if not value:
        raise OwsError("MissingParameterValue", f"{name} is required in {etree.QName(parent).localname}", name)
    return value


def operation(root: etree._Element) -> str:
    """The WCS 2.0 operation a document asks for."""
    name = etree.QName(root)
    if name.namespace != WCS or name.localname not in OPERATIONS:
        raise OwsError("OperationNotSupported", f"XML requests are WCS 2.0 {', '.join(OPERATIONS)}", "request")
    if root.get("service", "WCS") != "WCS":
        raise OwsError("InvalidParameterValue", "service must be WCS", "service")
    return name.localname


def accept_versions(root: etree._Element) -> str | None:
    versions = [_text(v) or "" for v in root.iterfind(f"{_q(OWS, 'AcceptVersions')}/{_q(OWS, 'Version')}")]
    return ",".join(versions) or None


def coverage_ids(root: etree._Element) -> tuple[str, ...]:
    ids = tuple(_text(n) or "" for n in root.iterfind(_q(WCS, "CoverageId")))
    if not ids or not all(ids):
        raise OwsError("emptyCoverageIdList", "name at least one CoverageId", "CoverageId", status=404)
    return ids


def _subsets(root: etree._Element) -> list[Subset]:
    subsets = []
    for node in root.iterfind(_q(WCS, "DimensionTrim")):
        subsets.append(Subset(_required(node, WCS, "Dimension"), None, _text(node.find(_q(WCS, "TrimLow"))),
                              _text(node.find(_q(WCS, "TrimHigh"))), False))
    for node in root.iterfind(_q(WCS, "DimensionSlice")):
        point = _required(node, WCS, "SlicePoint")
        subsets.append(Subset(_required(node, WCS, "Dimension"), None, point, point, True))
    return subsets


def _scaling(extension: etree._Element) -> Scaling | None:
    scaling = extension.find(_q(SCAL, "Scaling"))
    if scaling is None:
        return None
    forms = (  # element, kind, the element of each axis, its value elements
        ("ScaleByFactor", "factor", None, ("scaleFactor",)),
        ("ScaleAxesByFactor", "axes", "ScaleAxis", ("scaleFactor",)),
        ("ScaleToSize", "size", "TargetAxisSize", ("targetSize",)),
        ("ScaleToExtent", "extent", "TargetAxisExtent", ("low", "high")),
    )
    for element, kind, per_axis, values in forms:
        node = scaling.find(_q(SCAL, element))
        if node is None:
            continue
        if per_axis is None:
            return Scaling(kind, (("", _required(node, SCAL, values[0])),))
        return Scaling(kind, tuple(
            (_required(a, SCAL, "axis"), *(_required(a, SCAL, v) for v in values))
            for a in node.iterfind(_q(SCAL, per_axis))
        ))
    raise OwsError("InvalidParameterValue", "Scaling needs one of its four forms", "Scaling")


def _range_subset(extension: etree._Element) -> list[tuple[str, str | None]] | None:
    node = extension.find(_q(RSUB, "RangeSubset"))
    if node is None:
        return None
    items: list[tuple[str, str | None]] = []
    for item in node.iterfind(_q(RSUB, "RangeItem")):
        if (component := _text(item.find(_q(RSUB, "RangeComponent")))) is not None:
            items.append((component, None))
        elif (interval := item.find(_q(RSUB, "RangeInterval"))) is not None:
            items.append((_required(interval, RSUB, "startComponent"), _required(interval, RSUB, "endComponent")))
    return items


def getcoverage(root: etree._Element) -> Request20:
    ids = coverage_ids(root)
    extension = root.find(_q(WCS, "Extension"))
    if extension is None:
        extension = etree.Element(_q(WCS, "Extension"))
    interpolation = extension.find(_q(INT, "Interpolation"))
    per_axis = [] if interpolation is None else [
        (_required(a, INT, "axis"), _required(a, INT, "interpolationMethod"))
        for a in interpolation.iterfind(_q(INT, "InterpolationPerAxis"))
    ]
    geotiff = extension.find(_q(GEOTIFF, "parameters"))
    return Request20(
        coverage_ids=ids,
        subsets=_subsets(root),
        format=_text(root.find(_q(WCS, "format"))),
        media_type=_text(root.find(_q(WCS, "mediaType"))),
        subsetting_crs=_text(extension.find(_q(CRS, "subsettingCrs"))),
        output_crs=_text(extension.find(_q(CRS, "outputCrs"))),
        scaling=_scaling(extension),
        interpolation=None if interpolation is None else _text(interpolation.find(_q(INT, "globalInterpolation"))),
        interpolation_per_axis=per_axis,
        range_subset=_range_subset(extension),
        geotiff={} if geotiff is None else {etree.QName(n).localname.lower(): (n.text or "").strip()
                                            for n in geotiff if isinstance(n.tag, str)},
    )
