"""GetFeatureInfo answers in text/plain, application/json, text/xml and text/html."""

from __future__ import annotations

import html
import json
import math

from lxml import etree

from ogcserver.core.engine import ItemHit, LayerFeatures


def _value(v: float) -> float | None:
    return None if not math.isfinite(v) else (int(v) if float(v).is_integer() else v)


def _band_names(features: LayerFeatures, count: int) -> list[str]:
    names = list(features.band_names)
    return [(names[i] if i < len(names) and names[i] else f"band_{i + 1}") for i in range(count)]


def _item_fields(hit: ItemHit) -> dict[str, object]:
    source = hit.item.source
    return {
        "item": hit.item.name,
        "id": hit.item.key,
        "acquired": source.acquired.isoformat() if source.acquired else None,
        "attributes": {k: str(v) for k, v in sorted(hit.item.properties.items())},
    }


def _as_dict(features: LayerFeatures) -> dict[str, object]:
    hits = []
    for hit in features.hits:
        names = _band_names(features, len(hit.values))
        hits.append({"values": {n: _value(v) for n, v in zip(names, hit.values)}, **_item_fields(hit)})
    return {"layer": features.layer, "x": features.x, "y": features.y, "crs": features.crs, "features": hits}


def format_feature_info(results: list[LayerFeatures], info_format: str) -> tuple[bytes, str]:
    data = [_as_dict(f) for f in results]
    if info_format == "application/json":
        return json.dumps({"type": "FeatureInfo", "layers": data}, indent=1).encode(), "application/json"
    if info_format == "text/xml":
        root = etree.Element("FeatureInfoResponse")
        for layer in data:
            node = etree.SubElement(root, "Layer", name=layer["layer"])
            for hit in layer["features"]:
                feat = etree.SubElement(node, "Feature", item=hit["item"])
                if hit["acquired"]:
                    feat.set("acquired", hit["acquired"])
                for name, value in hit["values"].items():
                    etree.SubElement(feat, "Value", band=name).text = "" if value is None else str(value)
                for key, value in hit["attributes"].items():
                    etree.SubElement(feat, "Attribute", name=key).text = value
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), "text/xml"
    if info_format == "text/html":
        parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feature info</title></head><body>"]
        for layer in data:
            parts.append(f"<h3>{html.escape(layer['layer'])}</h3>")
            if not layer["features"]:
                parts.append("<p>No data at this point.</p>")
            for hit in layer["features"]:
                parts.append(f"<table><caption>{html.escape(hit['item'])}</caption>")
                rows = list(hit["values"].items())
                if hit["acquired"]:
                    rows.append(("acquired", hit["acquired"]))
                for name, value in rows:
                    parts.append(f"<tr><th>{html.escape(str(name))}</th><td>{html.escape(str(value))}</td></tr>")
                parts.append("</table>")
        parts.append("</body></html>")
        return "".join(parts).encode(), "text/html; charset=utf-8"
    lines = []
    for layer in data:
        lines.append(f"Layer '{layer['layer']}'")
        if not layer["features"]:
            lines.append("  no data at this point")
        for hit in layer["features"]:
            lines.append(f"  item = {hit['item']}")
            if hit["acquired"]:
                lines.append(f"  acquired = {hit['acquired']}")
            for name, value in hit["values"].items():
                lines.append(f"  {name} = {value}")
    return ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8"
