"""Fair use: requests per minute per principal and per client address, and concurrent requests
per principal. Counted in each worker process, so with N workers a limit admits up to N times
as much in the worst case."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict, deque

from ogcserver.settings import RateLimits


class RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._active: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def _over(self, key: str, per_minute: int | None, now: float) -> float | None:
        """Seconds to wait when ``key`` has used its budget for the last minute, else None."""
        if per_minute is None:
            return None
        hits = self._hits[key]
        while hits and hits[0] <= now - 60.0:
            hits.popleft()
        if len(hits) >= per_minute:
            return max(1.0, 60.0 - (now - hits[0]))
        hits.append(now)
        return None

    def enter(self, principal: str, address: str) -> float | None:
        """Admit a request (None) or say how long to wait (Retry-After seconds)."""
        now = time.monotonic()
        with self._lock:
            for key, limit in ((f"p:{principal}", self.limits.per_principal_per_minute),
                               (f"a:{address}", self.limits.per_address_per_minute)):
                wait = self._over(key, limit, now)
                if wait is not None:
                    return wait
            if self.limits.concurrent_per_principal is not None:
                if self._active[principal] >= self.limits.concurrent_per_principal:
                    return 1.0
            self._active[principal] += 1
        return None

    def leave(self, principal: str) -> None:
        with self._lock:
            self._active[principal] = max(0, self._active[principal] - 1)


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
