"""Requests in progress per client, counted across the worker processes of one server.

Workers are forked from the process that built the app, so memory mapped before the fork is
shared by all of them. Each process writes only its own row (no lock between processes); a
sum over the rows is the server-wide count, exact but for requests entering at the same
instant. A worker that dies mid-request leaves its row behind; the row is cleared once its
process is found gone, which is checked whenever a client seems to be at its limit.

The share is work-conserving: a client over its limit is still admitted while no other client
has a request in progress or has had one in the last ``GRACE`` seconds. A lone user's browser
(six connections at once) is never refused on an idle server; a flood is cut to its share as soon
as anyone else calls.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import secrets
import threading
import time
from collections.abc import Callable
from ctypes import c_double, c_int32, c_int64

import numpy as np

from ogcserver.web.processes import alive

ROWS = 128  # processes sharing the table: workers (at most 64) and their replacements
SLOTS = 4096  # clients are hashed into this many counters; two sharing one share a limit
GRACE = 5.0  # seconds after its last request that a client still counts as calling


class SharedCounts:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._pids = multiprocessing.RawArray(c_int64, ROWS)
        self._counts = multiprocessing.RawArray(c_int32, ROWS * SLOTS)
        # when each slot last entered or left a request (CLOCK_MONOTONIC is the same in every process)
        self._seen = multiprocessing.RawArray(c_double, SLOTS)
        self._clock = clock
        self._claim = multiprocessing.Lock()  # held only while a process takes its row
        self._salt = secrets.token_bytes(16)  # callers cannot choose colliding names
        self._local = threading.Lock()  # this process's threads, around its own row
        self._row: tuple[int, int] | None = None  # (pid, row) of the process that claimed it

    def slot(self, client: str) -> int:
        digest = hashlib.blake2b(client.encode(), key=self._salt, digest_size=8).digest()
        return int.from_bytes(digest, "big") % SLOTS

    def try_enter(self, client: str, limit: int) -> bool:
        """Count one more request of ``client`` unless it has ``limit`` in progress server-wide."""
        slot = self.slot(client)
        now = self._clock()
        with self._local:
            row = self._own_row()
            if self._total(slot) >= limit:
                self._clear_dead_rows()
                if self._total(slot) >= limit and self._others_calling(slot, now):
                    return False
            self._counts[row * SLOTS + slot] += 1
            self._seen[slot] = now
        return True

    def leave(self, client: str) -> None:
        slot = self.slot(client)
        with self._local:
            index = self._own_row() * SLOTS + slot
            if self._counts[index] > 0:
                self._counts[index] -= 1
            self._seen[slot] = self._clock()

    def _others_calling(self, slot: int, now: float) -> bool:
        """Whether a client other than ``slot``'s has a request in progress or had one lately."""
        seen = np.frombuffer(self._seen, dtype=np.float64).copy()
        seen[slot] = -np.inf
        if (seen > now - GRACE).any():
            return True
        counts = np.frombuffer(self._counts, dtype=np.int32).reshape(ROWS, SLOTS)
        live = np.frombuffer(self._pids, dtype=np.int64) != 0
        busy = counts[live].sum(axis=0)
        busy[slot] = 0
        return bool(busy.any())

    def in_progress(self, client: str) -> int:
        return self._total(self.slot(client))

    def _total(self, slot: int) -> int:
        return sum(self._counts[row * SLOTS + slot] for row in range(ROWS) if self._pids[row])

    def _own_row(self) -> int:
        pid = os.getpid()
        if self._row is not None and self._row[0] == pid:
            return self._row[1]
        with self._claim:
            self._clear_dead_rows()
            row = next((r for r in range(ROWS) if self._pids[r] in (0, pid)), None)
            if row is None:
                raise RuntimeError("more server processes than the request table has rows")
            self._pids[row] = pid
        self._row = (pid, row)
        return row

    def _clear_dead_rows(self) -> None:
        for row in range(ROWS):
            pid = self._pids[row]
            if pid and not alive(pid):
                self._counts[row * SLOTS:(row + 1) * SLOTS] = [0] * SLOTS
                self._pids[row] = 0
