"""KML 2.2 documents: ground overlays, Region-based super-overlays and footprint placemarks."""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Sequence

from lxml import etree

from ogcserver.core import tiling
from ogcserver.model.catalog import CatalogItem, LayerInfo
from ogcserver.model.geo import BBox, lonlat_intersects, lonlat_parts, whole_longitudes

KML_NS = "http://www.opengis.net/kml/2.2"
KML = f"{{{KML_NS}}}"
KML_TYPE = "application/vnd.google-earth.kml+xml"
KMZ_TYPE = "application/vnd.google-earth.kmz"
LOD_MIN_PIXELS = 128  # a tile shows once it covers this many screen pixels


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, KML + tag, **attrs)
    if text is not None:
        node.text = text
    return node


def _document(name: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(KML + "kml", nsmap={None: KML_NS})
    doc = _el(root, "Document")
    _el(doc, "name", name)
    return root, doc


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _lat_lon_box(parent: etree._Element, tag: str, box: BBox) -> None:
    node = _el(parent, tag)
    _el(node, "north", repr(box.maxy))
    _el(node, "south", repr(box.miny))
    _el(node, "east", repr(box.maxx))
    _el(node, "west", repr(box.minx))


def _region(parent: etree._Element, box: BBox, max_pixels: int) -> None:
    region = _el(parent, "Region")
    _lat_lon_box(region, "LatLonAltBox", box)
    lod = _el(region, "Lod")
    _el(lod, "minLodPixels", str(LOD_MIN_PIXELS))
    _el(lod, "maxLodPixels", str(max_pixels))


def ground_overlay(name: str, image_href: str, box: BBox) -> bytes:
    """One image over a lon/lat box (WMS GetMap as KML)."""
    root, doc = _document(name)
    overlay = _el(doc, "GroundOverlay")
    _el(overlay, "name", name)
    icon = _el(overlay, "Icon")
    _el(icon, "href", image_href)
    _lat_lon_box(overlay, "LatLonBox", box)
    return _serialize(root)


def time_series_overlays(name: str, box: BBox, steps: Sequence[tuple[str, str, str | None, str | None]]) -> bytes:
    """One image per time step over a lon/lat box, each shown from its time to the next one's
    (a TimeSpan), so Google Earth's time slider plays the series; ``steps``: (time, image href,
    its instant on the slider, the next one's; None: none, see ``slider_times.py``)."""
    root, doc = _document(name)
    for step, href, begin, end in steps:
        overlay = _el(doc, "GroundOverlay")
        _el(overlay, "name", f"{name} {step}")
        if begin is not None:
            span = _el(overlay, "TimeSpan")
            _el(span, "begin", begin)
            if end is not None:
                _el(span, "end", end)
        icon = _el(overlay, "Icon")
        _el(icon, "href", href)
        _lat_lon_box(overlay, "LatLonBox", box)
    return _serialize(root)


def kmz(kml: bytes, files: dict[str, bytes]) -> bytes:
    """A KMZ: doc.kml first, then the files it refers to by relative path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", kml)
        for name, data in files.items():
            z.writestr(name, data, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def leaf_zoom(info: LayerInfo) -> int:
    """The zoom where the pyramid stops: the first as fine as the layer."""
    return tiling.native_zoom(info, tiling.well_known("WorldCRS84Quad"))


def _children(tms: tiling.TileMatrixSet, info: LayerInfo, z: int, x: int, y: int) -> list[tuple[int, int, int]]:
    """The next level's tiles under (z, x, y) that touch the layer."""
    if z >= leaf_zoom(info):
        return []
    area = info.lonlat_bounds
    m0, m1 = tms.tms.matrix(z), tms.tms.matrix(z + 1)
    fx, fy = m1.matrixWidth // m0.matrixWidth, m1.matrixHeight // m0.matrixHeight
    out = []
    for cy in range(y * fy, (y + 1) * fy):
        for cx in range(x * fx, (x + 1) * fx):
            if lonlat_intersects(tms.tile_bbox(z + 1, cx, cy), area):
                out.append((z + 1, cx, cy))
    return out


def _network_link(parent: etree._Element, name: str, href: str, box: BBox) -> None:
    link = _el(parent, "NetworkLink")
    _el(link, "name", name)
    _region(link, box, -1)
    target = _el(link, "Link")
    _el(target, "href", href)
    _el(target, "viewRefreshMode", "onRegion")


def superoverlay_root(info: LayerInfo, kml_base: str, start: list[tuple[int, int, int]], query: str = "") -> bytes:
    """The entry point: the layer's Region and links to the tiles the pyramid starts with."""
    tms = tiling.well_known("WorldCRS84Quad")
    root, doc = _document(info.title)
    _el(doc, "description", info.abstract)
    # KML's schema keeps longitudes within 180: a layer across it gets every longitude here, and
    # the start tiles' own regions (on both sides) say where it is
    _region(doc, whole_longitudes(info.lonlat_bounds), -1)
    for z, x, y in start:
        _network_link(doc, f"{z}/{x}/{y}", f"{kml_base}/{z}/{x}/{y}.kml{query}", tms.tile_bbox(z, x, y))
    return _serialize(root)


def superoverlay_tile(info: LayerInfo, z: int, x: int, y: int, kml_base: str, tile_href: str, query: str = "") -> bytes:
    """One tile of the pyramid: its image while it is big enough on screen, and links one level down."""
    tms = tiling.well_known("WorldCRS84Quad")
    box = tms.tile_bbox(z, x, y)
    children = _children(tms, info, z, x, y)
    root, doc = _document(f"{info.name} {z}/{x}/{y}")
    _region(doc, box, 512 if children else -1)  # hand over to the children once they would be sharper
    overlay = _el(doc, "GroundOverlay")
    _el(overlay, "drawOrder", str(z))
    icon = _el(overlay, "Icon")
    _el(icon, "href", tile_href)
    _lat_lon_box(overlay, "LatLonBox", box)
    for cz, cx, cy in children:
        _network_link(doc, f"{cz}/{cx}/{cy}", f"{kml_base}/{cz}/{cx}/{cy}.kml{query}", tms.tile_bbox(cz, cx, cy))
    return _serialize(root)


def footprints(info: LayerInfo, items: list[CatalogItem]) -> bytes:
    """Each item's footprint as a Placemark, with its metadata in the balloon and its date."""
    root, doc = _document(f"{info.title}: footprints")
    style = _el(doc, "Style", id="footprint")
    line = _el(style, "LineStyle")
    _el(line, "color", "ff00c8ff")
    _el(line, "width", "2")
    poly = _el(style, "PolyStyle")
    _el(poly, "fill", "0")
    for item in items:
        mark = _el(doc, "Placemark")
        _el(mark, "name", item.name)
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in sorted(item.source.attributes.items())
        )
        when = item.source.acquired.isoformat() if item.source.acquired else ""
        _el(mark, "description", f"<table><tr><th>acquired</th><td>{html.escape(when)}</td></tr>{rows}</table>")
        if item.source.acquired:
            stamp = _el(mark, "TimeStamp")
            _el(stamp, "when", item.source.acquired.strftime("%Y-%m-%dT%H:%M:%SZ"))
        _el(mark, "styleUrl", "#footprint")
        parts = lonlat_parts(item.lonlat_bounds)  # across 180: one polygon on each side
        shapes = _el(mark, "MultiGeometry") if len(parts) > 1 else mark
        for b in parts:
            ring = _el(_el(_el(shapes, "Polygon"), "outerBoundaryIs"), "LinearRing")
            corners = [(b.minx, b.miny), (b.maxx, b.miny), (b.maxx, b.maxy), (b.minx, b.maxy), (b.minx, b.miny)]
            _el(ring, "coordinates", " ".join(f"{x!r},{y!r}" for x, y in corners))
    return _serialize(root)


def start_tiles(info: LayerInfo) -> list[tuple[int, int, int]]:
    """The deepest zoom at which the layer still fits in at most 4 tiles (at least zoom 0), and
    no deeper than the pyramid's leaves (a small layer may fit in 4 tiles far past them)."""
    tms = tiling.well_known("WorldCRS84Quad")
    best = None
    for z in range(tms.minzoom, leaf_zoom(info) + 1):
        spans = [tms.tiles_over(part, z) for part in lonlat_parts(info.lonlat_bounds)]  # both sides of 180
        tiles = [(z, x, y) for span in spans if span is not None
                 for y in range(span[1], span[3] + 1) for x in range(span[0], span[2] + 1)]
        if not tiles or len(tiles) > 4:
            break
        best = tiles
    return best or []
