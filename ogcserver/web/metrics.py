"""Request counters and durations in the Prometheus text format, summed over all worker processes.

Labels come from a closed set, never from raw request values: a client choosing the REQUEST
parameter could otherwise add series without bound or, with a newline, forge whole series.
The service and operation names below are the server's own, layer names the published ones,
exception codes the server's own words; anything else counts as ``other``. prometheus_client
writes the exposition format (and escapes every label value).

``ogcserver serve`` runs several worker processes; each writes its figures to files in a private
folder (prometheus_client's multiprocess mode, see ``shared_metrics_dir``) and a scrape answered
by any worker reads them all. Without that folder (one process: tests, embedding) the figures
are this process's own.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from ogcserver.web.processes import alive

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OTHER = "other"
MULTIPLE = "multiple"  # a map of several layers
SERVICES = ("WMS", "WMTS", "WCS", "OWS", "CATALOG", "http")
OPERATIONS = (
    "GetCapabilities", "GetMap", "GetFeatureInfo", "GetLegendGraphic", "DescribeLayer", "GetStyles",
    "GetTile", "DescribeCoverage", "GetCoverage", "TILE", "REST",
    "items", "item", "download", "collection",  # catalog API resources
)
REFUSALS = ("rate_limit", "login")
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own name for the shared folder
DIR_PREFIX = "ogcserver-metrics-"  # then the serving process's id
# Parameters naming the layer of a request (WMS LAYERS/LAYER/QUERY_LAYERS, WMTS LAYER, WCS 2 and 1.0)
LAYER_PARAMETERS = ("LAYERS", "LAYER", "QUERY_LAYERS", "COVERAGEID", "COVERAGE", "IDENTIFIER")
CODE = re.compile(r"^[A-Za-z]{1,64}$")  # OGC exception codes are words
_SERVICES = {name.upper(): name for name in SERVICES}
_OPERATIONS = {name.upper(): name for name in OPERATIONS}


def service_label(value: str) -> str:
    return _SERVICES.get(value.upper(), OTHER)


def operation_label(value: str, endpoints: frozenset[str] = frozenset()) -> str:
    """A known operation name (canonical case), one of the app's own route names, or ``other``."""
    if value in endpoints:
        return value
    return _OPERATIONS.get(value.strip().upper(), OTHER)


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


def layer_label(names: str | None, published: frozenset[str]) -> str:
    """The one published layer a request names, ``multiple``, ``other`` (unknown) or empty (none)."""
    if not names:
        return ""
    named = {name.strip() for name in names.split(",")[:64] if name.strip()}
    if len(named) > 1:
        return MULTIPLE
    return next((name for name in named if name in published), OTHER)


def requested_layers(args: Mapping[str, str], path_layer: str | None) -> str | None:
    """The layer names a request gives, in its path or in its parameters (any case)."""
    if path_layer:
        return path_layer
    upper = {key.upper(): value for key, value in args.items() if key.upper() in LAYER_PARAMETERS}
    return next((upper[name] for name in LAYER_PARAMETERS if name in upper), None)


def code_label(code: str) -> str:
    return code if CODE.match(code) else OTHER


