"""Catalog items as GeoJSON Features shaped like STAC Items, with links to use each one alone."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import shapely

from ogcserver.model.band_files import parse_stack_path
from ogcserver.model.catalog import CatalogItem, LayerInfo
from ogcserver.model.geo import geojson_bbox, lonlat_shape
from ogcserver.model.time import format_time


def _geometry(item: CatalogItem) -> dict[str, Any]:
    if item.footprint is not None:
        return item.footprint
    return shapely.geometry.mapping(lonlat_shape(item.lonlat_bounds))  # cut at 180, as GeoJSON wants


GEOTIFF = "image/tiff; application=geotiff"


def original_form(item: CatalogItem) -> tuple[str, str, str]:
    """The file name, media type and title of an item's original download: a scene of one file
    per band is a zip of its files (storage/readers/scene_archive.py)."""
    stack = parse_stack_path(item.source.path)
    if stack is not None:
        return f"{stack.name}.zip", "application/zip", "The original band files and metadata of the scene"
    return item.source.path.rsplit("/", 1)[-1], GEOTIFF, "The original file"


def item_links(info: LayerInfo, item: CatalogItem, base_url: str, download: bool) -> list[dict[str, str]]:
    """Self, the collection, a map of this item alone (WMS with an id filter) and its file."""
    own = f"{base_url}/catalog/{quote(info.name)}/items/{quote(item.key, safe='')}"
    b = item.lonlat_bounds
    alone = urlencode({
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": info.name, "STYLES": "",
        "CRS": "CRS:84", "BBOX": f"{b.minx},{b.miny},{b.maxx},{b.maxy}", "WIDTH": "512",
        "HEIGHT": str(max(1, min(4096, round(512 * b.height / b.width)))) if b.width > 0 else "512",
        "FORMAT": "image/png", "TRANSPARENT": "TRUE", "FILTER": f"id = '{item.key.replace(chr(39), chr(39) * 2)}'",
    })
    links = [
        {"rel": "self", "href": own, "type": "application/geo+json"},
        {"rel": "collection", "href": f"{base_url}/catalog/{quote(info.name)}", "type": "application/json"},
        {"rel": "preview", "href": f"{base_url}/wms?{alone}", "type": "image/png", "title": "This item alone"},
    ]
    if download:
        _name, media, title = original_form(item)
        links.append({"rel": "enclosure", "href": f"{own}/download", "type": media, "title": title})
    return links


def bare_feature(item: CatalogItem, **extra: Any) -> dict[str, Any]:
    """The item as a GeoJSON Feature: id, box, footprint, time and attributes (plus ``extra``)."""
    b = item.lonlat_bounds
    return {
        "type": "Feature", "id": item.key, "bbox": geojson_bbox(b), "geometry": _geometry(item),
        "properties": {"datetime": format_time(item.acquired) if item.acquired else None, **item.properties, **extra},
    }


def item_feature(info: LayerInfo, item: CatalogItem, base_url: str, download: bool) -> dict[str, Any]:
    source = item.source
    feature = bare_feature(
        item,
        **{"proj:code": source.crs if source.crs.startswith("EPSG:") else None,
           "proj:shape": [source.height, source.width]},
        gsd=round(source.resolution[0], 6), bands=source.count, data_type=source.dtype,
    )
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item.key,
        "collection": info.name,
        "bbox": feature["bbox"],
        "geometry": feature["geometry"],
        "properties": feature["properties"],
        "links": item_links(info, item, base_url, download),
        "assets": {"data": {"href": f"{base_url}/catalog/{quote(info.name)}/items/{quote(item.key, safe='')}/download",
                            "type": original_form(item)[1], "roles": ["data"]}} if download else {},
    }


def feature_collection(info: LayerInfo, items: list[CatalogItem], base_url: str, download: bool,
                       next_href: str | None) -> dict[str, Any]:
    links = [{"rel": "next", "href": next_href, "type": "application/geo+json"}] if next_href else []
    return {
        "type": "FeatureCollection",
        "features": [item_feature(info, i, base_url, download) for i in items],
        "numberReturned": len(items),
        "links": links,
    }
