"""A second server started on a port another server listens on refuses to start, saying so,
instead of silently sharing the port (granian listens with SO_REUSEPORT: the kernel would hand
each connection to one of the two servers at random)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from urllib.parse import urlparse

import requests

from tests.conftest import REPO, serving


def _second_server(folder, source, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ogcserver", "serve", str(source), "--port", str(port),
                           "--workers", "1"], cwd=folder, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_second_server_on_a_port_in_use_refuses_and_the_first_keeps_serving(tmp_path, data_dir):
    with serving([str(data_dir / "dem.tif")], tmp_path, workers=1) as (url, _log):
        port = urlparse(url).port
        second = _second_server(tmp_path, data_dir / "dem.tif", port)
        assert second.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr
        assert requests.get(url + "/healthz", timeout=10).status_code == 200


def test_a_port_held_by_any_listening_socket_is_refused(tmp_path, data_dir):
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        second = _second_server(tmp_path, data_dir / "dem.tif", other.getsockname()[1])
    assert second.returncode == 2 and "is another server running there?" in second.stderr

