"""KML and KMZ: the super-overlay entry point per layer, its tiles, footprints, and WMS overlays."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from ogcserver.core import tiling
from ogcserver.core.engine import Engine
from ogcserver.core.query import EVERY_ITEM, ItemQuery, MapQuery
from ogcserver.model.access import Action
from ogcserver.model.errors import OgcServerError, TileOutOfRange
from ogcserver.model.formats import ImageFormat
from ogcserver.model.geo import lonlat_intersects, to_lonlat
from ogcserver.model.image import Grid
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kml import documents
from ogcserver.ows.kml.errors import KML_FORMAT
from ogcserver.ows.kml.slider_times import slider_time
from ogcserver.ows.response import OwsResponse

MAX_FOOTPRINTS = 10_000


class KmlService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _layer(self, name: str, endpoint: Endpoint, style: str = ""):  # noqa: ANN202 - a core Layer
        layer, _constraints = self.engine.resolve(name, style, endpoint.service, endpoint.principal, Action.VIEW, "kml")
        return layer

    @staticmethod
    def _query(style: str, selection: dict[str, str]) -> str:
        """The style and the item selection (FILTER, TIME, mosaic rule), carried to every link."""
        pairs = ([("style", style)] if style else []) + sorted(selection.items())
        return f"?{urlencode(pairs)}" if pairs else ""

    def root(self, name: str, endpoint: Endpoint, as_kmz: bool, style: str = "",
             selection: dict[str, str] | None = None) -> OwsResponse:
        selection = selection or {}
        try:
            info = self._layer(name, endpoint, style).info
            kml = documents.superoverlay_root(info, f"{endpoint.base_url}/kml/{info.name}", documents.start_tiles(info),
                                              self._query(style, selection))
        except OgcServerError as exc:
            return self.error(exc)
        if as_kmz:
            return OwsResponse(documents.kmz(kml, {}), documents.KMZ_TYPE)
        return OwsResponse(kml, documents.KML_TYPE)

    def tile(self, name: str, z: int, x: int, y: int, endpoint: Endpoint, style: str = "",
             selection: dict[str, str] | None = None) -> OwsResponse:
        selection = selection or {}
        try:
            info = self._layer(name, endpoint, style).info
            tms = tiling.well_known("WorldCRS84Quad")
            tms.check(z, x, y)
            if z > documents.leaf_zoom(info) or not lonlat_intersects(tms.tile_bbox(z, x, y), info.lonlat_bounds):
                raise TileOutOfRange("tile", f"tile {z}/{x}/{y} is not part of layer '{info.name}'")
            if style and style != info.default_style:  # the chosen style's tiles, through RESTful WMTS
                href = f"{endpoint.base_url}/wmts/1.0.0/{info.name}/{style}/WorldCRS84Quad/{z}/{y}/{x}.png"
            else:
                href = f"{endpoint.base_url}/tiles/{info.name}/WorldCRS84Quad/{z}/{x}/{y}.png"
            if selection:
                href += self._query("", selection)
            kml = documents.superoverlay_tile(info, z, x, y, f"{endpoint.base_url}/kml/{info.name}", href,
                                              self._query(style, selection))
        except OgcServerError as exc:
            return self.error(exc)
        return OwsResponse(kml, documents.KML_TYPE)

    def footprints(self, name: str, endpoint: Endpoint, want: ItemQuery = EVERY_ITEM) -> OwsResponse:
        try:
            layer, constraints = self.engine.resolve(name, "", endpoint.service, endpoint.principal, Action.QUERY,
                                                     "footprints")
            items = self.engine.items_within(layer, constraints, layer.info.lonlat_bounds, MAX_FOOTPRINTS, want)
            kml = documents.footprints(layer.info, items)
        except OgcServerError as exc:
            return self.error(exc)
        return OwsResponse(kml, documents.KML_TYPE)

    def wms_overlay(self, query: MapQuery, as_kmz: bool, endpoint: Endpoint, wms_params: dict[str, str]) -> OwsResponse:
        """WMS GetMap as KML (the image linked back to GetMap) or KMZ (the image inside)."""
        box = to_lonlat(query.grid.bbox)  # across 180, its east edge beyond it, as KML allows for overlays
        grid = Grid.from_bbox(box, query.grid.width, query.grid.height)
        name = ",".join(ref.layer for ref in query.layers)
        if as_kmz:
            image = self.engine.render_map(replace(query, grid=grid, format=ImageFormat.PNG, transparent=True))
            kml = documents.ground_overlay(name, "overlay.png", box)
            return OwsResponse(documents.kmz(kml, {"overlay.png": image.body}), documents.KMZ_TYPE)
        resolved = [self.engine.resolve(ref.layer, ref.style, query.service, query.principal, Action.VIEW, "kml")[0]
                    for ref in query.layers]  # the linked image is checked again when fetched; check now too
        params = {**wms_params, "VERSION": "1.3.0", "CRS": "CRS:84", "FORMAT": "image/png", "TRANSPARENT": "TRUE",
                  "BBOX": f"{box.minx!r},{box.miny!r},{box.maxx!r},{box.maxy!r}"}
        params.pop("SRS", None)
        time = next((d for layer in resolved for d in layer.info.dimensions if d.name == "time"), None)
        if time and not any(k.upper() == "TIME" for k in params):  # the series, for the time slider
            times = time.values[-self.engine.limits(query.service).max_steps:]
            instants = [slider_time(t, time.calendar) for t in times]
            steps = [(t, f"{endpoint.url}?{urlencode({**params, 'TIME': t})}", begin, end)
                     for t, begin, end in zip(times, instants, [*instants[1:], None])]
            return OwsResponse(documents.time_series_overlays(name, box, steps), documents.KML_TYPE)
        href = f"{endpoint.url}?{urlencode(params)}"
        return OwsResponse(documents.ground_overlay(name, href, box), documents.KML_TYPE)

    @staticmethod
    def error(exc: OgcServerError | OwsError) -> OwsResponse:
        return KML_FORMAT.response(exc)
