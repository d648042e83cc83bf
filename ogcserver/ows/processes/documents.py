"""The JSON documents of OGC API - Processes - Part 1: process list and descriptions (inputs and
outputs with JSON schemas), job status (statusInfo), job lists and results."""

from __future__ import annotations

from typing import Any

from ogcserver.core.analysis.jobs import PRODUCT, ZONAL
from ogcserver.model.jobs import JobRecord

EXECUTE_REL = "http://www.opengis.net/def/rel/ogc/1.0/execute"
STRING = {"type": "string"}
NUMBER = {"type": "number"}
GEOJSON = {"type": "object", "contentMediaType": "application/geo+json"}
CHAIN = {"type": "object", "required": ["chain"],
         "properties": {"bands": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                        "chain": {"type": "array", "items": {"type": "object", "required": ["function"]}}}}
BBOX = {"type": "array", "items": NUMBER, "minItems": 4, "maxItems": 4}


def _input(title: str, schema: dict, required: bool = False, description: str = "") -> dict:
    return {"title": title, "description": description, "schema": schema, "minOccurs": 1 if required else 0,
            "maxOccurs": 1}


COMMON_INPUTS = {
    "layer": _input("Input layer", STRING, True, "a layer the caller holds the process grant on"),
    "template": _input("Processing template", STRING, description="a template of the configuration, by name"),
    "chain": _input("Ad-hoc chain", CHAIN, description="the renderingRule syntax: bands read, then functions"),
    "bbox": _input("Area", BBOX, description="minx, miny, maxx, maxy in the output CRS"),
    "crs": _input("Output CRS", {"type": "string", "pattern": "^EPSG:[0-9]+$"}),
    "resolution": _input("Output resolution", {"type": "number", "exclusiveMinimum": 0}),
    "time": _input("Time range", STRING, description="an ISO 8601 time or start/end range of the items read"),
}

PROCESSES: dict[str, dict[str, Any]] = {
    PRODUCT: {
        "title": "Raster analysis product",
        "description": "A layer through a processing chain over an area, time range, resolution and CRS, "
                       "written by the cluster as a cloud-optimized GeoTIFF and registered as a catalog collection",
        "jobControlOptions": ["async-execute", "dismiss"],
        "inputs": {**COMMON_INPUTS,
                   "polygon": _input("Mask polygon", GEOJSON, description="lon/lat; pixels outside are nodata"),
                   "output": _input("Product name", {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]{0,63}$"},
                                    True),
                   "overwrite": _input("Replace a product of the same name", {"type": "boolean", "default": False})},
        "outputs": {"product": {"title": "The registered product",
                                "schema": {"type": "object", "contentMediaType": "application/json"}}},
    },
    ZONAL: {
        "title": "Zonal statistics",
        "description": "Count, min, max, mean, std and sum per zone and band, and histograms, of a layer's "
                       "values (or a chain's) over GeoJSON polygons",
        "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
        "inputs": {**COMMON_INPUTS,
                   "zones": _input("Zones", GEOJSON, True, "a FeatureCollection of polygons in lon/lat"),
                   "bins": _input("Histogram bins", {"type": "integer", "minimum": 1}),
                   "range": _input("Histogram range", {"type": "array", "items": NUMBER, "minItems": 2,
                                                       "maxItems": 2})},
        "outputs": {"statistics": {"title": "Statistics per zone",
                                   "schema": {"type": "array", "contentMediaType": "application/json"}}},
    },
}


def _summary(pid: str, base: str) -> dict:
    p = PROCESSES[pid]
    return {"id": pid, "title": p["title"], "description": p["description"], "version": "1.0.0",
            "jobControlOptions": p["jobControlOptions"], "outputTransmission": ["value"],
            "links": [{"href": f"{base}/processes/{pid}", "rel": "self", "type": "application/json"},
                      {"href": f"{base}/processes/{pid}/execution", "rel": EXECUTE_REL, "type": "application/json"}]}


def process_list(base: str) -> dict:
    return {"processes": [_summary(pid, base) for pid in PROCESSES],
            "links": [{"href": f"{base}/processes", "rel": "self", "type": "application/json"}]}


def process_description(pid: str, base: str) -> dict:
    p = PROCESSES[pid]
    return {**_summary(pid, base), "inputs": p["inputs"], "outputs": p["outputs"]}


def status_info(record: JobRecord, base: str) -> dict:
    links = [{"href": f"{base}/jobs/{record.id}", "rel": "self", "type": "application/json"}]
    if record.results is not None:
        links.append({"href": f"{base}/jobs/{record.id}/results",
                      "rel": "http://www.opengis.net/def/rel/ogc/1.0/results", "type": "application/json"})
    document = {"jobID": record.id, "processID": record.process, "type": "process", "status": record.status.value,
                "message": record.message, "created": record.created, "started": record.started,
                "finished": record.finished, "updated": record.updated, "progress": record.progress,
                "links": links}
    return {k: v for k, v in document.items() if v is not None}


def job_list(records: list[JobRecord], base: str) -> dict:
    return {"jobs": [status_info(r, base) for r in records],
            "links": [{"href": f"{base}/jobs", "rel": "self", "type": "application/json"}]}
