"""A job's inputs (from the command line or a Processes request body, as JSON values) checked
and turned into a spec: the processing template by name or an ad-hoc chain in the syntax of
renderingRule, the area, CRS, resolution, time range and polygon."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ogcserver.core.analysis.plan import AnalysisSpec
from ogcserver.core.catalog import Layer
from ogcserver.core.config import NAME_PATTERN
from ogcserver.core.engine import Engine
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.core.seed import lonlat_polygon
from ogcserver.model.access import UNCONSTRAINED, Constraints
from ogcserver.model.errors import InvalidValue
from ogcserver.model.geo import BBox, crs_object, transform_bbox
from ogcserver.model.time import parse_time

MAX_CHAIN_CHARS = 20_000


def template_from(engine: Engine, inputs: Mapping[str, Any]) -> ProcessingTemplate | None:
    """The template named by ``template``, or the ad-hoc ``chain`` ({"bands": ..., "chain": [...]},
    as a JSON object or its text); neither: the layer's values as they are."""
    name, chain = inputs.get("template"), inputs.get("chain")
    if name is not None and chain is not None:
        raise InvalidValue("chain", "give a template or a chain, not both")
    if name is not None:
        found = engine.settings.template(str(name))
        if found is None:
            raise InvalidValue("template", f"no processing template is named '{str(name)[:64]}'")
        return found
    if chain is None:
        return None
    if isinstance(chain, str):
        if len(chain) > MAX_CHAIN_CHARS:
            raise InvalidValue("chain", "the chain is too long")
        try:
            chain = json.loads(chain)
        except (ValueError, RecursionError):
            raise InvalidValue("chain", "the chain is not valid JSON") from None
    if not isinstance(chain, dict):
        raise InvalidValue("chain", 'the chain must be an object: {"chain": [{"function": ...}]}')
    try:
        return ProcessingTemplate.model_validate({**chain, "name": "analysis"})
    except (ValidationError, RecursionError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": "nested too deeply"}
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidValue("chain", f"chain {where}: {first['msg']}"[:300]) from None


def _numbers(value: Any, count: int, name: str) -> tuple[float, ...]:
    parts = value.split(",") if isinstance(value, str) else value
    try:
        numbers = tuple(float(v) for v in parts)
    except (TypeError, ValueError):
        raise InvalidValue(name, f"give {count} numbers separated by commas") from None
    if len(numbers) != count:
        raise InvalidValue(name, f"give {count} numbers separated by commas")
    return numbers


def output_crs(value: Any, default: str) -> str:
    """The output CRS as EPSG:n, one PROJ knows (``default`` when none is given)."""
    if value in (None, ""):
        return default
    text = str(value).strip()
    if not text.upper().startswith("EPSG:") or not text[5:].isdigit():
        raise InvalidValue("crs", "give the output CRS as EPSG:n")
    try:
        crs_object(text.upper())
    except Exception:  # noqa: BLE001 - PROJ's own exception types vary by version
        raise InvalidValue("crs", f"'{text[:20]}' is not a CRS PROJ knows") from None
    return text.upper()


def spec_from_inputs(engine: Engine, layer: Layer, inputs: Mapping[str, Any], owner: str = "operator",
                     constraints: Constraints = UNCONSTRAINED, chunk_size: int = 1024) -> AnalysisSpec:
    """A checked spec for the layer. ``bbox`` is in the output CRS (default: the layer's CRS and
    whole extent); ``resolution`` in its units (default: the layer's, in its own CRS)."""
    output = str(inputs.get("output") or "")
    if not re.fullmatch(NAME_PATTERN, output):
        raise InvalidValue("output", "the output name must start with a letter or '_' and hold only letters, "
                                     "digits, '_' and '-'")
    info = layer.info
    crs = output_crs(inputs.get("crs"), info.crs)
    if inputs.get("bbox") not in (None, ""):
        bounds = _numbers(inputs["bbox"], 4, "bbox")
    else:
        bounds = transform_bbox(info.bounds, crs).as_tuple() if crs != info.crs else info.bounds.as_tuple()
    if inputs.get("resolution") not in (None, ""):
        (resolution,) = _numbers([inputs["resolution"]], 1, "resolution")
    elif crs == info.crs:
        resolution = min(info.resolution)
    else:
        raise InvalidValue("resolution", "give the resolution of an output in another CRS than the layer's")
    polygon = inputs.get("polygon")
    if polygon is not None:
        try:
            lonlat_polygon(polygon)
        except ValueError as exc:
            raise InvalidValue("polygon", str(exc)) from None
    time_text = inputs.get("time")
    template = template_from(engine, inputs)
    if template is not None:
        template = engine.with_statistics(layer, template, engine.limits(info.service))
    box = BBox.from_bounds(bounds, crs).as_tuple()  # four values, in order
    return AnalysisSpec(info.name, output, crs, box, resolution, template,
                        parse_time(str(time_text), "time") if time_text else None, polygon,
                        chunk_size, owner, constraints)
