"""The catalog query API: a layer's items as GeoJSON, shaped like STAC item search
(bbox, datetime, filter, sortby, limit and paging), each item alone, and its original file."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote, urlencode

from ogcserver.core.engine import Engine
from ogcserver.core.filters import parse_filter
from ogcserver.core.query import ItemQuery, ItemSearch
from ogcserver.model.access import Action
from ogcserver.model.catalog import LayerInfo
from ogcserver.model.errors import OgcServerError
from ogcserver.model.geo import WGS84, BBox, geojson_bbox
from ogcserver.model.mosaic import ATTRIBUTE, Ordering
from ogcserver.model.time import format_time, parse_time
from ogcserver.ows.catalog.errors import CATALOG_FORMAT
from ogcserver.ows.catalog.features import feature_collection, item_feature, original_form
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import Params
from ogcserver.ows.response import OwsResponse

GEOJSON = "application/geo+json"
MAX_LIMIT = 1000
CHUNK = 1 << 20


def _json(document: object, status: int = 200, content_type: str = GEOJSON) -> OwsResponse:
    return OwsResponse(json.dumps(document, separators=(",", ":")).encode(), content_type, status)


def parse_bbox(text: str) -> BBox:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise OwsError("InvalidParameterValue", "bbox must be minlon,minlat,maxlon,maxlat", "bbox") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise OwsError("InvalidParameterValue", "bbox must be four numbers: minlon,minlat,maxlon,maxlat", "bbox")
    box = BBox(*values, WGS84)
    if not box.is_valid():
        raise OwsError("InvalidParameterValue", "bbox minimums must be below its maximums", "bbox")
    return box


def parse_sortby(text: str) -> Ordering | None:
    """``+field``/``-field`` (STAC API sort extension); the first field decides."""
    first = text.split(",")[0].strip()
    if not first:
        return None
    descending = first.startswith("-")
    name = first.lstrip("+-").strip()
    if not ATTRIBUTE.match(name):
        raise OwsError("InvalidParameterValue", f"'{name[:40]}' cannot be sorted by", "sortby")
    return Ordering("attribute", name, descending)


def parse_search(params: Params, layer: str, service: str | None, endpoint: Endpoint) -> ItemSearch:
    limit = params.int("LIMIT", default=10, minimum=1)
    offset = params.int("OFFSET", default=0, minimum=0)
    text_filter = (params.get("FILTER") or "").strip()
    if (params.get("FILTER-LANG") or "cql2-text").strip().lower() != "cql2-text":
        raise OwsError("InvalidParameterValue", "filter-lang must be cql2-text", "filter-lang")
    text_time = (params.get("DATETIME") or "").strip()
    items = ItemQuery(
        where=parse_filter(text_filter) if text_filter else None,
        time=parse_time(text_time, "datetime") if text_time else None,
        ordering=parse_sortby(params.get("SORTBY") or ""),
    )
    area = parse_bbox(params.get("BBOX") or "") if params.get("BBOX") else None
    return ItemSearch(layer, area, items, min(limit, MAX_LIMIT), offset, service, endpoint.principal)


class CatalogService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _downloads(self, info: LayerInfo, endpoint: Endpoint) -> bool:
        """Whether items link their original file: the service offers downloads and the caller
        is granted them (a link that would answer 403 is left out)."""
        offered = next(s for s in self.engine.settings.services if s.name == info.service).allow_download
        return offered and self.engine.permits(endpoint.principal, info, Action.DOWNLOAD)

    def search(self, params: Params, layer: str, endpoint: Endpoint, url: str) -> OwsResponse:
        try:
            query = parse_search(params, layer, endpoint.service, endpoint)
            found, items, more = self.engine.search_items(query)
        except (OgcServerError, OwsError) as exc:
            return CATALOG_FORMAT.response(exc)
        next_href = None
        if more:
            pairs = [(k.lower(), v) for k, v in params.as_dict().items() if k != "OFFSET"]
            next_href = f"{url}?{urlencode(pairs + [('offset', str(query.offset + query.limit))])}"
        document = feature_collection(found.info, items, endpoint.base_url, self._downloads(found.info, endpoint), next_href)
        return _json(document)

    def collection(self, layer: str, endpoint: Endpoint) -> OwsResponse:
        """The layer as a STAC-like collection: extent, item count and the items link."""
        try:
            found, _constraints = self.engine.resolve(layer, "", endpoint.service, endpoint.principal,
                                                      Action.QUERY, "catalog")
        except OgcServerError as exc:
            return CATALOG_FORMAT.response(exc)
        info = found.info
        b = info.lonlat_bounds
        times = [format_time(t) for t in info.time_extent] if info.time_extent else [None, None]
        own = f"{endpoint.base_url}/catalog/{quote(info.name)}"
        return _json({
            "type": "Collection", "stac_version": "1.0.0", "id": info.name, "title": info.title,
            "description": info.abstract, "license": "other",
            "extent": {"spatial": {"bbox": [geojson_bbox(b)]}, "temporal": {"interval": [times]}},
            "summaries": {"item_count": info.item_count},
            "links": [{"rel": "self", "href": own, "type": "application/json"},
                      {"rel": "items", "href": f"{own}/items", "type": GEOJSON}],
        }, content_type="application/json")

    def item(self, layer: str, key: str, endpoint: Endpoint) -> OwsResponse:
        try:
            found, item = self.engine.item(layer, key, endpoint.service, endpoint.principal)
        except OgcServerError as exc:
            return CATALOG_FORMAT.response(exc)
        return _json(item_feature(found.info, item, endpoint.base_url, self._downloads(found.info, endpoint)))

    def download(self, layer: str, key: str, endpoint: Endpoint) -> OwsResponse:
        try:
            item, stream, size = self.engine.original(layer, key, endpoint.service, endpoint.principal)
        except OgcServerError as exc:
            return CATALOG_FORMAT.response(exc)
        name, media, _title = original_form(item)
        name = name.replace('"', "")
        return OwsResponse(b"", "application/zip" if media == "application/zip" else "application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{name}"'}, stream=_chunks(stream), length=size)


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk
