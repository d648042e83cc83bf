"""Two analysis jobs given one output name never write that product at once: the second is refused
while the first holds its claim (in a folder and in a bucket), a crashed job's claim expires so
its re-run resumes, a stopped job gives the name back, and the Processes API says which job
holds it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest
import rasterio
import requests
import yaml

from ogcserver.analysing.cluster import cluster_client
from ogcserver.analysing.products import JobCancelled, product_store, run_product
from ogcserver.composition import build_core
from ogcserver.core.analysis.inputs import spec_from_inputs
from ogcserver.model.jobs import ProductBusy
from ogcserver.settings import load_settings
from ogcserver.storage.product_claims import Claim
from ogcserver.web.auth import hash_password
from tests.conftest import running_server
from tests.support import analysis, s3

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    return analysis.dem(tmp_path_factory.mktemp("claims") / "dem.tif", (900, 1100))


def configured(tmp_path, dem, s3_endpoint=None, **options):
    config = analysis.config(tmp_path, dem, **options)
    if s3_endpoint is not None:
        raw = yaml.safe_load(config.read_text())
        raw["storage"] = s3.storage_section(s3_endpoint)
        raw["analysis"]["output_url"] = f"s3://{s3.new_bucket(s3_endpoint)}/products"
        config.write_text(yaml.safe_dump(raw))
    return config


def shade(core, settings, **inputs):
    layer = core.engine.operator_layer("dem")
    return spec_from_inputs(core.engine, layer, {"template": "shade", "output": "dem_shade", **inputs},
                            chunk_size=settings.analysis.chunk_size)


@pytest.mark.parametrize("store", ["folder", "bucket"])
def test_a_second_job_of_the_same_name_is_refused_while_the_first_runs(dem, tmp_path, store, request):
    endpoint = request.getfixturevalue("s3_endpoint") if store == "bucket" else None
    settings = load_settings(configured(tmp_path, dem, endpoint))
    core = build_core(settings)
    first, second = shade(core, settings), shade(core, settings, resolution=20)  # another grid, another job
    outcome: dict = {}
    with cluster_client(settings.analysis) as client:
        def run_second() -> None:
            try:
                outcome["second"] = run_product(core, settings, second, client)
            except Exception as exc:  # the test looks at what it was
                outcome["second"] = exc

        racer = threading.Thread(target=run_second)

        def started(done: int, total: int) -> None:
            if not racer.is_alive() and "second" not in outcome:
                racer.start()  # the second job starts once the first has written its manifest

        result = run_product(core, settings, first, client, progress=started)
        racer.join(timeout=240)
    refused = outcome["second"]
    assert isinstance(refused, ProductBusy), refused
    assert refused.message.startswith("product dem_shade is being computed by another job (started ")
    assert result.chunks == 6 and result.computed == 6
    meta = json.loads(core.catalog_store.get_meta("dem_shade", "product"))
    assert meta["digest"] == first.digest()  # the product registered is the first job's, whole
    with rasterio.open(_local(result.path, endpoint, tmp_path)) as out:
        want, ok = _hillshade(dem)
        assert (out.width, out.height) == (1100, 900) and (out.read(1)[ok] == want[ok]).all()
    # the name is free again once the first job ended: a job of it now is told the product exists
    with pytest.raises(Exception, match="exists"), cluster_client(settings.analysis) as client:
        run_product(core, settings, second, client)


def _hillshade(dem):
    with rasterio.open(dem) as src:
        return analysis.hillshade(src.read(1), src.nodata, 10.0)


def _local(path: str, endpoint: str | None, folder):
    """The product as a local file (downloaded from the bucket)."""
    if endpoint is None:
        return path
    bucket, key = path.removeprefix("s3://").split("/", 1)
    local = folder / "downloaded.tif"
    s3.client(endpoint).download_file(bucket, key, str(local))
    return local


@pytest.mark.parametrize("store", ["folder", "bucket"])
def test_a_live_claim_refuses_and_an_expired_one_is_taken_over(dem, tmp_path, store, request):
    endpoint = request.getfixturevalue("s3_endpoint") if store == "bucket" else None
    settings = load_settings(configured(tmp_path, dem, endpoint, claim_expiry_seconds=60))
    core = build_core(settings)
    spec = shade(core, settings)
    other = product_store(settings, "dem_shade")
    other.claim(Claim("elsewhere", "node-b, process 7", "2026-01-01T00:00:00+00:00", time.time()), 60)
    with cluster_client(settings.analysis) as client:
        with pytest.raises(ProductBusy, match=r"\(started 2026-01-01T00:00:00\+00:00, on node-b, process 7\)"):
            run_product(core, settings, spec, client)
        assert "dem_shade" not in core.catalog_store.collections()
        # the other job crashed: its heartbeat is older than the expiry
        crashed = product_store(settings, "dem_shade")
        crashed.claim(Claim("elsewhere", "node-b, process 7", "2026-01-01T00:00:00+00:00", time.time() - 61), 60)
        result = run_product(core, settings, spec, client)
    assert result.chunks == 6 and "dem_shade" in core.catalog_store.collections()


def run(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "ogcserver", *args], capture_output=True, text=True, timeout=timeout)


def test_a_killed_command_blocks_the_name_until_its_claim_expires_then_resumes(dem, tmp_path):
    config = configured(tmp_path, dem, claim_expiry_seconds=10)
    command = ["analysis", "run", "-c", str(config), "--layer", "dem", "--template", "shade", "--out", "dem_shade"]
    proc = subprocess.Popen([sys.executable, "-m", "ogcserver", *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    products = load_settings(config).products_dir
    chunks, claim = products / ".work" / "dem_shade" / "chunks", products / ".work" / "dem_shade.claim"
    deadline = time.monotonic() + 180  # a guard against a hang, not a speed check
    while not list(chunks.glob("r*.tif")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()  # a crash: nothing releases the claim
    proc.communicate(timeout=60)
    beat = json.loads(claim.read_text())["beat"]
    busy = run(*command)
    assert time.time() - beat < 10  # the refusal came while the claim was live
    assert busy.returncode == 2, busy.stderr
    assert "product dem_shade is being computed by another job (started " in busy.stderr
    assert "Traceback" not in busy.stderr
    time.sleep(max(0.0, beat + 10.5 - time.time()))
    resumed = run(*command)
    assert resumed.returncode == 0, resumed.stderr
    assert "6 chunks (" in resumed.stderr and "0 already done" not in resumed.stderr  # the crashed run's chunks kept
    assert not claim.exists()


def test_ctrl_c_releases_the_name(dem, tmp_path):
    config = configured(tmp_path, dem)  # the default expiry: only a release frees the name at once
    command = ["analysis", "run", "-c", str(config), "--layer", "dem", "--template", "shade", "--out", "dem_shade"]
    proc = subprocess.Popen([sys.executable, "-m", "ogcserver", *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    products = load_settings(config).products_dir
    chunks = products / ".work" / "dem_shade" / "chunks"
    deadline = time.monotonic() + 180
    while not list(chunks.glob("r*.tif")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert not (products / ".work" / "dem_shade.claim").exists()
    again = run(*command)
    assert again.returncode == 0, again.stderr


def test_a_stopped_job_releases_the_name(dem, tmp_path):
    settings = load_settings(configured(tmp_path, dem))
    core = build_core(settings)
    spec = shade(core, settings)
    with cluster_client(settings.analysis) as client:
        with pytest.raises(JobCancelled):
            run_product(core, settings, spec, client, stopped=lambda: True)
        with pytest.raises(RuntimeError):
            run_product(core, settings, spec, client, progress=_fail)
        result = run_product(core, settings, spec, client)  # neither left a claim behind
    assert result.chunks == 6


def _fail(done: int, total: int) -> None:
    raise RuntimeError("a failure mid-job")


ALICE = ("alice", "alice-secret")


def _wait(url, job, states=("successful", "failed", "dismissed")):
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = requests.get(f"{url}/jobs/{job}", auth=ALICE, timeout=30).json()
        if status["status"] in states:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not end")


def test_the_processes_api_refuses_a_second_job_with_409_and_frees_the_name_on_dismissal(dem, tmp_path):
    access = {"users": [{"name": "alice", "password_hash": hash_password(ALICE[1])}],
              "grants": [{"to": "user:alice", "service": "demo", "actions": ["discover", "view", "process"]}]}
    config = configured(tmp_path, dem, access=access, max_jobs=2)
    body = {"inputs": {"layer": "dem", "template": "shade", "output": "dem_shade", "resolution": 2.5}}
    with running_server(config, workers=1) as url:
        first = requests.post(url + "/processes/raster-analysis/execution", json=body, auth=ALICE, timeout=60,
                              headers={"Prefer": "respond-async"})
        assert first.status_code == 201, first.text
        first_job = first.json()["jobID"]
        _wait(url, first_job, ("running",))
        products = load_settings(config).products_dir
        deadline = time.monotonic() + 120
        while not (products / ".work" / "dem_shade.claim").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = requests.post(url + "/processes/raster-analysis/execution", json=body, auth=ALICE, timeout=60,
                               headers={"Prefer": "respond-async"})
        assert second.status_code == 409, second.text  # refused at submission: no job is started
        assert second.headers["Content-Type"].startswith("application/json")
        refusal = second.json()
        assert refusal["title"] == "ProductBusy"
        assert refusal["detail"].startswith("product dem_shade is being computed by another job (started ")
        assert requests.delete(f"{url}/jobs/{first_job}", auth=ALICE, timeout=30).status_code == 200
        deadline = time.monotonic() + 120
        while (products / ".work" / "dem_shade.claim").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (products / ".work" / "dem_shade.claim").exists()  # the cancelled job gave the name back
        third = requests.post(url + "/processes/raster-analysis/execution", json=body, auth=ALICE, timeout=60,
                              headers={"Prefer": "respond-async"})
        assert third.status_code == 201, third.text


def test_a_job_refused_while_running_fails_and_its_results_answer_409(dem, tmp_path):
    """Two submissions at once both pass the check at submission; the second to claim the name
    then fails, and its results say why with the status the refusal would have had."""
    from ogcserver.analysing.jobs import ClusterRunner
    from ogcserver.composition import job_store
    from ogcserver.core.analysis.jobs import ProductJob
    from ogcserver.model.jobs import JobFailed, JobRecord, JobState, error_named
    from ogcserver.ows.processes.errors import PROCESSES

    settings = load_settings(configured(tmp_path, dem))
    core = build_core(settings)
    store = job_store(settings)
    product_store(settings, "dem_shade").claim(Claim.new("elsewhere"), 60)
    record = JobRecord("a" * 32, "raster-analysis", "operator", {})
    store.save(record)
    ClusterRunner(core, settings, store)._run(record.id, ProductJob(shade(core, settings), False))
    failed = store.load(record.id)
    assert failed.status is JobState.FAILED and failed.error == "ProductBusy"
    assert failed.message.startswith("product dem_shade is being computed by another job (started ")
    answer = PROCESSES.to_ows(JobFailed(record.id, failed.message, error_named(failed.error)))
    assert answer.status == 409 and answer.code == "ProductBusy"


ROUNDS = 30


def _claim_in_rounds(root: str, job: str, start, results) -> None:
    """In each round, all racers at once: claim the name in that round's folder."""
    from pathlib import Path

    from ogcserver.storage.products import ProductFolder

    for round_ in range(ROUNDS):
        start.wait()
        try:
            ProductFolder(Path(root) / f"round-{round_}", "dem_shade").claim(Claim.new(job), 60)
            results.put((round_, job))
        except ProductBusy:
            results.put((round_, None))


