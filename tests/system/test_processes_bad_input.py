"""Hostile executions of OGC API - Processes: bodies that are not JSON, nested past the parser,
too large or holding NaN; zonal statistics over grids that cannot be computed; products that would
replace data their caller does not own. Each is a JSON exception with a 4xx status, refused
before any job starts, and nothing stored is lost."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from ogcserver.app import core_of, create_app
from ogcserver.composition import job_store
from ogcserver.core.analysis.jobs import Jobs, ProductJob
from ogcserver.model.access import ANONYMOUS
from ogcserver.model.jobs import JobRecord
from ogcserver.settings import load_settings
from tests.support import analysis

ZONAL = "/processes/zonal-statistics/execution"
PRODUCT = "/processes/raster-analysis/execution"


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    root = tmp_path_factory.mktemp("processes-bad-input")
    return analysis.dem(root / "dem.tif", (300, 300))


@pytest.fixture(scope="module")
def app(dem):
    return create_app(load_settings(analysis.config(dem.parent, dem)))


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def zone(app):
    bounds = core_of(app).engine.operator_layer("dem").info.bounds
    x0, y0, x1, y1 = bounds.minx, bounds.miny, bounds.maxx, bounds.maxy
    return analysis.utm_ring(x0 + 100, y0 + 100, (x0 + x1) / 2, (y0 + y1) / 2)


def jobs_stored(client) -> set[str]:
    return {r.id for r in job_store(core_of(client.application).engine.settings).list(100)}


def refused(response, status: int = 400) -> dict:
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.mimetype == "application/json", response.data[:300]
    return response.get_json()


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"inputs": ' * 5_000 + b"{}" + b"}" * 5_000,
    b'{"inputs": {"layer": "dem", "zones": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
])
def test_json_nested_past_the_parser_is_a_json_client_error(client, body):
    answer = refused(client.post(ZONAL, data=body, content_type="application/json"))
    assert answer["title"] == "InvalidParameterValue" and "nested too deeply" in answer["detail"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_numbers_json_does_not_have_are_refused(client, zone, number):
    text = json.dumps({"inputs": {"layer": "dem", "zones": zone, "bbox": [0, 0, 1, 1]}})
    body = text.replace("[0, 0, 1, 1]", f"[{number}, 0, 1, 1]")
    answer = refused(client.post(ZONAL, data=body, content_type="application/json"))
    assert number.lstrip("-") in answer["detail"] and answer["instance"] == "body"


def test_a_body_past_the_size_limit_is_a_json_413(client, app):
    limit = core_of(app).engine.settings.limits.max_body_bytes
    body = json.dumps({"inputs": {"layer": "dem", "pad": "x" * limit}})
    answer = refused(client.post(ZONAL, data=body, content_type="application/json"), 413)
    assert answer["status"] == 413


@pytest.mark.parametrize("inputs, locator", [
    ({"bbox": "nan,nan,inf,inf"}, "bbox"),
    ({"crs": "EPSG:999999"}, "crs"),
    ({"crs": ["EPSG:4326"]}, "crs"),
    ({"crs": "EPSG:4326", "resolution": 1e-9}, None),  # an area of 10^13 pixels: refused now, not by a job
])
def test_zonal_grids_that_cannot_be_computed_are_refused_before_a_job(client, zone, inputs, locator):
    before = jobs_stored(client)
    body = {"inputs": {"layer": "dem", "zones": zone, **inputs}}
    answer = refused(client.post(ZONAL, json=body, headers={"Prefer": "respond-async"}))
    assert answer["title"] == "InvalidParameterValue" and answer.get("instance") == locator, answer
    assert jobs_stored(client) == before


def test_a_product_never_replaces_what_its_caller_does_not_own(client, app, dem):
    store = core_of(app).engine.catalog.store
    store.create("scenes")  # a catalog collection (ogcserver catalog add): not a product
    store.upsert("scenes", [core_of(app).catalog.describe_file("one", str(dem))])
    store.create("theirs")
    store.set_meta("theirs", "product", json.dumps({"owner": "someone-else"}))
    before = jobs_stored(client)
    for output in ("dem", "scenes", "theirs"):  # a file layer's index, a collection, another caller's product
        body = {"inputs": {"layer": "dem", "output": output, "overwrite": True}}
        answer = refused(client.post(PRODUCT, json=body, headers={"Prefer": "respond-async"}))
        assert answer["instance"] == "output" and "not a product of yours" in answer["detail"], answer
    assert [item.key for item in store.items("scenes")] == ["one"]
    assert jobs_stored(client) == before


def test_a_caller_may_replace_their_own_product(app):
    core = core_of(app)
    core.engine.catalog.store.create("mine")
    core.engine.catalog.store.set_meta("mine", "product", json.dumps({"owner": ANONYMOUS.name}))
    jobs = Jobs(core.engine, store=None, runner=None, config=core.engine.settings.analysis)  # type: ignore[arg-type]
    work = jobs.prepare("raster-analysis", {"layer": "dem", "output": "mine", "overwrite": True}, ANONYMOUS)
    assert isinstance(work, ProductJob) and work.overwrite


def test_anonymous_callers_are_not_listed_each_others_jobs(client):
    """Every anonymous caller is the same principal: listing jobs would hand each one the ids of
    all the others' jobs, to read or dismiss. A job stays reachable through the id it was given."""
    settings = core_of(client.application).engine.settings
    record = JobRecord(uuid.uuid4().hex, "zonal-statistics", ANONYMOUS.name, {"layer": "dem"})
    job_store(settings).save(record)
    assert client.get("/jobs").get_json()["jobs"] == []
    assert client.get(f"/jobs/{record.id}").get_json()["jobID"] == record.id


