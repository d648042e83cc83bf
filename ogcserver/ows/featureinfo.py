"""GetFeatureInfo answers in text/plain, application/json, text/xml, text/html and text/csv.

A query over several steps of a layer's dimensions (a TIME or ELEVATION range) answers with the
pixel's series: each value with its step (time, elevation, ...) and the layer's units."""

from __future__ import annotations

import csv
import html
import io
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


def _scaling(hit: ItemHit, names: list[str]) -> dict[str, dict[str, float]]:
    """Each band's scale and offset where the item's stored values are not physical ones (value x
    scale + offset is: a Landsat scene's reflectance); nothing where they are."""
    source = hit.item.source
    if not source.scales or len(source.scales) != len(names):
        return {}
    return {"scale": dict(zip(names, source.scales, strict=True)),
            "offset": dict(zip(names, source.offsets, strict=True))}


def _series(hit: ItemHit) -> list[dict[str, object]]:
    return [{**dict(point.step), "value": _value(point.value)} for point in hit.series]


def _as_dict(features: LayerFeatures) -> dict[str, object]:
    hits = []
    for hit in features.hits:
        if hit.series:
            hits.append({"series": _series(hit), "units": features.units, **_item_fields(hit)})
            continue
        names = _band_names(features, len(hit.values))
        hits.append({"values": {n: _value(v) for n, v in zip(names, hit.values)}, "units": features.units,
                     **_scaling(hit, names), **_item_fields(hit)})
    return {"layer": features.layer, "x": features.x, "y": features.y, "crs": features.crs, "features": hits}


def _csv(results: list[LayerFeatures]) -> bytes:
    """One row per value: the layer, the item, the step of each dimension (empty for a value of
    one step), the band, the value and its units."""
    dimensions = list(dict.fromkeys(name for f in results for hit in f.hits for p in hit.series for name, _ in p.step))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["layer", "item", *dimensions, "band", "value", "units"])
    for features in results:
        band = features.band_names[0] if features.band_names else "band_1"
        for hit in features.hits:
            for point in hit.series:
                step = dict(point.step)
                writer.writerow([features.layer, hit.item.name, *(step.get(d, "") for d in dimensions), band,
                                 _csv_number(point.value), features.units])
            for name, value in zip(_band_names(features, len(hit.values)), hit.values):
                writer.writerow([features.layer, hit.item.name, *("" for _ in dimensions), name, _csv_number(value),
                                 features.units])
    return out.getvalue().encode()


def _csv_number(value: float) -> str:
    number = _value(value)
    return "" if number is None else repr(number)


def _with_units(value: object, hit: dict) -> str:
    return f"{value} {hit['units']}".strip() if value is not None else "None"


def format_feature_info(results: list[LayerFeatures], info_format: str) -> tuple[bytes, str]:
    if info_format == "text/csv":
        return _csv(results), "text/csv; charset=utf-8"
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
                for name, value in hit.get("values", {}).items():
                    etree.SubElement(feat, "Value", band=name).text = "" if value is None else str(value)
                for point in hit.get("series", []):
                    step = ", ".join(f"{k}={v}" for k, v in point.items() if k != "value")
                    etree.SubElement(feat, "Value", step=step, units=hit["units"]).text = (
                        "" if point["value"] is None else str(point["value"]))
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
                rows = list(hit.get("values", {}).items()) + [
                    (", ".join(f"{k}={v}" for k, v in p.items() if k != "value"), _with_units(p["value"], hit))
                    for p in hit.get("series", [])]
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
            for name, value in hit.get("values", {}).items():
                lines.append(f"  {name} = {value}")
            for point in hit.get("series", []):
                step = ", ".join(f"{k}={v}" for k, v in point.items() if k != "value")
                lines.append(f"  {step}: {_with_units(point['value'], hit)}")
    return ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8"
