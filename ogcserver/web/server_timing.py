"""The Server-Timing header: where a rendered answer's time went (select, read, warp, functions,
encode, and the total), as browsers' developer tools and RUM scripts show it.

Each request gets a recorder (model/timing.py) that the core and the readers fill without
knowing of HTTP. Phase times tell an outsider how costly a source is to read, so by default
only authenticated callers get the header (``server.timing``: off, authenticated or all).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager

from flask import Flask, Response, g

from ogcserver.model.timing import PHASES, Timings, recording

HEADER = "Server-Timing"


def header_value(timings: Timings, total: float) -> str:
    """``name;dur=milliseconds`` for each phase that ran, in pipeline order, then the total."""
    parts = [f"{name};dur={timings.seconds[name] * 1000:.1f}" for name in PHASES if name in timings.seconds]
    return ", ".join([*parts, f"total;dur={total * 1000:.1f}"])


def install_server_timing(app: Flask, who: str) -> None:
    """Record every request's phases (metrics count renders from them); send the header to ``who``."""

    @app.before_request
    def _record() -> None:
        g.timings = Timings()
        g.timing_scope = recording(g.timings)
        g.timing_scope.__enter__()

    @app.teardown_request
    def _stop(_exc: BaseException | None) -> None:
        scope: AbstractContextManager | None = g.pop("timing_scope", None)
        if scope is not None:
            scope.__exit__(None, None, None)

    @app.after_request
    def _header(response: Response) -> Response:
        timings: Timings | None = g.get("timings")
        if timings is None or not timings.seconds or who == "off":
            return response
        principal = g.get("principal")
        if who == "all" or (principal is not None and principal.authenticated):
            response.headers[HEADER] = header_value(timings, time.perf_counter() - g.get("started", time.perf_counter()))
        return response
