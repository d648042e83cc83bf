"""Request counters and durations in the Prometheus text format (per worker process)."""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections import defaultdict
from itertools import accumulate

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str, int], int] = defaultdict(int)
        self._seconds: dict[tuple[str, str], float] = defaultdict(float)
        # per bucket, the requests that fell in it alone; render() sums them up (cumulative)
        self._buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._observed: dict[tuple[str, str], int] = defaultdict(int)

    def observe(self, service: str, request: str, status: int, seconds: float) -> None:
        key = (service, request)
        with self._lock:
            self._count[(service, request, status)] += 1
            self._seconds[key] += seconds
            self._observed[key] += 1
            self._buckets[key][bisect_left(BUCKETS, seconds)] += 1

    def render(self) -> str:
        pid = os.getpid()
        lines = [
            "# HELP ogcserver_requests_total Requests answered by this worker process.",
            "# TYPE ogcserver_requests_total counter",
        ]
        with self._lock:
            for (service, request, status), n in sorted(self._count.items()):
                lines.append(
                    f'ogcserver_requests_total{{pid="{pid}",service="{service}",request="{request}",status="{status}"}} {n}'
                )
            lines += [
                "# HELP ogcserver_request_seconds Time to answer a request.",
                "# TYPE ogcserver_request_seconds histogram",
            ]
            for key in sorted(self._observed):
                service, request = key
                labels = f'pid="{pid}",service="{service}",request="{request}"'
                for bound, n in zip(BUCKETS, accumulate(self._buckets[key])):
                    lines.append(f'ogcserver_request_seconds_bucket{{{labels},le="{bound}"}} {n}')
                lines.append(f'ogcserver_request_seconds_bucket{{{labels},le="+Inf"}} {self._observed[key]}')
                lines.append(f"ogcserver_request_seconds_sum{{{labels}}} {self._seconds[key]:.6f}")
                lines.append(f"ogcserver_request_seconds_count{{{labels}}} {self._observed[key]}")
        return "\n".join(lines) + "\n"
