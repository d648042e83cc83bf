"""The HTTP servers that run the WSGI app: granian (default) or gunicorn.

The app is built once in the parent process (the catalog is indexed before any worker starts)
and inherited by the workers when they fork; on SIGHUP the parent rebuilds it and the server
replaces its workers (see ``web/reload.py``). Both write the parent's process id to the pid file
``ogcserver reload`` reads, and both keep connections alive. granian's
HTTP layer is written in Rust: a cached tile costs about 0.37 ms of server time against
gunicorn's 0.9 ms (sync workers, measured with wrk on the demo; see the README).
"""

from __future__ import annotations

import os
import socket

from ogcserver.settings import Settings
from ogcserver.web.metrics import MULTIPROC_ENV, forget_exited_workers
from ogcserver.web.reload import ReloadableApp


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another server listens on. granian listens with SO_REUSEPORT, so a second
    server started on a port in use would not fail: the kernel would share the port between the
    two, handing each connection to one of them at random. A probe bound with SO_REUSEADDR alone
    fails on a listening socket and passes over connections lingering in TIME_WAIT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another server "
                             "running there? set server.port or --port)") from None


def serve_granian(app: ReloadableApp, settings: Settings) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    server = settings.server
    granian = Granian(
        "ogcserver.app:create_app",  # a label only: the workers get the app built here
        address=server.host,
        port=server.port,
        interface=Interfaces.WSGI,
        workers=server.workers,
        blocking_threads=server.threads,
        backlog=2048,
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=10,
        pid_file=server.pid_path,
    )
    granian.on_reload(app.rebuild)  # runs in the parent on SIGHUP, before the workers are replaced
    granian.serve(target_loader=lambda _label: app)  # called in each worker, forked from the parent


def serve_gunicorn(app: ReloadableApp, settings: Settings) -> None:
    from gunicorn.app.base import BaseApplication

    server = settings.server
    metrics_folder = os.environ.get(MULTIPROC_ENV)

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{server.host}:{server.port}")
            self.cfg.set("workers", server.workers)
            self.cfg.set("worker_class", "sync" if server.threads == 1 else "gthread")
            self.cfg.set("threads", server.threads)
            self.cfg.set("keepalive", 30)
            self.cfg.set("timeout", int(settings.limits.render_timeout) + 30)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", None)
            self.cfg.set("errorlog", "-")
            self.cfg.set("loglevel", "warning")
            self.cfg.set("pidfile", str(server.pid_path))
            if metrics_folder is not None:  # a worker's requests in progress end with it
                self.cfg.set("child_exit", lambda _arbiter, _worker: forget_exited_workers(metrics_folder))

        def reload(self) -> None:  # the arbiter's SIGHUP: rebuild, then it forks new workers
            app.rebuild()
            super().reload()

        def load(self):
            return app

    Server().run()


SERVERS = {"granian": serve_granian, "gunicorn": serve_gunicorn}
