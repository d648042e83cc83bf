"""Seeding and analysis on a Dask cluster reached over TCP: a scheduler and two worker processes
started here on free local ports. Two seeding clients race over the same metatiles: every
metatile is rendered exactly once across the workers (renders counted by a worker preload), and
a re-run writes nothing. The same cluster computes an analysis product equal to a local one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
import rasterio
import yaml

from ogcserver.analysing.cluster import cluster_client
from ogcserver.analysing.products import run_product
from ogcserver.composition import build_core
from ogcserver.core.analysis.inputs import spec_from_inputs
from ogcserver.settings import load_settings
from tests.conftest import REPO
from tests.support import analysis, s3
from tests.support.dask_cluster import dask_cluster

pytestmark = pytest.mark.timeout(400)


def ogcserver(*args, **popen):
    return subprocess.Popen([sys.executable, "-m", "ogcserver", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def test_cluster_seeding_renders_each_metatile_once_and_computes_products(tmp_path):
    dem = analysis.dem(tmp_path / "dem.tif", (700, 900))
    config = analysis.config(tmp_path, dem)
    render_log = tmp_path / "renders.log"
    dry = subprocess.run([sys.executable, "-m", "ogcserver", "seed", "-c", str(config), "--layer", "dem", "--zoom",
                          "12-15", "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=120)
    tiles, metatiles = (int(v) for v in dry.stdout.split(": ")[1].replace(" metatiles", "").split(" tiles in "))
    with dask_cluster(tmp_path, render_log) as address:
        seeders = [ogcserver("seed", "-c", str(config), "--layer", "dem", "--zoom", "12-15", "--cluster", address)
                   for _ in range(2)]
        outputs = [p.communicate(timeout=300) for p in seeders]
        assert all(p.returncode == 0 for p in seeders), outputs
        renders = Counter(line.split(" ", 1)[1] for line in render_log.read_text().splitlines())
        assert len(renders) == metatiles and set(renders.values()) == {1}  # each metatile once, across both runs
        assert len({line.split()[0] for line in render_log.read_text().splitlines()}) == 2  # on both workers
        written = sum(int(err.split("done: ")[1].split(" tiles written")[0]) for _out, err in outputs)
        assert written == tiles
        again = ogcserver("seed", "-c", str(config), "--layer", "dem", "--zoom", "12-15", "--cluster", address)
        _out, err = again.communicate(timeout=300)
        assert "done: 0 tiles written" in err and len(render_log.read_text().splitlines()) == metatiles
        # an analysis product on the same cluster equals the one a local cluster computes
        remote = ogcserver("analysis", "run", "-c", str(config), "--layer", "dem", "--template", "shade", "--out",
                           "dem_shade", "--cluster", address)
        _out, err = remote.communicate(timeout=300)
        assert remote.returncode == 0, err
    products = tmp_path / "state" / "products"
    os.replace(products / "dem_shade.tif", tmp_path / "remote.tif")
    local = ogcserver("analysis", "run", "-c", str(config), "--layer", "dem", "--template", "shade", "--out",
                      "dem_shade", "--overwrite")
    _out, err = local.communicate(timeout=300)
    assert local.returncode == 0, err
    with rasterio.open(tmp_path / "remote.tif") as a, rasterio.open(products / "dem_shade.tif") as b:
        assert (a.read() == b.read()).all() and (a.read_masks(1) == b.read_masks(1)).all()
        assert a.transform == b.transform


def test_a_worker_killed_mid_job_on_the_tcp_cluster_changes_nothing(tmp_path, s3_endpoint):
    """Its chunks are computed again by the worker its nanny restarts, or by the other one; the
    product, kept in a bucket as machines without a shared disk need, is the same."""
    dem = analysis.dem(tmp_path / "dem.tif", (700, 900))
    bucket = s3.new_bucket(s3_endpoint, "products")
    config = analysis.config(tmp_path, dem, output_url=f"s3://{bucket}/products")
    raw = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**raw, "storage": s3.storage_section(s3_endpoint)}))
    settings = load_settings(config)
    core = build_core(settings)
    spec = spec_from_inputs(core.engine, core.engine.operator_layer("dem"), {"template": "shade", "output": "dem_shade"},
                            chunk_size=settings.analysis.chunk_size)
    with dask_cluster(tmp_path, tmp_path / "renders.log") as address, cluster_client(settings.analysis, address) as client:
        pids = client.run(os.getpid)
        killed: list[int] = []

        def kill_one(done: int, total: int) -> None:
            if done >= 1 and not killed:
                killed.append(next(iter(pids.values())))
                os.kill(killed[0], signal.SIGKILL)

        result = run_product(core, settings, spec, client, progress=kill_one)
    assert killed and result.chunks == 4 and result.path == f"s3://{bucket}/products/dem_shade.tif"
    assert s3.keys(s3_endpoint, bucket) == ["products/dem_shade.tif"]
    s3.client(s3_endpoint).download_file(bucket, "products/dem_shade.tif", str(tmp_path / "product.tif"))
    with rasterio.open(dem) as src:
        want, ok = analysis.hillshade(src.read(1), src.nodata, 10.0)
    with rasterio.open(tmp_path / "product.tif") as out:
        assert (out.read(1)[ok] == want[ok]).all() and ((out.read_masks(1) > 0) == ok).all()
