"""The WMTS capabilities view model: layers, their tile matrix sets, RESTful resource URLs."""

from __future__ import annotations

from ogcserver.core import tiling
from ogcserver.core.catalog import Layer
from ogcserver.model.catalog import LayerInfo
from ogcserver.model.geo import epsg_code, whole_longitudes
from ogcserver.ows.capabilities import bbox_in, dimension_views, fmt, ordered, render
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.legends import style_views, wms_url
from ogcserver.ows.wmts.parse import ADVERTISED_TILE_FORMATS, INFO_FORMATS
from ogcserver.settings import Settings

# every feature info format as a RESTful resource: QGIS asks for text or HTML, which it can read
INFO_RESOURCE_FORMATS = [("application/json", "json"), ("text/html", "html"), ("text/plain", "txt"), ("text/xml", "xml")]
WKSS = {"WebMercatorQuad": "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible", "WorldCRS84Quad": "urn:ogc:def:wkss:OGC:1.0:GoogleCRS84Quad"}


def _crs_urn(t: tiling.TileMatrixSet) -> str | None:
    """The set's SupportedCRS, a URI; None for a CRS without an EPSG code, which has none."""
    if t.id == "WorldCRS84Quad":
        return "urn:ogc:def:crs:OGC:1.3:CRS84"
    code = epsg_code(t.crs)
    return f"urn:ogc:def:crs:EPSG::{code}" if code else None


def _offered(info: LayerInfo) -> list[tiling.TileMatrixSet]:
    """The layer's sets whose CRS a URI names. SupportedCRS is a URI (xs:anyURI): a native set
    in a CRS that only WKT describes (a geostationary view, an unnamed datum) would make the
    document invalid, and QGIS, which cannot read its CRS, draws its tiles in the wrong place."""
    return [t for t in tiling.sets_for(info) if _crs_urn(t) is not None]


def _matrix_set_view(t: tiling.TileMatrixSet) -> dict:
    """Corners as morecantile keeps them: in the order of the CRS's axes (lat lon for EPSG:4326,
    northing easting for EPSG:3035, lon lat for CRS84), as WMTS 1.0.0 wants them."""
    matrices = [{
        "id": m.id, "scale": repr(m.scaleDenominator), "corner": " ".join(fmt(v) for v in m.pointOfOrigin),
        "tile_width": m.tileWidth, "tile_height": m.tileHeight, "width": m.matrixWidth, "height": m.matrixHeight,
    } for m in t.tms.tileMatrices]
    return {"id": t.id, "crs": _crs_urn(t), "wkss": WKSS.get(t.id), "matrices": matrices}


def _boxes(layer: Layer, matrix_sets: list[tiling.TileMatrixSet]) -> list[dict]:
    """The layer's extent in the CRS of each of its sets, in that CRS's axis order: GDAL's WMTS
    driver takes the extent of the set it opens from the box in the set's CRS (CRS84's is the
    WGS84BoundingBox)."""
    boxes = {}
    for t in matrix_sets:
        code = epsg_code(t.crs)
        if t.id == "WorldCRS84Quad" or code is None:
            continue
        box = bbox_in(layer.info.bounds, f"EPSG:{code}")
        if box is not None:
            minx, miny, maxx, maxy = ordered(box, f"EPSG:{code}", yx_allowed=True)
            urn = f"urn:ogc:def:crs:EPSG::{code}"
            boxes[urn] = {"crs": urn, "lower": f"{minx} {miny}", "upper": f"{maxx} {maxy}"}
    return list(boxes.values())


def capabilities_document(layers: list[Layer], settings: Settings, endpoint: Endpoint, rest: str) -> bytes:
    views: list[dict] = []
    sets: dict[str, tiling.TileMatrixSet] = {}
    for layer in layers:
        info = layer.info
        matrix_sets = _offered(info)
        for t in matrix_sets:
            sets.setdefault(t.id, t)
        b = whole_longitudes(info.lonlat_bounds)  # WGS84BoundingBox: GDAL and QGIS take west < east
        views.append({
            "name": info.name, "title": info.title, "abstract": info.abstract,
            "lonlat": (fmt(b.minx), fmt(b.miny), fmt(b.maxx), fmt(b.maxy)),
            "styles": style_views(layer, wms_url(endpoint.url, "/wmts")),
            "boxes": _boxes(layer, matrix_sets),
            "tms": [t.id for t in matrix_sets],
            "dimensions": dimension_views(info),
        })
    scoped = next((s for s in settings.services if s.name == endpoint.service), None)
    return render(
        "wmts_1.0.0.xml.j2",
        url=endpoint.url, rest=rest,
        title=(scoped.title if scoped and scoped.title else settings.title),
        abstract=(scoped.abstract if scoped and scoped.abstract else settings.abstract),
        keywords=list((scoped.keywords if scoped else ()) or settings.keywords),
        fees=scoped.fees if scoped else settings.fees,
        access_constraints=scoped.access_constraints if scoped else settings.access_constraints,
        contact=(scoped.contact if scoped and scoped.contact else settings.contact),
        layers=views,
        formats=ADVERTISED_TILE_FORMATS,
        info_formats=sorted(set(INFO_FORMATS.values())),
        resource_formats=[("image/png", "png"), ("image/jpeg", "jpg")],
        info_resource_formats=INFO_RESOURCE_FORMATS,
        matrix_sets=[_matrix_set_view(t) for t in sets.values()],
    )
