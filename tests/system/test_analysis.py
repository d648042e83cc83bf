"""Analysis products on a local Dask cluster of two worker processes: pixels against single-process
numpy, a valid COG, published by a running server, resumed after an interruption, and unharmed
by a worker killed mid-job."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio
import requests

from ogcserver.analysing.cluster import cluster_client
from ogcserver.analysing.products import JobCancelled, run_product
from ogcserver.composition import build_core
from ogcserver.core.analysis.inputs import spec_from_inputs
from ogcserver.settings import load_settings
from tests.conftest import running_server
from tests.support import analysis

pytestmark = pytest.mark.timeout(300)


def run(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "ogcserver", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis-data")
    return analysis.dem(root / "dem.tif", (900, 1100)), analysis.multispectral(root / "ms.tif", (600, 700))


@pytest.fixture()
def config(inputs, tmp_path):
    return analysis.config(tmp_path, *inputs)


def product(config, name):
    return load_settings(config).products_dir / f"{name}.tif"


def gdalinfo(path):
    return subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True, check=True).stdout


def test_hillshade_product_equals_numpy_is_a_cog_and_is_served(inputs, config):
    done = run("analysis", "run", "-c", str(config), "--layer", "dem", "--template", "shade", "--out", "dem_shade")
    assert done.returncode == 0, done.stderr
    assert "6 chunks (6 computed, 0 already done)" in done.stderr  # 1100 x 900 px in 512 px chunks: 3 x 2
    with rasterio.open(inputs[0]) as src:
        want, ok = analysis.hillshade(src.read(1), src.nodata, 10.0)
        source_transform, source_crs = src.transform, src.crs
    path = product(config, "dem_shade")
    with rasterio.open(path) as out:
        got, valid = out.read(1), out.read_masks(1) > 0
        assert out.transform == source_transform and out.crs == source_crs  # exact georeferencing
        assert out.dtypes == ("uint8",) and out.descriptions == ("hillshade",)
    assert (valid == ok).all()
    assert (got[ok] == want[ok]).all()
    info = gdalinfo(path)
    assert "LAYOUT=COG" in info and "Block=512x512" in info and "COMPRESSION=DEFLATE" in info
    assert "Overviews: 550x450" in info and "Mask Flags: PER_DATASET" in info
    # a running server whose configuration has a layer on the product's collection serves it
    with running_server(config) as url:
        b = "500000,5191000,511000,5200000"
        coverage = requests.get(url + "/wcs", params={
            "SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "shaded", "CRS": "EPSG:32632",
            "BBOX": b, "WIDTH": 1100, "HEIGHT": 900, "FORMAT": "GeoTIFF"}, timeout=60)
        assert coverage.status_code == 200, coverage.text
        with rasterio.open(io.BytesIO(coverage.content)) as served:
            assert (served.read(1)[ok] == want[ok]).all()
        picture = requests.get(url + "/wms", params={
            "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "shaded", "STYLES": "",
            "CRS": "EPSG:32632", "BBOX": b, "WIDTH": 550, "HEIGHT": 450, "FORMAT": "image/png"}, timeout=60)
        assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/png"
    again = run("analysis", "run", "-c", str(config), "--layer", "dem", "--template", "shade", "--out", "dem_shade")
    assert again.returncode == 2 and "exists" in again.stderr  # refused unless --overwrite


def test_band_math_over_a_bbox_and_polygon(inputs, config, tmp_path):
    polygon = tmp_path / "area.geojson"
    polygon.write_text(json.dumps(analysis.utm_ring(501000, 5196000, 505000, 5199000)))
    chain = json.dumps({"bands": [1, 2, 3, 4], "chain": [{"function": "normalized_difference", "a": 4, "b": 3}]})
    done = run("analysis", "run", "-c", str(config), "--layer", "ms", "--chain", chain, "--bbox",
               "500000,5194000,506000,5200000", "--res", "10", "--polygon", str(polygon), "--out", "ndvi_product")
    assert done.returncode == 0, done.stderr
    with rasterio.open(inputs[1]) as src:
        want, ok = analysis.ndvi(src.read(window=((0, 600), (0, 600))), 0)
    with rasterio.open(product(config, "ndvi_product")) as out:
        assert (out.width, out.height, out.dtypes[0]) == (600, 600, "float32") and np.isnan(out.nodata)
        got = out.read(1)
    x = np.arange(600) * 10 + 500005.0
    y = 5200000 - (np.arange(600) * 10 + 5.0)
    # the ring is straight in lon/lat, so its edges bend by well under a pixel here: pixels more
    # than one pixel from them are surely inside or outside
    deep_in = ((x[None, :] > 501010) & (x[None, :] < 504990) & (y[:, None] > 5196010) & (y[:, None] < 5198990))
    near = ((x[None, :] > 500990) & (x[None, :] < 505010) & (y[:, None] > 5195990) & (y[:, None] < 5199010))
    valid = np.isfinite(got)
    assert valid[deep_in & ok].all() and not valid[~near].any()
    np.testing.assert_allclose(got[deep_in & ok], want[deep_in & ok], rtol=1e-6)


def _spec(core, settings, out):
    layer = core.engine.operator_layer("dem")
    return spec_from_inputs(core.engine, layer, {"template": "shade", "output": out},
                            chunk_size=settings.analysis.chunk_size)


def test_an_interrupted_job_registers_nothing_and_resumes_without_recomputing(config):
    settings = load_settings(config)
    core = build_core(settings)
    spec = _spec(core, settings, "dem_shade")
    chunks = settings.products_dir / ".work" / "dem_shade" / "chunks"
    with cluster_client(settings.analysis) as client:
        seen = []
        with pytest.raises(JobCancelled):
            run_product(core, settings, spec, client, progress=lambda done, total: seen.append(done),
                        stopped=lambda: seen[-1] >= 1)
        assert "dem_shade" not in core.catalog_store.collections()
        assert not product(config, "dem_shade").exists()
        written = {p.name: p.stat().st_mtime_ns for p in chunks.glob("r*.tif")}
        assert written  # stopped after the first chunk was written (others may have finished meanwhile)
        result = run_product(core, settings, spec, client)
    # chunks done before were not computed again (a chunk running when the stop came may still
    # have finished after the listing above: it is then skipped too)
    assert result.computed <= 6 - len(written)
    assert result.chunks == 6 and "dem_shade" in core.catalog_store.collections()
    assert not chunks.exists()  # assembled, registered, the working files gone


def test_ctrl_c_cancels_the_job_cleanly(config):
    proc = subprocess.Popen([sys.executable, "-m", "ogcserver", "analysis", "run", "-c", str(config), "--layer",
                             "dem", "--template", "shade", "--res", "5", "--out", "dem_shade"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    chunks = load_settings(config).products_dir / ".work" / "dem_shade" / "chunks"
    deadline = time.monotonic() + 180  # a guard against a hang, not a speed check
    while not list(chunks.glob("r*.tif")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err and "Traceback" not in err
    assert not product(config, "dem_shade").exists()


def test_a_worker_killed_mid_job_changes_nothing(config, inputs):
    settings = load_settings(config)
    core = build_core(settings)
    spec = _spec(core, settings, "dem_shade")
    with cluster_client(settings.analysis) as client:
        pids = client.run(os.getpid)
        killed = []

        def kill_one(done, total):
            if done >= 1 and not killed:
                killed.append(next(iter(pids.values())))
                os.kill(killed[0], signal.SIGKILL)

        result = run_product(core, settings, spec, client, progress=kill_one)
    assert killed and result.chunks == 6
    with rasterio.open(inputs[0]) as src:
        want, ok = analysis.hillshade(src.read(1), src.nodata, 10.0)
    with rasterio.open(result.path) as out:
        assert (out.read(1)[ok] == want[ok]).all() and ((out.read_masks(1) > 0) == ok).all()


def test_zonal_statistics_on_the_cluster_equal_those_computed_at_once(config, tmp_path):
    from ogcserver.analysing.zonal import run_zonal
    from ogcserver.core.analysis.zonal import zonal_job
    # zones across chunk edges (512 px = 5120 m), so partials of several chunks are merged
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": 7, "properties": {}, "geometry": analysis.utm_ring(502000, 5192000, 509000, 5197500)},
        {"type": "Feature", "id": 8, "properties": {}, "geometry": analysis.utm_ring(500100, 5195000, 501000, 5199900)}]}
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(zones))
    done = run("analysis", "zonal", "-c", str(config), "--layer", "dem", "--zones", str(path), "--bins", "8",
               "--range", "200,700")
    assert done.returncode == 0, done.stderr
    on_cluster = json.loads(done.stdout)
    settings = load_settings(config)
    core = build_core(settings)
    layer = core.engine.operator_layer("dem")
    job = zonal_job(core.engine, layer, {"zones": zones, "bins": 8, "range": [200, 700]}, settings.analysis)
    at_once = run_zonal(core, settings, job, None)
    for a, b in zip(on_cluster, at_once):
        x, y = a["bands"][0], b["bands"][0]
        assert a["id"] == b["id"] and x["count"] == y["count"] > 0 and x["histogram"] == y["histogram"]
        assert (x["min"], x["max"]) == (y["min"], y["max"])
        assert x["mean"] == pytest.approx(y["mean"], rel=1e-12) and x["std"] == pytest.approx(y["std"], rel=1e-9)


def test_bad_analysis_inputs_say_what_is_wrong(config):
    from ogcserver.core.analysis.inputs import spec_from_inputs
    from ogcserver.model.errors import InvalidValue

    settings = load_settings(config)
    core = build_core(settings)
    layer = core.engine.operator_layer("dem")
    cases = [({"chain": "{not json"}, "not valid JSON"), ({"chain": {"chain": [{"function": "nope"}]}}, "chain"),
             ({"template": "nope"}, "no processing template"), ({"template": "shade", "bbox": "1,2,3"}, "4 numbers"),
             ({"template": "shade", "crs": "EPSG:3857"}, "resolution"), ({"output": "1x"}, "output name"),
             ({"template": "shade", "chain": {"chain": []}}, "not both"), ({"crs": "EPSG:0"}, "CRS")]
    for given, message in cases:
        with pytest.raises(InvalidValue, match=message):
            spec_from_inputs(core.engine, layer, {"output": "x", **given})
    with pytest.raises(InvalidValue, match="local or tcp"), cluster_client(settings.analysis, "http://elsewhere"):
        pass


def test_bad_analysis_commands_say_what_is_wrong(config):
    from tests.conftest import reserved_port

    with reserved_port() as port:  # bound, never listening: nothing answers there
        done = run("analysis", "run", "-c", str(config), "--layer", "dem", "--template", "shade", "--out", "x",
                   "--cluster", f"tcp://127.0.0.1:{port}")
    assert done.returncode == 2 and "does not answer" in done.stderr and "Traceback" not in done.stderr
    missing = run("analysis", "run", "-c", str(config), "--layer", "nope", "--template", "shade", "--out", "x")
    assert missing.returncode == 2 and "not defined" in missing.stderr and "Traceback" not in missing.stderr
