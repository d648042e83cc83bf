"""Request counters and durations in the Prometheus text format (per worker process).

Labels come from a closed set, never from raw request values: a client choosing the REQUEST
parameter could otherwise add series without bound or, with a newline, forge whole series.
The service and operation names below are the server's own; anything else counts as ``other``.
prometheus_client writes the exposition format (and escapes every label value).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OTHER = "other"
SERVICES = ("WMS", "WMTS", "WCS", "OWS", "CATALOG", "http")
OPERATIONS = (
    "GetCapabilities", "GetMap", "GetFeatureInfo", "GetLegendGraphic", "DescribeLayer", "GetStyles",
    "GetTile", "DescribeCoverage", "GetCoverage", "TILE", "REST",
    "items", "item", "download", "collection",  # catalog API resources
)
CONTENT_TYPE = CONTENT_TYPE_LATEST
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


class Metrics:
    def __init__(self, endpoints: frozenset[str] = frozenset()) -> None:
        disable_created_metrics()  # one series per count, not a second one holding its start time
        self.endpoints = endpoints
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("pid", "service", "request")
        self._count = Counter("ogcserver_requests", "Requests answered by this worker process.",
                              (*labels, "status"), registry=self.registry)
        self._seconds = Histogram("ogcserver_request_seconds", "Time to answer a request.", labels,
                                  buckets=BUCKETS, registry=self.registry)

    def observe(self, service: str, request: str, status: int, seconds: float) -> None:
        labels = (str(os.getpid()), service_label(service), operation_label(request, self.endpoints))
        self._count.labels(*labels, status_label(status)).inc()
        self._seconds.labels(*labels).observe(seconds)

    def render(self) -> str:
        return generate_latest(self.registry).decode()
