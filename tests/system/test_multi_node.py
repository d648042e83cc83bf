"""A multi-machine deployment on one machine, processes standing in for machines: one PostGIS
catalog, one S3-compatible object store (sources, tiles and analysis products), a Dask scheduler
with two worker processes, and two hosting nodes (``ogcserver serve``) on different ports, all
reading one configuration.

An analysis job submitted through node A's Processes API runs on the cluster, is followed
through node B (job records are kept in the products' bucket), and its product is served by node B (WMS and WCS equal to numpy's hillshade of the source); a layer seeded through
the cluster is rendered once per metatile and served from the shared cache by both nodes; an
item changed on node A's side drops exactly its tiles for node B.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
import yaml
from rasterio.transform import from_origin

from ogcserver.cli import main
from ogcserver.core import tiling
from ogcserver.model.geo import BBox, transform_bbox
from tests.conftest import REPO, serving
from tests.support import analysis, rasters, s3
from tests.support.dask_cluster import dask_cluster
from tests.support.postgres import SKIP_REASON
from tests.support.reference import decode

pytestmark = pytest.mark.timeout(400)
ZOOMS = (15, 16)
META = 4  # tiles a side of a metatile (cache.meta_size's default)
EAST_DX = 20_000  # metres between the two scenes: no tile of these zooms covers both
SHAPE = (600, 700)  # the DEM: 2 x 2 chunks of 512 px
BOX = "500000,5194000,507000,5200000"  # the DEM's extent


def _config(folder: Path, dsn: str, endpoint: str, buckets: dict[str, str], dem: str, suffix: str,
            cluster: str) -> Path:
    config = folder / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "catalog": {"backend": "postgis", "dsn": dsn},
        "storage": s3.storage_section(endpoint, [buckets["sources"]]),
        "cache": {"store": "s3", "bucket": buckets["tiles"], "prefix": "tiles/"},
        "analysis": {"cluster": cluster, "chunk_size": 512, "output_url": f"s3://{buckets['products']}/products"},
        "processing": [{"name": "shade", "chain": [{"function": "hillshade"}]}],
        "services": [{"name": "shared", "layers": [
            {"name": "dem", "source": dem, "styles": ["shade"]},
            {"name": "shaded", "collection": f"dem_shade_{suffix}"},
            {"name": "scenes", "collection": f"scenes_{suffix}"},
        ]}],
    }))
    return config


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ogcserver", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def _spans(box: BBox) -> dict[int, tuple[int, int, int, int]]:
    tms = tiling.well_known("WebMercatorQuad")
    return {z: tms.tiles_over(transform_bbox(box, tms.crs), z) for z in ZOOMS}


def _metatiles(spans: dict[int, tuple[int, int, int, int]]) -> set[tuple[int, int, int]]:
    """The metatiles (zoom, column, row) holding the tiles of these spans."""
    return {(z, mx, my) for z, (x0, y0, x1, y1) in spans.items()
            for mx in range(x0 // META, x1 // META + 1) for my in range(y0 // META, y1 // META + 1)}


def _metatile(render: str) -> tuple[int, int, int]:
    """(zoom, column, row) of a metatile from its line in the render log: 'scenes Z [x0, y0, x1, y1]'."""
    _layer, z, span = render.split(" ", 2)
    x0, y0 = (int(v) for v in span.strip("[]").split(",")[:2])
    return int(z), x0 // META, y0 // META


def _over(key: str, spans: dict[int, tuple[int, int, int, int]]) -> bool:
    z, x, y = (int(v) for v in key.removesuffix(".png").split("/")[-3:])
    span = spans[z]
    return span[0] <= x <= span[2] and span[1] <= y <= span[3]


def _submit_shade(node: str, other: str, output: str) -> tuple[str, dict]:
    """Submit the job to ``node``, follow it and fetch its results through ``other``; (id, results)."""
    started = requests.post(node + "/processes/raster-analysis/execution", headers={"Prefer": "respond-async"},
                            json={"inputs": {"layer": "dem", "template": "shade", "output": output}}, timeout=30)
    assert started.status_code == 201, started.text
    status = started.json()
    location = other + "/jobs/" + status["jobID"]
    deadline = time.monotonic() + 240  # a guard against a hang, not a speed check
    while status["status"] in ("accepted", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = requests.get(location, timeout=30).json()
    assert status["status"] == "successful", status
    return status["jobID"], requests.get(location + "/results", timeout=30).json()


def test_two_hosting_nodes_one_cluster_one_catalog_one_object_store(tmp_path, postgis_dsn, s3_endpoint):
    if postgis_dsn is None:
        pytest.skip(SKIP_REASON)
    buckets = {role: s3.new_bucket(s3_endpoint, role) for role in ("sources", "tiles", "products")}
    suffix = str(os.getpid())
    dem_path = analysis.dem(tmp_path / "dem.tif", SHAPE)
    dem_url = s3.upload(s3_endpoint, buckets["sources"], dem_path)
    x0, y0 = rasters.ORIGIN
    west = rasters.write(tmp_path / "west.tif", rasters.texture((100, 100), 3, seed=51), from_origin(x0, y0, 10, 10))
    east_origin = from_origin(x0 + EAST_DX, y0, 10, 10)
    east = rasters.write(tmp_path / "east.tif", rasters.texture((100, 100), 3, seed=52), east_origin)
    scene_urls = [s3.upload(s3_endpoint, buckets["sources"], path) for path in (west, east)]
    render_log = tmp_path / "renders.log"

    with dask_cluster(tmp_path, render_log) as address:
        config = _config(tmp_path, postgis_dsn, s3_endpoint, buckets, dem_url, suffix, address)
        assert main(["catalog", "add", f"scenes_{suffix}", *scene_urls, "-c", str(config)]) == 0
        with serving(["-c", str(config)], tmp_path, 1) as (a, log_a), \
                serving(["-c", str(config)], tmp_path, 1) as (b, log_b):
            # 1. an analysis job through node A, computed on the cluster, its product in the bucket
            job, results = _submit_shade(a, b, f"dem_shade_{suffix}")
            assert results["product"]["chunks"] == 4
            # the product and the job's record in the bucket, nothing else (the chunks are gone)
            assert s3.keys(s3_endpoint, buckets["products"]) == [f"products/dem_shade_{suffix}.tif",
                                                                 f"products/jobs/{job}.json"]
            with rasterio.open(dem_path) as src:
                want, ok = analysis.hillshade(src.read(1), src.nodata, 10.0)
            coverage = requests.get(b + "/wcs", timeout=60, params={
                "SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "shaded",
                "CRS": "EPSG:32632", "BBOX": BOX, "WIDTH": SHAPE[1], "HEIGHT": SHAPE[0], "FORMAT": "GeoTIFF"})
            assert coverage.status_code == 200, coverage.text
            with rasterio.open(io.BytesIO(coverage.content)) as served:
                assert (served.read(1)[ok] == want[ok]).all()
            picture = requests.get(b + "/wms", timeout=60, params={
                "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "shaded", "STYLES": "",
                "CRS": "EPSG:32632", "BBOX": BOX, "WIDTH": SHAPE[1], "HEIGHT": SHAPE[0], "FORMAT": "image/png"})
            assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/png", picture.text
            pixels = decode(picture.content)
            assert (pixels[..., :3][ok] == want[ok][:, None]).all()  # grey: the value in each channel

            # 2. the scenes seeded through the cluster: each metatile rendered once, served by both nodes
            seeded = _run("seed", "-c", str(config), "--layer", "scenes", "--zoom", f"{ZOOMS[0]}-{ZOOMS[1]}",
                          "--cluster")
            assert seeded.returncode == 0, seeded.stderr
            renders = Counter(line.split(" ", 1)[1] for line in render_log.read_text().splitlines()
                              if " scenes " in line)
            west_spans = _spans(BBox(x0, y0 - 1000, x0 + 1000, y0, rasters.UTM))
            east_spans = _spans(BBox(x0 + EAST_DX, y0 - 1000, x0 + EAST_DX + 1000, y0, rasters.UTM))
            assert set(renders.values()) == {1}  # each metatile once, across both worker processes
            assert {_metatile(render) for render in renders} == _metatiles(west_spans) | _metatiles(east_spans)
            before = {k for k in s3.keys(s3_endpoint, buckets["tiles"], "tiles/") if k.endswith(".png")}
            scene_keys = {k for k in before if "/scenes/" in k}
            assert len(scene_keys) == META * META * len(renders)
            for key in sorted(scene_keys)[:: max(1, len(scene_keys) // 12)]:
                url = "/tiles/scenes/WebMercatorQuad/" + "/".join(key.split("/")[-3:])
                answers = [requests.get(node + url, timeout=60) for node in (a, b)]
                assert [r.headers.get("X-Cache") for r in answers] == ["HIT", "HIT"], url
                assert answers[0].content == answers[1].content

            # 3. an item changed on node A's side: node B drops exactly that item's tiles
            east_keys = {k for k in scene_keys if _over(k, east_spans)}
            assert 0 < len(east_keys) < len(scene_keys)
            rasters.write(east, rasters.texture((100, 100), 3, seed=53), east_origin)
            s3.upload(s3_endpoint, buckets["sources"], east)
            assert main(["catalog", "add", f"scenes_{suffix}", scene_urls[1], "-c", str(config)]) == 0
            west_key = next(k for k in sorted(scene_keys - east_keys))
            west_again = requests.get(b + "/tiles/scenes/WebMercatorQuad/" + "/".join(west_key.split("/")[-3:]),
                                      timeout=60)
            after = {k for k in s3.keys(s3_endpoint, buckets["tiles"], "tiles/") if k.endswith(".png")}
            assert before - after == east_keys and west_again.headers["X-Cache"] == "HIT"
    invalidated = [yaml.safe_load(line) for line in log_b.read_text().splitlines() if "tiles invalidated" in line]
    assert [entry.get("tiles") for entry in invalidated] == [len(east_keys)]
    assert np.count_nonzero(ok) > 0.9 * ok.size  # the comparison above covered nearly every pixel
    for log in (log_a, log_b, tmp_path / "workers.log", tmp_path / "scheduler.log"):
        assert s3.SECRET_KEY not in log.read_text()  # credentials never logged, by any role
