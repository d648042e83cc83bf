"""Fair use: requests per minute per principal and per client address (counted in each worker
process, so with N workers up to N times as many), and requests in progress per client (an
authenticated principal, or an anonymous caller's address) across all worker processes, so one
client's flood cannot hold every worker while the others wait."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager

from ogcserver.model.access import Principal
from ogcserver.settings import RateLimits
from ogcserver.web.shared_counts import SharedCounts

MAX_KEYS = 10_000  # per-minute windows remembered before idle ones are dropped
BUSY_RETRY_AFTER = 1.0  # seconds: a refused concurrent request usually finds room this soon


def client_key(principal: Principal, address: str) -> str:
    """Whose share a request counts against: an authenticated principal wherever it calls from,
    an anonymous caller by its address."""
    return f"p:{principal.name}" if principal.authenticated else f"a:{address}"


class RateLimiter:
    def __init__(self, limits: RateLimits, concurrent_per_client: int | None = None) -> None:
        self.limits = limits
        caps = [c for c in (limits.concurrent_per_principal, concurrent_per_client) if c]
        self.concurrent = min(caps) if caps else None
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._active = SharedCounts() if self.concurrent is not None else None
        self._lock = threading.Lock()

    def _over(self, key: str, per_minute: int | None, now: float) -> float | None:
        """Seconds to wait when ``key`` has used its budget for the last minute, else None."""
        if per_minute is None:
            return None
        if len(self._hits) > MAX_KEYS:
            self._forget_idle(now)
        hits = self._hits[key]
        while hits and hits[0] <= now - 60.0:
            hits.popleft()
        if len(hits) >= per_minute:
            return max(1.0, 60.0 - (now - hits[0]))
        hits.append(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - 60.0]:
            del self._hits[key]

    def enter(self, principal: Principal, address: str) -> float | None:
        """Admit a request (None) or say how long to wait (Retry-After seconds)."""
        now = time.monotonic()
        client = client_key(principal, address)
        with self._lock:
            for key, limit in ((f"p:{principal.name}", self.limits.per_principal_per_minute),
                               (f"a:{address}", self.limits.per_address_per_minute)):
                wait = self._over(key, limit, now)
                if wait is not None:
                    return wait
        if self._active is not None and not self._active.try_enter(client, self.concurrent or 0):
            return BUSY_RETRY_AFTER
        return None

    def leave(self, principal: Principal, address: str) -> None:
        if self._active is not None:
            self._active.leave(client_key(principal, address))

    @contextmanager
    def admission(self, principal: Principal, address: str) -> Iterator[float | None]:
        """None while an admitted request runs, or the Retry-After seconds of a refused one."""
        wait = self.enter(principal, address)
        try:
            yield wait
        finally:
            if wait is None:
                self.leave(principal, address)


class FailedAttempts:
    """Failed authentication attempts per client address in a sliding window, so an address that
    keeps guessing is refused before it costs another password hash. Remembers at most
    ``max_addresses`` addresses (the least recently failing are forgotten first)."""

    def __init__(self, limit: int, window: float, max_addresses: int = 10_000, clock=time.monotonic) -> None:  # noqa: ANN001
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None if it may try now."""
        now = self.clock()
        with self._lock:
            failures = self._failures.get(address)
            if failures is None:
                return None
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if len(failures) < self.limit:
                return None
            return max(1.0, self.window - (now - failures[0]))

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            failures = self._failures.pop(address, None) or deque(maxlen=self.limit)
            failures.append(now)
            self._failures[address] = failures
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
