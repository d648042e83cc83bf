"""The app workers are forked with: rebuilt on reload, the old one kept when the new cannot be
built, and workers forked before a reload let their connections go (Connection: close)."""

from __future__ import annotations

import multiprocessing

from ogcserver.settings import ConfigError
from ogcserver.web.reload import ReloadableApp


def _app(name: str):
    def app(_environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [name.encode()]

    return app


def _call(app) -> tuple[list[tuple[str, str]], bytes]:
    seen: list[tuple[str, str]] = []

    def start_response(_status, headers, _exc_info=None):
        seen.extend(headers)

    return seen, b"".join(app({}, start_response))


def _worker(app: ReloadableApp, go, out) -> None:
    go.wait(30)
    out.put(_call(app))


def test_workers_forked_before_a_reload_close_their_connections():
    builds = iter([_app("second")])
    app = ReloadableApp(_app("first"), lambda: next(builds))
    context = multiprocessing.get_context("fork")
    go, out = context.Event(), context.Queue()
    old = context.Process(target=_worker, args=(app, go, out))
    old.start()
    assert app.rebuild()
    new = context.Process(target=_worker, args=(app, go, out))
    new.start()
    go.set()
    answers = sorted([out.get(timeout=30), out.get(timeout=30)], key=lambda a: a[1])
    old.join(30)
    new.join(30)
    (first_headers, first_body), (second_headers, second_body) = answers
    assert (first_body, ("Connection", "close") in first_headers) == (b"first", True)
    assert (second_body, ("Connection", "close") in second_headers) == (b"second", False)
    assert _call(app) == ([("Content-Type", "text/plain")], b"second")  # the main process's own view


def test_a_configuration_that_cannot_be_built_keeps_the_running_app(caplog):
    def broken():
        raise ConfigError("ogcserver.yaml: invalid configuration\n  ogcserver.yaml: limits.max_width: too small")

    app = ReloadableApp(_app("running"), broken)
    assert not app.rebuild()
    assert _call(app)[1] == b"running"
    refusal = next(r for r in caplog.records if r.message.startswith("reload refused"))
    assert "limits.max_width" in refusal.reason
