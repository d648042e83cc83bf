"""OGC API - Processes over HTTP on a running server: asynchronous execution of an analysis
product (201, Location, polling with progress, results, the product served), synchronous zonal
statistics against numpy, dismissal, and the process grant enforced."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import rasterio
import requests

from ogcserver.web.auth import hash_password
from tests.conftest import running_server
from tests.support import analysis

pytestmark = pytest.mark.timeout(400)
ALICE = ("alice", "alice-pw")  # may process the DEM
BOB = ("bob", "bob-pw")  # may only view it


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("processes")
    dem = analysis.dem(root / "dem.tif", (700, 900))
    access = {
        "users": [{"name": "alice", "password_hash": hash_password(ALICE[1])},
                  {"name": "bob", "password_hash": hash_password(BOB[1])}],
        "grants": [{"to": "user:alice", "service": "demo", "actions": ["discover", "view", "download", "process"]},
                   {"to": "user:bob", "service": "demo", "actions": ["discover", "view", "download"]}],
    }
    config = analysis.config(root, dem, access=access)
    with running_server(config, workers=1) as url:
        yield url, dem


def test_processes_are_listed_and_described(server):
    url, _ = server
    listing = requests.get(url + "/processes", auth=ALICE, timeout=30).json()
    assert {p["id"] for p in listing["processes"]} == {"raster-analysis", "zonal-statistics"}
    described = requests.get(url + "/processes/raster-analysis", auth=ALICE, timeout=30).json()
    assert described["inputs"]["layer"]["minOccurs"] == 1 and "async-execute" in described["jobControlOptions"]
    missing = requests.get(url + "/processes/nope", auth=ALICE, timeout=30)
    assert missing.status_code == 404 and missing.json()["type"].endswith("/no-such-process")


def test_async_product_job_with_polling_results_and_the_grant(server):
    url, dem = server
    body = {"inputs": {"layer": "dem", "template": "shade", "output": "dem_shade"}}
    denied = requests.post(url + "/processes/raster-analysis/execution", json=body, auth=BOB,
                           headers={"Prefer": "respond-async"}, timeout=30)
    assert denied.status_code == 403
    anonymous = requests.post(url + "/processes/raster-analysis/execution", json=body, timeout=30)
    missing = requests.post(url + "/processes/raster-analysis/execution", timeout=30,
                            json={"inputs": {**body["inputs"], "layer": "nope"}})
    assert anonymous.status_code == 400  # the layer is hidden from anonymous callers: as if it did not exist
    assert anonymous.json()["detail"] == missing.json()["detail"].replace("nope", "dem")
    started = requests.post(url + "/processes/raster-analysis/execution", json=body, auth=ALICE,
                            headers={"Prefer": "respond-async"}, timeout=30)
    assert started.status_code == 201, started.text
    assert started.headers["Preference-Applied"] == "respond-async"
    location = started.headers["Location"]
    status = started.json()
    assert status["status"] in ("accepted", "running") and location.endswith("/jobs/" + status["jobID"])
    assert requests.get(location, auth=BOB, timeout=30).status_code == 404  # another caller's job
    early = requests.get(location + "/results", auth=ALICE, timeout=30)
    seen = set()
    deadline = time.monotonic() + 300  # a guard against a hang, not a speed check
    while status["status"] in ("accepted", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = requests.get(location, auth=ALICE, timeout=30).json()
        seen.add(status["status"])
        assert 0 <= status["progress"] <= 100
    assert status["status"] == "successful", (status.get("message"), requests.get(location + "/results", auth=ALICE, timeout=30).text)
    assert early.status_code == 404 and early.json()["type"].endswith("/result-not-ready")
    assert status["progress"] == 100 and any(link["href"].endswith("/results") for link in status["links"])
    results = requests.get(location + "/results", auth=ALICE, timeout=30).json()
    assert results["product"]["collection"] == "dem_shade" and results["product"]["chunks"] == 4
    assert {"service": "demo", "layers": ["dem_shade"], "to": "user:alice",
            "actions": ["discover", "view", "query", "download", "process"]} in results["product"]["publish"]["grants"]
    listed = requests.get(url + "/jobs", auth=ALICE, timeout=30).json()["jobs"]
    assert status["jobID"] in {j["jobID"] for j in listed}
    assert not requests.get(url + "/jobs", auth=BOB, timeout=30).json()["jobs"]
    # the running server publishes the product on the layer its configuration has for it
    with rasterio.open(dem) as src:
        want, ok = analysis.hillshade(src.read(1), src.nodata, 10.0)
    coverage = requests.get(url + "/wcs", auth=ALICE, timeout=60, params={
        "SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "shaded", "CRS": "EPSG:32632",
        "BBOX": "500000,5193000,509000,5200000", "WIDTH": 900, "HEIGHT": 700, "FORMAT": "GeoTIFF"})
    assert coverage.status_code == 200, coverage.text
    with rasterio.MemoryFile(coverage.content) as memory, memory.open() as served:
        assert (served.read(1)[ok] == want[ok]).all()
    dismissed = requests.delete(location, auth=ALICE, timeout=30).json()
    assert dismissed["status"] == "dismissed"
    again = requests.post(url + "/processes/raster-analysis/execution", json=body, auth=ALICE,
                          headers={"Prefer": "respond-async"}, timeout=30)
    assert again.status_code == 400 and "exists" in again.json()["detail"]  # refused at once, no job started


def test_sync_zonal_statistics_equal_numpy(server):
    url, dem = server
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "west", "properties": {"n": 1}, "geometry": analysis.utm_ring(500500, 5194000, 503500, 5198000)},
        {"type": "Feature", "id": "east", "properties": {}, "geometry": analysis.utm_ring(504000, 5195000, 508500, 5199500)}]}
    answer = requests.post(url + "/processes/zonal-statistics/execution", auth=ALICE, timeout=120,
                           json={"inputs": {"layer": "dem", "zones": zones, "bins": 5, "range": [200, 700]}})
    assert answer.status_code == 200, answer.text
    stats = answer.json()["statistics"]
    with rasterio.open(dem) as src:
        values, nodata, transform = src.read(1).astype(np.float64), src.nodata, src.transform
    rows, cols = np.mgrid[0:values.shape[0], 0:values.shape[1]]
    x, y = transform * (cols + 0.5, rows + 0.5)
    for zone, (x0, y0, x1, y1) in zip(stats, [(500500, 5194000, 503500, 5198000), (504000, 5195000, 508500, 5199500)]):
        # the zones' edges are straight in lon/lat; away from them by a pixel, inside is inside
        sure = (x > x0 + 10) & (x < x1 - 10) & (y > y0 + 10) & (y < y1 - 10) & (values != nodata)
        near = (x > x0 - 10) & (x < x1 + 10) & (y > y0 - 10) & (y < y1 + 10) & (values != nodata)
        band = zone["bands"][0]
        assert sure.sum() <= band["count"] <= near.sum()
        inner = values[sure]
        assert abs(band["mean"] - inner.mean()) < 0.01 * inner.std()
        assert abs(band["std"] - inner.std()) < 0.02 * inner.std()
        assert band["min"] <= inner.min() and band["max"] >= inner.max()
        assert band["sum"] == pytest.approx(band["mean"] * band["count"])
        assert sum(band["histogram"]["counts"]) == band["count"] and len(band["histogram"]["edges"]) == 6
    assert [z["id"] for z in stats] == ["west", "east"] and stats[0]["properties"] == {"n": 1}
    exact = requests.post(url + "/processes/zonal-statistics/execution", auth=ALICE, timeout=120, json={"inputs": {
        "layer": "dem", "zones": zones, "crs": "EPSG:32632", "bbox": [500000, 5193000, 509000, 5200000]}})
    assert exact.json()["statistics"][0]["bands"][0]["count"] == answer.json()["statistics"][0]["bands"][0]["count"]
    bad = requests.post(url + "/processes/zonal-statistics/execution", auth=ALICE, timeout=30,
                        json={"inputs": {"layer": "dem", "zones": {"type": "Point", "coordinates": [9, 46]}}})
    assert bad.status_code == 400 and "zone" in bad.json()["detail"]
    assert requests.get(url + "/jobs/0123456789abcdef0123456789abcdef", auth=ALICE, timeout=30).status_code == 404


def test_a_failed_jobs_results_are_the_exception_that_failed_it(tmp_path):
    dem = analysis.dem(tmp_path / "dem.tif", (300, 300))
    with socket.socket() as closed:  # bound, never listening: the scheduler address refuses connections
        closed.bind(("127.0.0.1", 0))
        scheduler = f"tcp://127.0.0.1:{closed.getsockname()[1]}"
        with running_server(analysis.config(tmp_path, dem, cluster=scheduler), workers=1) as url:
            started = requests.post(url + "/processes/raster-analysis/execution", headers={"Prefer": "respond-async"},
                                    json={"inputs": {"layer": "dem", "template": "shade", "output": "dem_shade"}},
                                    timeout=30)
            assert started.status_code == 201, started.text
            location = started.headers["Location"]
            status = started.json()
            deadline = time.monotonic() + 120  # a guard against a hang, not a speed check
            while status["status"] in ("accepted", "running") and time.monotonic() < deadline:
                time.sleep(0.5)
                status = requests.get(location, timeout=30).json()
            results = requests.get(location + "/results", timeout=30)
    assert status["status"] == "failed" and scheduler in status["message"]
    # /req/core/job-results-failed: an error status and the exception that made the job fail
    assert results.status_code == 503 and results.headers["Content-Type"] == "application/json"
    assert results.json()["title"] == "NoApplicableCode" and results.json()["detail"] == status["message"]