def test_of_many_processes_claiming_one_name_at_once_exactly_one_wins(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(6), context.Queue()
    racers = [context.Process(target=_claim_in_rounds, args=(str(tmp_path), f"job-{n}", start, results))
              for n in range(6)]
    for racer in racers:
        racer.start()
    answers = [results.get(timeout=60) for _ in range(ROUNDS * len(racers))]
    for racer in racers:
        racer.join(timeout=60)
    winners = [sum(1 for round_, job in answers if round_ == r and job) for r in range(ROUNDS)]
    assert winners == [1] * ROUNDS


def test_of_many_nodes_claiming_one_name_in_a_bucket_at_once_exactly_one_wins(dem, tmp_path, s3_endpoint):
    from ogcserver.composition import s3_endpoint as endpoint_of
    from ogcserver.storage.object_products import ObjectProductFolder
    from ogcserver.storage.s3 import Clients

    settings = load_settings(configured(tmp_path, dem, s3_endpoint))
    start, won = threading.Barrier(6), []

    def race(n: int) -> None:
        store = ObjectProductFolder(Clients(endpoint_of(settings)), settings.analysis.output_url, "dem_shade")
        start.wait()
        try:
            store.claim(Claim.new(f"job-{n}"), 60)
            won.append(n)
        except ProductBusy:
            pass

    racers = [threading.Thread(target=race, args=(n,)) for n in range(6)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    assert len(won) == 1


def test_a_job_whose_claim_was_taken_stops_and_registers_nothing(dem, tmp_path):
    from ogcserver.model.jobs import ClaimLost

    settings = load_settings(configured(tmp_path, dem, claim_expiry_seconds=1))
    core = build_core(settings)
    spec = shade(core, settings, resolution=5)
    taken: list[bool] = []

    def take_over(done: int, total: int) -> None:
        if done >= 1 and not taken:  # as if this job had stalled past the expiry and another took the name
            claim = settings.products_dir / ".work" / "dem_shade.claim"
            claim.write_bytes(Claim.new("the-other-job").encode())
            taken.append(True)

    with cluster_client(settings.analysis) as client, pytest.raises(ClaimLost):
        run_product(core, settings, spec, client, progress=take_over)
    assert taken and "dem_shade" not in core.catalog_store.collections()
    assert not (settings.products_dir / "dem_shade.tif").exists()
    assert Claim.decode((settings.products_dir / ".work" / "dem_shade.claim").read_bytes()).job == "the-other-job"
