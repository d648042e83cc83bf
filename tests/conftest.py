"""Fixtures: synthetic rasters, a config that publishes them, the app and a live server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from rasterio.transform import from_origin

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support import rasters

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OGCSERVER_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    rasters.parent_and_tiles(root)
    t = from_origin(*rasters.ORIGIN, rasters.RES, rasters.RES)
    # two overlapping items of constant value and different dates, to check mosaic order
    const = np.ones((3, 200, 200), dtype=np.uint8)
    rasters.write(root / "order" / "old.tif", const * 100, t, tags={"ACQUISITIONDATETIME": "2020-01-01T00:00:00Z"})
    shifted = from_origin(rasters.ORIGIN[0] + 1000, rasters.ORIGIN[1] - 1000, rasters.RES, rasters.RES)
    rasters.write(root / "order" / "new.tif", const * 200, shifted, tags={"ACQUISITIONDATETIME": "2022-01-01T00:00:00Z"})
    # float DEM with a nodata hole
    dem = rasters.texture((300, 300), 1, seed=3, dtype="float32", scale=500) + 200
    dem[0, 100:150, 100:150] = -9999
    rasters.write(root / "dem.tif", dem, t, nodata=-9999, overviews=(2, 4), descriptions=("elevation",))
    # 16-bit multispectral with a nodata collar
    ms = rasters.texture((300, 300), 4, seed=4, dtype="uint16", scale=12000)
    ms[:, :, :20] = 0
    rasters.write(root / "ms16.tif", ms, t, nodata=0, descriptions=("blue", "green", "red", "nir"))
    # RGBA with alpha, and RGB with an internal mask
    rgba = rasters.texture((200, 200), 4, seed=5)
    rgba[3] = 255
    rgba[3, :, :50] = 0
    rasters.write(root / "rgba.tif", rgba, t, photometric="RGB")
    rgb = rasters.texture((200, 200), 3, seed=6)
    mask = np.ones((200, 200), dtype=bool)
    mask[150:, :] = False
    rasters.write(root / "masked.tif", rgb, t, mask=mask)
    return root


def write_config(data_dir: Path, target: Path, **server) -> Path:
    config = {
        "title": "Test server",
        "contact": {"person": "Ada", "organization": "Test & Co", "email": "ada@example.org"},
        "server": {"data_dir": str(target.parent / "state"), "index_refresh_seconds": 0, **server},
        "processing": [{"name": "shade", "title": "Hillshade", "chain": [{"function": "hillshade"}]}],
        "services": [
            {
                "name": "demo",
                "title": "Demo service",
                "keywords": ["test", "imagery"],
                "layers": [
                    {"name": "parent", "title": "Parent image", "source": str(data_dir / "parent" / "parent.tif")},
                    {"name": "mosaic", "title": "Tiled mosaic", "source": str(data_dir / "tiles")},
                    {"name": "dem", "source": str(data_dir / "dem.tif"), "crs": ["EPSG:25832"], "styles": ["shade"]},
                    {"name": "ms16", "source": str(data_dir / "ms16.tif"), "bands": [3, 2, 1]},
                    {"name": "rgba", "source": str(data_dir / "rgba.tif")},
                    {"name": "masked", "source": str(data_dir / "masked.tif")},
                ],
            },
            {
                "name": "ordered",
                "title": "Mosaic order",
                "limits": {"max_width": 2048},
                "layers": [
                    {"name": "newest", "source": str(data_dir / "order")},
                    {"name": "oldest", "source": str(data_dir / "order"), "order": "oldest"},
                ],
            },
        ],
    }
    target.write_text(yaml.safe_dump(config))
    return target


@pytest.fixture(scope="session")
def config_path(data_dir, tmp_path_factory) -> Path:
    return write_config(data_dir, tmp_path_factory.mktemp("config") / "ogcserver.yaml")


@pytest.fixture(scope="session")
def settings(config_path):
    return load_settings(config_path)


@pytest.fixture(scope="session")
def app(settings):
    return create_app(settings)


@pytest.fixture()
def client(app):
    return app.test_client()


@contextmanager
def reserved_port() -> Iterator[int]:
    """A local port held for as long as the block runs, to hand to a server started inside it.

    A port probed free and released can be taken by another test's server before ours binds it.
    This one stays bound (not listening) with SO_REUSEADDR and SO_REUSEPORT: a listening server
    that sets either (granian, gunicorn and nginx do) binds it too, while the kernel hands it to
    nobody else and a plain bind of it fails. Not listening, it never takes a connection."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@contextmanager
def running_server(config_path: Path, workers: int = 2):
    """The real server in a subprocess on a reserved local port; yields its URL."""
    with serving(["-c", str(config_path)], config_path.parent, workers) as (url, _log):
        yield url


@contextmanager
def serving(args: list[str], folder: Path, workers: int = 2):
    """``ogcserver serve ARGS`` in a subprocess on a reserved local port, its output in a log file
    in ``folder``; yields the URL and the log's path once the server answers."""
    with reserved_port() as port:
        log_path = folder / f"server-{port}.log"
        log = open(log_path, "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "ogcserver", "serve", *args, "--port", str(port), "--workers", str(workers)],
            stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start: " + log_path.read_text())
                time.sleep(0.2)
            yield url, log_path
        finally:
            stop_process(proc, 10)
            log.close()


def stop_process(proc: subprocess.Popen, grace: float) -> None:
    """Ask a process to end; killed if it has not within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def live_server(config_path) -> str:
    with running_server(config_path) as url:
        yield url


@pytest.fixture(scope="session")
def postgis_dsn():
    """A throwaway PostgreSQL/PostGIS cluster for the session, or None without the packages."""
    from tests.support.postgres import postgis_cluster

    with postgis_cluster() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not (path / "README.md").exists():
        pytest.skip("the shared real-world rasters are not present in this checkout")
    return path


@pytest.fixture(scope="session")
def ogc_schemas() -> Path:
    path = SHARED / "ogc-schemas"
    if not (path / "catalog.xml").exists():
        pytest.skip("the official OGC schemas are not present in this checkout")
    return path


@pytest.fixture(scope="session")
def processing_app(data_dir, tmp_path_factory):
    """The test configuration with ad-hoc processing chains (RENDERINGRULE) allowed."""
    path = write_config(data_dir, tmp_path_factory.mktemp("processing") / "ogcserver.yaml")
    config = yaml.safe_load(path.read_text())
    config["services"][0]["allow_processing"] = True
    path.write_text(yaml.safe_dump(config))
    return create_app(load_settings(path))


@pytest.fixture(scope="session")
def client_layers(tmp_path_factory) -> dict[str, Path]:
    """The ``rasters.located`` layers in a geographic, an east-first and a north-first CRS."""
    return rasters.client_layers(tmp_path_factory.mktemp("client-layers"))


@pytest.fixture(scope="session")
def client_server(client_layers, tmp_path_factory) -> str:
    """A live server publishing ``client_layers`` under their names, for real clients."""
    folder = tmp_path_factory.mktemp("client-server")
    config = folder / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")},
        "services": [{"name": "clients", "layers": [
            {"name": name, "source": str(path)} for name, path in client_layers.items()]}],
    }))
    with running_server(config) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto) for the session; tests take buckets of their own."""
    from tests.support.s3 import moto_endpoint

    with moto_endpoint() as endpoint:
        yield endpoint
