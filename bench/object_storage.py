"""GetMap from COGs in S3-compatible object storage against the same COGs on a local disk.

Both layers are catalog collections of the same four COGs (2048 px RGB, DEFLATE, 512 px blocks,
overviews): one of the files, one of their copies in a local S3 server (moto's server mode, in a
process of its own on a free 127.0.0.1 port). Each round asks both layers the same seeded views
(512 x 512 px, from the full resolution out to the overviews) through the WSGI app in this
process; the first round warms GDAL's caches (blocks, and /vsis3/'s own cache of ranges and
sizes), the later ones are timed, alternating the two layers. The ratio is object storage over
local files, of the rounds' medians and of the fastest rounds.

    .venv/bin/python bench/object_storage.py [--views 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ORIGIN = (500_000.0, 5_200_000.0)  # EPSG:32632
RES, SIDE, GRID = 0.5, 2048, 2  # 2 x 2 COGs of 2048 px at 0.5 m


def make_cogs(folder: Path) -> list[Path]:
    import rasterio
    from rasterio.shutil import copy as gdal_copy
    from rasterio.transform import from_origin

    rng = np.random.default_rng(7)
    paths = []
    for row in range(GRID):
        for col in range(GRID):
            plain, cog = folder / f"plain_{row}{col}.tif", folder / f"ortho_{row}{col}.tif"
            base = rng.integers(0, 255, (3, SIDE // 16, SIDE // 16), dtype=np.uint8)
            data = np.repeat(np.repeat(base, 16, axis=1), 16, axis=2)  # blocky, compressible imagery
            data = (data + rng.integers(0, 24, data.shape, dtype=np.uint8)).astype(np.uint8)
            transform = from_origin(ORIGIN[0] + col * SIDE * RES, ORIGIN[1] - row * SIDE * RES, RES, RES)
            with rasterio.open(plain, "w", driver="GTiff", width=SIDE, height=SIDE, count=3, dtype="uint8",
                               crs="EPSG:32632", transform=transform) as ds:
                ds.write(data)
            gdal_copy(str(plain), str(cog), driver="COG", COMPRESS="DEFLATE", BLOCKSIZE="512", OVERVIEWS="AUTO")
            plain.unlink()
            paths.append(cog)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            requests.get(endpoint, timeout=10)
            return proc, endpoint
        except requests.RequestException:  # not listening yet, or still loading
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError("the S3 server did not start")


def views(count: int, seed: int = 1) -> list[str]:
    """Seeded 512 px views in the layer's CRS, from 0.5 m (native) to 8 m a pixel (overviews)."""
    rnd = random.Random(seed)
    width = GRID * SIDE * RES
    out = []
    for _ in range(count):
        res = RES * 2 ** rnd.uniform(0, 4)
        span = 512 * res
        x = ORIGIN[0] + rnd.uniform(0, max(0.0, width - span))
        y = ORIGIN[1] - rnd.uniform(0, max(0.0, width - span)) - span
        out.append(f"{x},{y},{x + span},{y + span}")
    return out


def timed_round(client, layer: str, boxes: list[str]) -> float:
    started = time.perf_counter()
    for box in boxes:
        r = client.get("/wms", query_string={
            "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": layer, "STYLES": "",
            "CRS": "EPSG:32632", "BBOX": box, "WIDTH": 512, "HEIGHT": 512, "FORMAT": "image/png"})
        if r.status_code != 200 or r.mimetype != "image/png":
            raise RuntimeError(f"{layer} {box}: {r.status_code} {r.data[:200]!r}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--views", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--read-cache-mb", type=int, default=64, help="storage.s3.read_cache_mb")
    args = parser.parse_args()

    import boto3
    import yaml

    from ogcserver.app import create_app
    from ogcserver.cli import main as cli
    from ogcserver.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="ogcserver-s3-bench-"))
    cogs = make_cogs(work)
    proc, endpoint = start_moto()
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench",
                          region_name="us-east-1")
        s3.create_bucket(Bucket="imagery")
        urls = []
        for path in cogs:
            s3.upload_file(str(path), "imagery", f"ortho/{path.name}")
            urls.append(f"s3://imagery/ortho/{path.name}")
        config = work / "ogcserver.yaml"
        config.write_text(yaml.safe_dump({
            "server": {"data_dir": str(work / "state")},
            "storage": {"s3": {"endpoint_url": endpoint, "region": "us-east-1", "access_key_id": "bench",
                               "secret_access_key": "bench", "buckets": ["imagery"],
                               "read_cache_mb": args.read_cache_mb}},
            "services": [{"name": "bench", "layers": [{"name": "local", "collection": "local"},
                                                      {"name": "remote", "collection": "remote"}]}],
        }))
        for collection, items in (("local", [str(p) for p in cogs]), ("remote", urls)):
            if cli(["catalog", "add", collection, *items, "-c", str(config)]) != 0:
                raise RuntimeError(f"catalog add {collection} failed")
        client = create_app(load_settings(config)).test_client()
        boxes = views(args.views)
        for layer in ("local", "remote"):
            timed_round(client, layer, boxes)  # warm-up: GDAL's caches and the dataset pool
        times: dict[str, list[float]] = {"local": [], "remote": []}
        for _ in range(args.rounds):  # alternated, so drift on a shared machine hits both alike
            for layer in ("local", "remote"):
                times[layer].append(timed_round(client, layer, boxes))
        local, remote = statistics.median(times["local"]), statistics.median(times["remote"])
        print(json.dumps({
            "views": args.views, "rounds": args.rounds, "read_cache_mb": args.read_cache_mb,
            "local_ms_per_map": round(local / args.views * 1000, 2),
            "s3_ms_per_map": round(remote / args.views * 1000, 2),
            "ratio": round(remote / local, 3),  # medians of the rounds
            # the fastest round of each: on a shared machine, the one least slowed by others
            "ratio_of_fastest": round(min(times["remote"]) / min(times["local"]), 3),
            "rounds_s": {k: [round(v, 3) for v in vs] for k, vs in times.items()},
        }, indent=2))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
