"""The styles a layer offers as capabilities list them, each with the URL and size of its
legend (WMS GetLegendGraphic): WMS and WMTS describe the same styles with the same legends."""

from __future__ import annotations

from urllib.parse import urlencode

from ogcserver.core.catalog import Layer
from ogcserver.core.render.legend import SCALE_LEGEND_SIZE

WMS_VERSION = "1.3.0"  # of the legend links of other protocols' capabilities


def wms_url(endpoint_url: str, protocol_path: str) -> str:
    """The WMS endpoint beside another protocol's (``.../wmts`` -> ``.../wms``), same service scope."""
    return endpoint_url.rstrip("/").removesuffix(protocol_path) + "/wms"


def style_views(layer: Layer, wms: str, version: str = WMS_VERSION) -> list[dict]:
    """Name, title, abstract, whether it is the default, and the legend's URL and size of
    each style (the layer's own, then its colour scales)."""
    info = layer.info
    legend_params = {"SERVICE": "WMS", "VERSION": version, "REQUEST": "GetLegendGraphic",
                     "LAYER": info.name, "FORMAT": "image/png"}
    scaled = {s.name for s in info.scalar_styles}
    if layer.config.colour_scale is not None and info.scalar_styles:
        scaled.add("default")
    return [
        {
            "name": s.name, "title": s.title, "abstract": s.abstract, "default": s.name == info.default_style,
            "legend_url": f"{wms}?{urlencode({**legend_params, 'STYLE': s.name})}",
            # a colour scale's bar, the default style's legend, or a processing template's (140 x 140)
            "legend_width": SCALE_LEGEND_SIZE[0] if s.name in scaled else
            140 if s.name != "default" or len(layer.render_bands) == 3 else 120,
            "legend_height": SCALE_LEGEND_SIZE[1] if s.name in scaled else
            66 if s.name == "default" and len(layer.render_bands) == 3 else 140,
        }
        for s in info.all_styles
    ]
