"""Analysis products kept in a bucket (``analysis.output_url``): chunks written by the workers,
the COG uploaded once whole, served through /vsis3/ with the same pixels as the job's product on
disk, and a job stopped midway resumed from the chunks found in the bucket."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rasterio
import requests
import yaml

from ogcserver.analysing.cluster import cluster_client
from ogcserver.analysing.products import JobCancelled, run_product
from ogcserver.composition import build_core, job_store
from ogcserver.core.analysis.inputs import spec_from_inputs
from ogcserver.model.jobs import JobRecord, JobState
from ogcserver.settings import load_settings
from tests.conftest import running_server
from tests.support import analysis, s3

pytestmark = pytest.mark.timeout(300)
BOX = "500000,5194000,507000,5200000"  # the whole 700 x 600 px DEM


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    return analysis.dem(tmp_path_factory.mktemp("analysis-objects") / "dem.tif", (600, 700))


def in_bucket(config, endpoint: str, bucket: str):
    raw = yaml.safe_load(config.read_text())
    raw["storage"] = s3.storage_section(endpoint)
    raw["analysis"]["output_url"] = f"s3://{bucket}/products"
    config.write_text(yaml.safe_dump(raw))
    return load_settings(config)


def shade(settings):
    core = build_core(settings)
    layer = core.engine.operator_layer("dem")
    spec = spec_from_inputs(core.engine, layer, {"template": "shade", "output": "dem_shade"},
                            chunk_size=settings.analysis.chunk_size)
    return core, spec


def coverage(url: str) -> np.ndarray:
    answer = requests.get(url + "/wcs", params={
        "SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "shaded", "CRS": "EPSG:32632",
        "BBOX": BOX, "WIDTH": 700, "HEIGHT": 600, "FORMAT": "GeoTIFF"}, timeout=60)
    assert answer.status_code == 200, answer.text
    with rasterio.open(io.BytesIO(answer.content)) as served:
        return served.read()


def test_a_product_in_a_bucket_serves_the_same_pixels_as_on_disk(dem, tmp_path, s3_endpoint):
    for name in ("disk", "bucket"):
        (tmp_path / name).mkdir()
    on_disk = load_settings(analysis.config(tmp_path / "disk", dem))
    bucket = s3.new_bucket(s3_endpoint, "products")
    in_objects = in_bucket(analysis.config(tmp_path / "bucket", dem), s3_endpoint, bucket)
    results = {}
    for name, settings in (("disk", on_disk), ("bucket", in_objects)):
        core, spec = shade(settings)
        with cluster_client(settings.analysis) as client:
            results[name] = run_product(core, settings, spec, client)
    assert results["bucket"].path == f"s3://{bucket}/products/dem_shade.tif"
    # the product alone is left: the chunks and manifest are gone once it is registered
    assert s3.keys(s3_endpoint, bucket) == ["products/dem_shade.tif"]
    local = tmp_path / "fetched.tif"
    s3.client(s3_endpoint).download_file(bucket, "products/dem_shade.tif", str(local))
    with rasterio.open(local) as got, rasterio.open(results["disk"].path) as want:
        assert got.profile == want.profile and got.overviews(1) == want.overviews(1)
        assert (got.read() == want.read()).all() and (got.read_masks(1) == want.read_masks(1)).all()
    served = {}
    for name in ("disk", "bucket"):
        with running_server(tmp_path / name / "ogcserver.yaml") as url:
            served[name] = coverage(url)
    assert (served["bucket"] == served["disk"]).all()
    with rasterio.open(dem) as src:
        want, ok = analysis.hillshade(src.read(1), src.nodata, 10.0)
    assert (served["bucket"][0][ok] == want[ok]).all()


def test_a_job_stopped_midway_resumes_from_the_chunks_in_the_bucket(dem, tmp_path, s3_endpoint):
    bucket = s3.new_bucket(s3_endpoint, "products")
    settings = in_bucket(analysis.config(tmp_path, dem), s3_endpoint, bucket)
    core, spec = shade(settings)
    chunks = "products/.work/dem_shade/chunks/"
    with cluster_client(settings.analysis) as client:
        seen: list[int] = []
        with pytest.raises(JobCancelled):
            run_product(core, settings, spec, client, progress=lambda done, total: seen.append(done),
                        stopped=lambda: seen[-1] >= 1)
        assert "dem_shade" not in core.catalog_store.collections()
        written = s3.keys(s3_endpoint, bucket, chunks)
        assert written and "products/dem_shade.tif" not in s3.keys(s3_endpoint, bucket)
        result = run_product(core, settings, spec, client)
    assert result.chunks == 4 and result.computed <= 4 - len(written)  # 700 x 600 px in 512 px chunks: 2 x 2
    assert "dem_shade" in core.catalog_store.collections()
    assert s3.keys(s3_endpoint, bucket) == ["products/dem_shade.tif"]


def test_job_records_in_the_bucket_are_read_back_by_any_node(s3_endpoint, tmp_path):
    bucket = s3.new_bucket(s3_endpoint, "products")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    dem_path = analysis.dem(tmp_path / "dem.tif", (100, 100))
    nodes = [job_store(in_bucket(analysis.config(tmp_path / name, dem_path), s3_endpoint, bucket)) for name in "ab"]
    older = JobRecord("a" * 32, "raster-analysis", "alice", {}, created="2026-01-01T00:00:00+00:00")
    newer = JobRecord("b" * 32, "raster-analysis", "bob", {}, status=JobState.FAILED, created="2026-01-02T00:00:00+00:00",
                      message="the Dask scheduler does not answer", error="ClusterUnavailable")
    for record in (older, newer):
        nodes[0].save(record)
    assert nodes[1].load(newer.id) == newer and nodes[1].load("c" * 32) is None and nodes[1].load("../x") is None
    assert [r.id for r in nodes[1].list(10)] == [newer.id, older.id] and [r.id for r in nodes[1].list(1)] == [newer.id]
    assert s3.keys(s3_endpoint, bucket) == [f"products/jobs/{older.id}.json", f"products/jobs/{newer.id}.json"]
