"""Reloading a running server's configuration with no failed request (SIGHUP, ``ogcserver reload``).

The main process rebuilds the app, then the HTTP server replaces its workers: granian's HUP
handling starts each new worker before it stops the old one, gunicorn's HUP starts the new
workers and then stops the old ones gracefully. Old workers finish what they serve; the listening
socket stays open throughout, so a new connection is taken by whichever worker is running.

Why the main process rebuilds the app rather than each new worker building its own: building is
validating the file and indexing the catalog (every folder walked, new files described). Done
once in the main process, every new worker is forked from a ready app and serves at once, and an
invalid or unbuildable configuration is refused before any worker is touched (the workers are
then respawned with the app they had). Done in each worker, the index would be walked N times in
parallel, the old workers would be stopped while the new ones still index, and a bad file would
be found only by crashing workers. The cost is the main process holding one app between reloads.

Measured with ``bench/reload.py`` (2 workers, wrk at concurrency 16, on 2 busy cores): the
rebuild takes 0.3 to 0.8 s for a small configuration; every worker is replaced about 8 s after
SIGHUP with granian (its 3.5 s respawn interval per worker) and 11 s with gunicorn; no request
failed. Without the ``Connection: close`` hand-off below, granian's old workers closed idle
keep-alive connections under 3 to 4 requests per 3 reloads (wrk read errors).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ogcserver.web.processes import alive

log = logging.getLogger("ogcserver")
RESTART_ONLY = ("host", "port", "workers", "threads", "http")  # server keys a reload keeps as started


class ReloadableApp:
    """The WSGI app the main process forks its workers with, rebuilt on reload.

    ``build`` re-reads and validates the configuration and returns a new app, or raises with
    messages that say why (the old app keeps serving). Every reload also bumps a generation in
    memory shared with the workers: a worker whose app is older answers with
    ``Connection: close`` from then on, so its keep-alive clients move to new connections (taken
    by new workers) before it is stopped, instead of finding an idle connection closed under a
    request they were just sending."""

    def __init__(self, app: Callable, build: Callable[[], Callable]) -> None:
        self.app = app
        self._build = build
        self._current = multiprocessing.RawValue("Q", 0)  # shared with every worker forked from here
        self._generation = 0  # of ``app``, in this process; a worker keeps the one it was forked with

    def rebuild(self) -> bool:
        """Build the app from the configuration as it is now; False (logged) if it cannot be.
        Either way the workers are replaced next, and the ones running now are told to let go."""
        started = time.monotonic()
        try:
            app = self._build()
        except Exception as exc:  # noqa: BLE001 - any failure keeps the running configuration
            log.error("reload refused: the running configuration stays", extra={"reason": str(exc)})
            app = None
        else:
            log.info("reload: configuration read, new workers take over",
                     extra={"build_seconds": round(time.monotonic() - started, 3)})
        self.app = app or self.app
        self._generation += 1
        self._current.value = self._generation
        return app is not None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self._current.value == self._generation:
            return self.app(environ, start_response)

        def closing(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return self.app(environ, closing)


class NoServer(Exception):
    """No running server to signal (no pid file, or its process is gone)."""


def server_pid(pid_file: Path) -> int:
    """The main process id a running server wrote, checked to be alive."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        raise NoServer(f"{pid_file}: no server's process id here (is the server running?)") from None
    if not alive(pid):
        raise NoServer(f"{pid_file}: process {pid} is not running (a stale pid file)")
    return pid


def signal_reload(pid_file: Path, from_worker: bool = False) -> int:
    """Send SIGHUP to the server's main process; returns its pid. ``from_worker``: only if it
    is this process's parent (a worker asking its own server, never another one)."""
    pid = server_pid(pid_file)
    if from_worker and pid != os.getppid():
        raise NoServer(f"{pid_file}: process {pid} is not this worker's server")
    os.kill(pid, signal.SIGHUP)
    return pid
