"""Where one request's time went: seconds per phase (select, read, warp, functions, encode).

The web layer opens a recorder for a request (``recording``); the core and the readers mark
their phases (``phase``) without knowing who listens, like the request budget: the recorder
travels in a context variable. Outside a request there is none and marking costs one lookup.
Phases are exclusive: a phase inside another (a per-item function inside a read) pauses the
outer one, so the phases never add up to more than the request took.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from ogcserver.model.scoped import scoped

PHASES = ("select", "read", "warp", "functions", "encode")


class Timings:
    """Seconds spent in each phase of one request, on ``clock`` (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._open: list[str] = []
        self._since = 0.0

    def _charge(self, now: float) -> None:
        if self._open:
            name = self._open[-1]
            self.seconds[name] = self.seconds.get(name, 0.0) + (now - self._since)
        self._since = now

    def enter(self, name: str) -> None:
        self._charge(self.clock())
        self._open.append(name)
        self.counts[name] = self.counts.get(name, 0) + 1

    def leave(self) -> None:
        self._charge(self.clock())
        self._open.pop()


_current: ContextVar[Timings | None] = ContextVar("ogcserver_timings", default=None)


def recording(timings: Timings) -> AbstractContextManager[Timings]:
    """Make ``timings`` the recorder of the steps run inside the block."""
    return scoped(_current, timings)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Count the block's time to ``name`` in the current request's recorder, if there is one."""
    timings = _current.get()
    if timings is None:
        yield
        return
    timings.enter(name)
    try:
        yield
    finally:
        timings.leave()
