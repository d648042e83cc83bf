"""The documented static-front deployment: nginx serves cached tiles, ogcserver the misses."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, reserved_port, running_server, write_config
from tests.support.tiles import tile_at

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture()
def front(data_dir, tmp_path):
    if not Path(NGINX).exists():
        message = "nginx is not installed (Debian package nginx; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path / "tiles"
    shutil.copytree(data_dir / "tiles", folder)
    config = write_config(data_dir, tmp_path / "c.yaml")
    config.write_text(config.read_text().replace(str(data_dir / "tiles"), str(folder)))
    with running_server(config, workers=1) as backend, reserved_port() as port:
        text = (REPO / "deploy" / "nginx-static-front.conf").read_text()
        text = text.replace("CACHE_DIR", str(tmp_path / "state" / "tiles"))
        text = text.replace("OGCSERVER", backend.removeprefix("http://"))
        text = text.replace("listen 8080;", f"listen 127.0.0.1:{port};")
        text = text.replace("worker_processes auto;", f"worker_processes 1;\npid {tmp_path}/nginx.pid;\n"
                                                      f"error_log {tmp_path}/nginx-error.log;\nuser root;")
        conf = tmp_path / "nginx.conf"
        conf.write_text(text)
        (tmp_path / "nginx").mkdir()
        subprocess.run([NGINX, "-p", str(tmp_path / "nginx"), "-c", str(conf)], check=True, timeout=30)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(50):
                try:
                    requests.get(url + "/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            yield url, folder
        finally:
            pid = (tmp_path / "nginx.pid").read_text().strip()
            subprocess.run(["kill", pid], timeout=10)


def test_nginx_serves_cached_tiles_and_forwards_misses(front, data_dir):
    url, folder = front
    tile = f"{url}/tiles/parent/parent_native/2/1/1.png"
    first = requests.get(tile, timeout=30)
    assert first.status_code == 200 and first.headers["X-Cache"] == "MISS"  # rendered by ogcserver
    again = requests.get(tile, timeout=30)
    assert again.headers["X-Cache"] == "HIT-STATIC" and again.content == first.content  # from disk, by nginx
    rest = requests.get(f"{url}/wmts/1.0.0/parent/default/parent_native/2/1/1.png", timeout=30)
    assert rest.headers["X-Cache"] == "HIT-STATIC" and rest.content == first.content
    assert requests.get(f"{url}/wms?SERVICE=WMS&REQUEST=GetCapabilities", timeout=30).status_code == 200

    # a changed source: once ogcserver notices (any request reaching it), nginx stops serving the old tiles
    x, y = tile_at(16)
    mosaic = f"{url}/tiles/mosaic/WebMercatorQuad/16/{x}/{y}.png"
    before = requests.get(mosaic, timeout=30)
    assert requests.get(mosaic, timeout=30).headers["X-Cache"] == "HIT-STATIC"
    for path in folder.glob("*.tif"):
        path.unlink()
    shutil.copy(data_dir / "order" / "old.tif", folder / "only.tif")
    requests.get(f"{url}/wms?SERVICE=WMS&REQUEST=GetCapabilities", timeout=30)
    time.sleep(2.5)  # nginx's open_file_cache_valid (2 s): how long it may keep an open descriptor
    after = requests.get(mosaic, timeout=30)
    assert after.status_code == 200 and after.headers["X-Cache"] == "MISS" and after.content != before.content