class Metrics:
    def __init__(self, endpoints: frozenset[str] = frozenset(), layers: frozenset[str] = frozenset(),
                 shared_dir: str | None = None) -> None:
        disable_created_metrics()  # one series per count, not a second one holding its start time
        self.endpoints = endpoints
        self.layers = layers
        self.shared_dir = shared_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self._series: dict[tuple[int, tuple[str, ...]], Any] = {}
        labels = ("service", "request", "layer")
        registry = self.registry
        self._count = Counter("ogcserver_requests", "Requests answered.", (*labels, "status"), registry=registry)
        self._seconds = Histogram("ogcserver_request_seconds", "Time to answer a request.", labels,
                                  buckets=BUCKETS, registry=registry)
        self._bytes = Counter("ogcserver_response_bytes", "Bytes of response bodies sent.", ("service", "request"),
                              registry=registry)
        self._cache = Counter("ogcserver_tile_cache", "Tile requests answered from the cache (hit) or not (miss).",
                              ("result", "layer"), registry=registry)
        self._renders = Counter("ogcserver_renders", "Answers rendered (read and encoded) rather than taken from a cache.",
                                labels, registry=registry)
        self._errors = Counter("ogcserver_errors", "Exception reports sent, by OGC exception code.",
                               ("service", "code"), registry=registry)
        self._refusals = Counter("ogcserver_refusals", "Requests refused before any work: rate limits, login limits.",
                                 ("reason",), registry=registry)
        self._in_progress = Gauge("ogcserver_requests_in_progress", "Requests being answered now.",
                                  registry=registry, multiprocess_mode="livesum")

    def observe(self, service: str, request: str, status: int, seconds: float, *, layer: str | None = None,
                sent: int | None = None, cache: str | None = None, rendered: bool = False,
                error_code: str | None = None, refused: str | None = None) -> None:
        """One answered request: ``layer`` as requested (labelled only if published), ``cache``
        HIT or MISS for tiles, ``error_code`` for an exception report, ``refused`` a reason."""
        service_name, operation = service_label(service), operation_label(request, self.endpoints)
        layer_name = layer_label(layer, self.layers)
        child = self._child
        child(self._count, service_name, operation, layer_name, status_label(status)).inc()
        child(self._seconds, service_name, operation, layer_name).observe(seconds)
        if sent:
            child(self._bytes, service_name, operation).inc(sent)
        if cache in ("HIT", "MISS"):
            child(self._cache, cache.lower(), layer_name).inc()
        if rendered:
            child(self._renders, service_name, operation, layer_name).inc()
        if error_code is not None:
            child(self._errors, service_name, code_label(error_code)).inc()
        if refused in REFUSALS:
            child(self._refusals, refused).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """The series of ``metric`` with these labels, looked up once: prometheus_client's
        ``labels()`` validates and locks on every call, which was a third of a cached tile's time
        (a hit through the WSGI app in process, one run: 546 us with ``labels()`` per request,
        291 us with this table). The label values come from closed sets, so the table stays small."""
        key = (id(metric), labels)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = metric.labels(*labels)
        return series

    def started(self) -> None:
        self._in_progress.inc()

    def finished(self) -> None:
        self._in_progress.dec()

    def render(self) -> str:
        if self.shared_dir is None:
            return generate_latest(self.registry).decode()
        forget_exited_workers(self.shared_dir)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.shared_dir)
        return generate_latest(registry).decode()


def forget_exited_workers(folder: str) -> None:
    """Drop the live gauges (requests in progress) of workers that have exited: a worker that
    died mid-request would otherwise count as busy forever. Counters stay: what it did, it did."""
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        if pid.isdigit() and not alive(int(pid)):
            mark_process_dead(int(pid), folder)


def remove_stale_dirs() -> None:
    """Remove the metrics folders of servers that were killed before they could remove their own."""
    for folder in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        pid = folder.name.removeprefix(DIR_PREFIX).split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def shared_metrics_dir() -> Iterator[str]:
    """A private, empty folder for the workers' figures, made before they fork and removed at exit
    (and at the next start, after a server killed outright).

    prometheus_client reads the folder's name from the environment (inherited by the workers) and
    chooses per-process files when a metric's series is first used; the choice is made again here
    in case prometheus_client was imported before the folder existed."""
    remove_stale_dirs()
    owner = os.getpid()
    folder = tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{owner}-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = folder
    values.ValueClass = values.get_value_class()
    try:
        yield folder
    finally:
        # only the process that made it: gunicorn's forked workers leave through this frame too,
        # while the others and the main process still write there
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)
            if previous is None:
                os.environ.pop(MULTIPROC_ENV, None)
            else:
                os.environ[MULTIPROC_ENV] = previous
            values.ValueClass = values.get_value_class()