def test_many_small_zones_cost_what_they_cover_not_zones_times_chunks(app, monkeypatch):
    """A 1 MiB body holds thousands of zones. Each chunk used to parse, project and mask every
    zone over the whole chunk (6500 zones over 16 chunks: a 27 s synchronous request); a chunk now
    takes only the zones whose lon/lat bounds reach it, each over its own window, with the same
    figures as a mask of the whole chunk."""
    from ogcserver.core.analysis import zonal
    from ogcserver.core.analysis.compute import pixels_inside
    from ogcserver.core.analysis.plan import chunks

    core = core_of(app)
    layer = core.engine.operator_layer("dem")
    b = layer.info.bounds
    step = (b.maxx - b.minx) / 12
    rings = [analysis.utm_ring(b.minx + (i + 0.2) * step, b.miny + (j + 0.2) * step,
                               b.minx + (i + 0.7) * step, b.miny + (j + 0.6) * step) for i in range(12) for j in range(12)]
    zones = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": r} for r in rings]}
    settings = core.engine.settings
    job = zonal.zonal_job(core.engine, layer, {"layer": "dem", "zones": zones}, settings.analysis.model_copy(
        update={"chunk_size": 512}))
    grid = job.spec.grid()
    plan = list(chunks(grid, 128))
    assert len(plan) >= 4
    projected = []
    original = zonal.projected
    monkeypatch.setattr(zonal, "projected", lambda shape, crs: projected.append(1) or original(shape, crs))
    for chunk in plan:
        got = zonal.chunk_partials(core.engine, job.spec, grid, chunk, job.zones, None)
        raster = zonal.chunk_values(core.engine, job.spec, grid, chunk)
        for index, zone in enumerate(job.zones):  # the same pixels as a mask of the whole chunk
            shape = original(zonal.geojson_polygon(zone.geometry, 10**5), raster.grid.crs)
            whole = pixels_inside(shape, raster.grid) & raster.valid
            assert (index in got) == bool(whole.any()), (index, chunk)
            if whole.any():
                values = raster.data[0][whole].astype(float)
                assert got[index][0].count == values.size and got[index][0].mean == pytest.approx(values.mean())
    assert len(projected) < len(rings) * len(plan) / 2, (len(projected), len(rings), len(plan))


@pytest.mark.parametrize("method, path, status, allow", [
    ("PUT", "/processes", 405, "GET"),
    ("GET", "/processes/zonal-statistics/execution", 405, "POST"),
    ("POST", "/jobs", 405, "GET"),
    ("PATCH", "/jobs/0123", 405, "DELETE"),
    ("GET", "/jobs/0123/results/more", 404, None),
    ("DELETE", "/catalog/dem/items", 405, "GET"),
])
def test_routing_errors_of_the_json_apis_are_json(client, method, path, status, allow):
    r = client.open(path, method=method)
    assert r.status_code == status and r.mimetype == "application/json", (r.status_code, r.data[:200])
    assert r.get_json()["title" if path.startswith(("/processes", "/jobs")) else "code"]
    if allow:
        assert allow in r.headers["Allow"]


@pytest.mark.parametrize("empty", [{"type": "Polygon", "coordinates": []}, {"type": "MultiPolygon", "coordinates": []}])
def test_zones_without_a_ring_are_refused(client, zone, empty):
    """GEOS finds an empty polygon valid: it was computed as a zone of no pixels (and, as an
    analysis mask, erased the whole product)."""
    body = {"inputs": {"layer": "dem", "zones": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": zone}, {"type": "Feature", "geometry": empty}]}}}
    answer = refused(client.post(ZONAL, json=body))
    assert answer["instance"] == "zones" and "zone 1" in answer["detail"] and "ring" in answer["detail"], answer


def test_a_server_process_runs_at_most_max_jobs_jobs_at_once(dem, tmp_path, monkeypatch):
    """Each job is a thread and, with a local cluster, its own worker processes: eight
    asynchronous zonal jobs sent at once took a server from 3 processes and 336 MiB to 15 and
    2.1 GiB. Past analysis.max_jobs a job is refused (503, Retry-After) until one ends."""
    from ogcserver.analysing.jobs import ClusterRunner

    release = threading.Event()
    monkeypatch.setattr(ClusterRunner, "_run", lambda self, job, work: release.wait(30))
    config = analysis.config(tmp_path, dem, max_jobs=1)
    client = create_app(load_settings(config)).test_client()
    core = core_of(client.application)
    b = core.engine.operator_layer("dem").info.bounds
    ring = analysis.utm_ring(b.minx + 100, b.miny + 100, b.minx + 900, b.miny + 900)
    body = {"inputs": {"layer": "dem", "zones": ring}}
    first = client.post(ZONAL, json=body, headers={"Prefer": "respond-async"})
    assert first.status_code == 201, first.data[:300]
    busy = refused(client.post(ZONAL, json=body, headers={"Prefer": "respond-async"}), 503)
    assert busy["title"] == "ServerBusy"
    assert client.post(ZONAL, json=body, headers={"Prefer": "respond-async"}).headers["Retry-After"]
    release.set()
    deadline = time.monotonic() + 30  # a guard against a hang, not a speed check
    while time.monotonic() < deadline:
        again = client.post(ZONAL, json=body, headers={"Prefer": "respond-async"})
        if again.status_code == 201:
            break
        time.sleep(0.1)
    assert again.status_code == 201, again.data[:300]
