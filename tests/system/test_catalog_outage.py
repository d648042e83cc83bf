"""A PostGIS catalog outage: 503 with Retry-After (in each protocol's exception format) for
requests that need the catalog, /healthz alive, /readyz not ready, and service back by itself
when the database returns, in the same worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

from ogcserver.model.errors import CatalogUnavailable
from ogcserver.storage.catalogs.postgis import PostgisCatalog
from tests.conftest import running_server
from tests.support import rasters
from tests.support.postgres import SKIP_REASON, restartable_postgis_cluster

X0, Y0 = rasters.ORIGIN
GETMAP = ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ortho&STYLES=&CRS=EPSG:32632"
          f"&BBOX={X0},{Y0 - 2000},{X0 + 2000},{Y0}&WIDTH=64&HEIGHT=64&FORMAT=image/png")
NEEDS_CATALOG = {
    GETMAP: b"ServiceExceptionReport",
    "/wms?SERVICE=WMS&REQUEST=GetCapabilities": b"ServiceExceptionReport",
    "/wcs?SERVICE=WCS&REQUEST=GetCapabilities&VERSION=2.0.1": b"ExceptionReport",
    "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities": b"ExceptionReport",
    "/wmts/1.0.0/ortho/default/WebMercatorQuad/14/8660/5600.png": b"ExceptionReport",
    "/tiles/ortho/WebMercatorQuad/tilejson.json": b"ExceptionReport",
    "/kml/ortho.kml": b"ExceptionReport",
    "/catalog/ortho/items": b"",
    "/": b"",
}


@pytest.fixture(scope="module")
def cluster():
    with restartable_postgis_cluster() as cluster:
        if cluster is None:
            pytest.skip(SKIP_REASON)
        yield cluster


def worker_pids(server_url: str) -> set[int]:
    """The processes of the server listening on that URL's port, workers included."""
    port = server_url.rsplit(":", 1)[1]
    server = next(int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _serves(p, port))
    return {server} | _descendants(server)


def _serves(proc: Path, port: str) -> bool:
    try:
        args = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in args and b"--port" in args and args[args.index(b"--port") + 1] == port.encode()


def _descendants(pid: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children |= {int(c) for c in task.read_text().split()}
    return children | {d for c in children for d in _descendants(c)}


def test_a_store_reports_an_outage_and_reconnects_by_itself(cluster):
    store = PostgisCatalog(cluster.dsn)
    store.create("outage")
    assert store.get_meta("outage", "generation") == "0"
    cluster.stop()
    try:
        with pytest.raises(CatalogUnavailable):
            store.get_meta("outage", "generation")
        with pytest.raises(CatalogUnavailable):
            store.items("outage")
    finally:
        cluster.start()
    assert store.get_meta("outage", "generation") == "0"  # the same object, a new connection


def test_a_restarted_database_is_used_again_at_the_first_request(cluster):
    store = PostgisCatalog(cluster.dsn)
    assert store.items("nothing") == []
    cluster.stop()
    cluster.start()  # the held connection is dead, though nothing has noticed yet
    assert store.items("nothing") == []


def test_a_server_survives_a_catalog_outage(cluster, data_dir, tmp_path):
    config = {
        "server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0},
        "catalog": {"backend": "postgis", "dsn": cluster.dsn},
        "services": [{"name": "s", "layers": [{"name": "ortho", "source": str(data_dir / "tiles" / "tile_0.tif")}]}],
    }
    path = Path(tmp_path / "ogcserver.yaml")
    path.write_text(yaml.safe_dump(config))
    with running_server(path, workers=2) as url:
        assert requests.get(url + GETMAP, timeout=30).status_code == 200
        assert requests.get(url + "/readyz", timeout=30).status_code == 200
        workers = worker_pids(url)
        assert len(workers) > 2  # the server and its two workers
        cluster.stop()
        try:
            for _ in range(2):  # both workers, whichever answers
                for target, report in NEEDS_CATALOG.items():
                    r = requests.get(url + target, timeout=30)
                    assert r.status_code == 503, (target, r.status_code, r.text[:300])
                    assert int(r.headers["Retry-After"]) > 0, target
                    assert report in r.content and b"Traceback" not in r.content and b"psycopg" not in r.content
                health = requests.get(url + "/healthz", timeout=30)
                assert health.status_code == 200 and health.json()["status"] == "ok"
                ready = requests.get(url + "/readyz", timeout=30)
                assert ready.status_code == 503 and ready.headers["Retry-After"]
        finally:
            cluster.start()
        for _ in range(2):
            assert requests.get(url + "/readyz", timeout=30).status_code == 200
            r = requests.get(url + GETMAP, timeout=30)
            assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
        assert worker_pids(url) == workers  # no worker was restarted
