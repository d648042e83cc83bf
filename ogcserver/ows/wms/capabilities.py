"""The WMS capabilities view model: layers grouped by service, boxes in every advertised CRS."""

from __future__ import annotations

from dataclasses import dataclass

from ogcserver.core.catalog import Layer
from ogcserver.model.geo import BBox, lonlat_union, whole_longitudes
from ogcserver.ows.capabilities import bbox_in, dimension_views, fmt, ordered, render
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.legends import style_views
from ogcserver.ows.wms.parse import ADVERTISED_MAP_FORMATS, INFO_FORMATS
from ogcserver.settings import Limits, Settings


@dataclass(frozen=True)
class BoxView:
    crs: str
    minx: str
    miny: str
    maxx: str
    maxy: str
    resx: str
    resy: str


def _lonlat(box: BBox) -> dict[str, str]:
    """EX_GeographicBoundingBox / LatLonBoundingBox: every longitude for a box across 180, since
    clients read west and east as a minimum and a maximum."""
    box = whole_longitudes(box)
    return {"west": fmt(box.minx), "east": fmt(box.maxx), "south": fmt(box.miny), "north": fmt(box.maxy)}


def _layer_view(layer: Layer, endpoint: Endpoint, version: str) -> dict:
    info = layer.info
    boxes = []
    for code in info.advertised_crs:
        box = bbox_in(info.bounds, code)
        if box is None:
            continue
        values = ordered(box, code, yx_allowed=version == "1.3.0")
        same = box.crs == info.crs
        res = (fmt(info.resolution[0]), fmt(info.resolution[1])) if same else ("", "")
        boxes.append(BoxView(code, *values, *res))
    crs_list = [b.crs for b in boxes]
    return {
        "name": info.name,
        "title": info.title,
        "abstract": info.abstract,
        "keywords": list(info.keywords),
        "crs": crs_list,
        "lonlat": _lonlat(info.lonlat_bounds),
        "boxes": boxes,
        "styles": style_views(layer, endpoint.url, version),
        "dimensions": dimension_views(info),
    }


def capabilities_document(
    version: str, layers: list[Layer], settings: Settings, limits: Limits, endpoint: Endpoint
) -> bytes:
    services = [s for s in settings.services if endpoint.service in (None, s.name)]
    groups = []
    for service in services:
        views = [_layer_view(layer, endpoint, version) for layer in layers if layer.info.service == service.name]
        if views:
            groups.append({"title": service.title or service.name, "abstract": service.abstract, "layers": views})
    scoped = services[0] if endpoint.service is not None and services else None
    root_crs = list(dict.fromkeys(c for g in groups for lv in g["layers"] for c in lv["crs"]))
    lonlat = (whole_longitudes(lonlat_union([layer.info.lonlat_bounds for layer in layers])) if layers
              else BBox(-180, -90, 180, 90, "EPSG:4326"))
    root_boxes = []
    for code in ("CRS:84", "EPSG:4326") if version == "1.3.0" else ("EPSG:4326",):
        root_boxes.append(BoxView(code, *ordered(lonlat, code, yx_allowed=version == "1.3.0"), "", ""))
    context = {
        "version": version,
        "url": endpoint.url,
        "title": (scoped.title if scoped and scoped.title else settings.title),
        "abstract": (scoped.abstract if scoped and scoped.abstract else settings.abstract),
        "keywords": list((scoped.keywords if scoped else ()) or settings.keywords),
        "contact": (scoped.contact if scoped and scoped.contact else settings.contact),
        "fees": scoped.fees if scoped else settings.fees,
        "access_constraints": scoped.access_constraints if scoped else settings.access_constraints,
        "limits": limits,
        "map_formats": ADVERTISED_MAP_FORMATS,
        "info_formats": INFO_FORMATS,
        "root_crs": root_crs or ["EPSG:4326"],
        "root_lonlat": _lonlat(lonlat),
        "root_boxes": root_boxes,
        "groups": groups,
        "single_group": len(groups) == 1,
    }
    template = "wms_1.3.0.xml.j2" if version == "1.3.0" else "wms_1.1.1.xml.j2"
    return render(template, **context)
