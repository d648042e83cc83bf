"""The budget of one request: a deadline and a number of bytes it may hold in memory.

The engine opens a budget for each request (``request_budget``); every long step checks it
where it can stop cleanly (between mosaic items, between strips of a big read or of a
neighbourhood function, before encoding). The budget travels in a context variable so that
deep steps (raster functions, the reader) need no extra parameter; outside a request (seeding,
overview building, start-up statistics) there is none and the checks pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from ogcserver.model.errors import RenderTimeout, ResourceLimitExceeded
from ogcserver.model.scoped import scoped

MIB = 1024 * 1024


@dataclass
class Budget:
    """``deadline`` on ``clock`` (monotonic seconds); ``max_bytes`` of the estimated working set."""

    deadline: float
    max_bytes: int
    clock: Callable[[], float] = time.monotonic
    reserved: int = 0  # bytes already counted by the steps that planned the request
    # unreadable items left out: (collection, key) -> the reason, to report and to mark them
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)

    def check_time(self) -> None:
        if self.clock() > self.deadline:
            raise RenderTimeout("rendering took longer than the configured time limit")

    def reserve(self, what: str, size: int) -> None:
        """Count ``size`` bytes the request will hold, or refuse it before anything is read."""
        if self.reserved + size > self.max_bytes:
            raise ResourceLimitExceeded(f"{what} needs about {readable_size(self.reserved + size)} of memory; "
                                        f"at most {readable_size(self.max_bytes)} per request (limits.max_request_bytes)")
        self.reserved += size

    def release(self, size: int) -> None:
        self.reserved -= size

    def check_read(self, what: str, size: int) -> None:
        """Refuse a read of ``size`` bytes on top of what is reserved (nothing is kept)."""
        if self.reserved + size > self.max_bytes:
            raise ResourceLimitExceeded(f"{what} would read about {readable_size(size)}; at most "
                                        f"{readable_size(self.max_bytes - self.reserved)} are left for reading in this request "
                                        "(limits.max_request_bytes)")


def readable_size(size: int) -> str:
    """A byte count for a message: MiB, or a power of ten for the absurd sizes a hostile request
    can ask for (a 600-digit count says nothing)."""
    if size >= 10**15:
        return f"about 10^{len(str(size)) - 1} bytes"
    return f"{size / MIB:.0f} MiB" if size >= MIB else f"{size} bytes"


_current: ContextVar[Budget | None] = ContextVar("ogcserver_budget", default=None)


def request_budget(budget: Budget) -> AbstractContextManager[Budget]:
    """Make ``budget`` the current one for the steps run inside the block."""
    return scoped(_current, budget)


def current_budget() -> Budget | None:
    return _current.get()


@contextmanager
def holding(what: str, size: int) -> Iterator[None]:
    """Count ``size`` bytes against the current budget while the block runs (no-op outside a request)."""
    budget = _current.get()
    if budget is None:
        yield
        return
    budget.reserve(what, size)
    try:
        yield
    finally:
        budget.release(size)


def check_deadline() -> None:
    """Stop the current request if it is past its deadline (no-op outside a request)."""
    budget = _current.get()
    if budget is not None:
        budget.check_time()
