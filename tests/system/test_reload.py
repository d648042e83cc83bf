"""Reload without downtime: a live server with two workers under load at concurrency 16 takes a
new layer (added over the admin API, which signals the reload) with not one failed request, new
workers replacing the old; an invalid file is refused by ``ogcserver reload`` before it signals,
and by the server on SIGHUP, logged with its messages, the running configuration still serving."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import serving
from tests.support.admin import ADMIN, ADMIN_YAML, write_admin_config
from tests.unit.test_config_documents import BILLION_LAUGHS

CAPABILITIES = "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
LOAD_SECONDS = 30


def _workers(pid: int) -> set[int]:
    """The server's worker processes: the main process's children."""
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _wait(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _layer_names(url: str) -> str:
    return requests.get(url + CAPABILITIES, timeout=30).text


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
@pytest.mark.parametrize("http", ["granian", "gunicorn"])
def test_a_reload_under_load_fails_no_request_and_an_invalid_file_is_refused(data_dir, tmp_path, http):
    path = write_admin_config(data_dir, tmp_path, http=http, access_log=False)
    with serving(["-c", str(path)], tmp_path, workers=2) as (url, log_path):
        port = url.rsplit(":", 1)[1]
        pid = int((tmp_path / "state" / f"ogcserver-{port}.pid").read_text())
        _wait(lambda: len(_workers(pid)) == 2, "both workers")  # ready once the first one answers
        before = _workers(pid)
        load = subprocess.Popen(["wrk", "-c16", "-t2", f"-d{LOAD_SECONDS}s", "--timeout", "30s", url + CAPABILITIES],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(3)
            added = requests.post(url + "/admin/layers", headers=ADMIN, timeout=60, json={
                "service": "demo", "layer": {"name": "ms16", "source": str(data_dir / "ms16.tif"), "bands": [3, 2, 1]}})
            assert added.status_code == 201, added.text
            assert added.json()["reload"] == f"signalled to process {pid}"
            _wait(lambda: "<Name>ms16</Name>" in _layer_names(url), "the new layer")
            _wait(lambda: len(_workers(pid)) == 2 and not _workers(pid) & before, "new workers only")
            output, _ = load.communicate(timeout=LOAD_SECONDS + 60)
        finally:
            if load.poll() is None:
                load.kill()
        requests_done = int(output.split(" requests in ")[0].split()[-1])
        assert requests_done > 50, output
        assert "Non-2xx" not in output and "Socket errors" not in output, output

        # an invalid file, signalled by `ogcserver reload`: refused with its messages, the old one serves
        after = _workers(pid)
        broken = yaml.safe_load(path.read_text())
        broken["limits"] = {"max_width": -1}
        path.write_text(yaml.safe_dump(broken))
        done = subprocess.run([sys.executable, "-m", "ogcserver", "reload", "-c", str(path), "--port", port],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "limits.max_width" in done.stderr and "not signalled" in done.stderr
        time.sleep(1)
        assert _workers(pid) == after
        os.kill(pid, signal.SIGHUP)  # signalled all the same: the server checks too
        _wait(lambda: "reload refused" in log_path.read_text(), "the refusal in the log")
        refusal = next(line for line in log_path.read_text().splitlines() if "reload refused" in line)
        assert "limits.max_width" in refusal and str(path) in refusal
        _wait(lambda: len(_workers(pid)) == 2 and not _workers(pid) & after, "the workers respawned")
        assert "<Name>ms16</Name>" in _layer_names(url)
        assert requests.get(url + "/admin/config", headers=ADMIN, timeout=30).json()["config"]["limits"]["max_width"] == 4096
        _hostile_bodies_cost_no_memory(url, _workers(pid))


def _peak_kib(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1])


def _hostile_bodies_cost_no_memory(url: str, workers: set[int]) -> None:
    """Bodies of 64 MiB, declared or chunked, and documents that would expand, are refused with
    JSON; no worker's peak memory grows by more than a few MiB."""
    peaks = {pid: _peak_kib(pid) for pid in workers}
    chunked = (b"x" * 2**20 for _ in range(64))
    for body, status in ((chunked, 413), (b"x" * 64 * 2**20, 413), (BILLION_LAUGHS, 400),
                         ('!!python/object/apply:os.system ["true"]', 400)):
        answer = requests.put(url + "/admin/config", headers=ADMIN_YAML, data=body, timeout=60)
        assert answer.status_code == status and answer.json()["error"]
    for pid in workers:
        assert _peak_kib(pid) - peaks[pid] < 16 * 1024


def test_reload_without_a_running_server_says_so(data_dir, tmp_path):
    path = write_admin_config(data_dir, tmp_path)
    done = subprocess.run([sys.executable, "-m", "ogcserver", "reload", "-c", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "is the server running?" in done.stderr
    stale = tmp_path / "stale.pid"
    stale.write_text("999999999")
    done = subprocess.run([sys.executable, "-m", "ogcserver", "reload", "--pid-file", str(stale)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "stale pid file" in done.stderr
