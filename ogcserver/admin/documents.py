"""Edits of a configuration document (the file's plain values), each returning a new document."""

from __future__ import annotations

import copy
from typing import Any


class DocumentError(ValueError):
    """An edit that cannot apply to this document (a layer or service it does not have)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: mappings merge key by key, ``null`` removes a key, anything
    else (lists included) replaces the value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _services(document: dict) -> list[dict]:
    services = document.get("services")
    if not isinstance(services, list):
        raise DocumentError("the configuration has no list of services", 409)
    return [s for s in services if isinstance(s, dict)]


def add_layer(document: dict, service: str, layer: Any) -> dict:
    """The document with ``layer`` appended to the layers of ``service``."""
    if not isinstance(layer, dict):
        raise DocumentError("'layer' must be a mapping of the layer's keys, as in the configuration file")
    edited = copy.deepcopy(document)
    for entry in _services(edited):
        if entry.get("name") == service:
            layers = entry.get("layers")
            entry["layers"] = [*(layers if isinstance(layers, list) else []), layer]
            return edited
    raise DocumentError(f"service '{service[:80]}' is not configured", 404)


def remove_layer(document: dict, name: str) -> dict:
    """The document without the layer called ``name`` (in whichever service has it)."""
    edited = copy.deepcopy(document)
    for entry in _services(edited):
        layers = entry.get("layers")
        if not isinstance(layers, list):
            continue
        kept = [layer for layer in layers if not (isinstance(layer, dict) and layer.get("name") == name)]
        if len(kept) != len(layers):
            entry["layers"] = kept
            return edited
    raise DocumentError(f"layer '{name[:80]}' is not configured", 404)
