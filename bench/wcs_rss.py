"""Peak memory of one large WCS GetCoverage: an 8192 x 8192 float32 coverage (256 MiB) streamed.

Each measurement runs in a fresh subprocess (resource.getrusage's peak RSS only grows): it builds
the app, notes its RSS, answers one native-resolution GetCoverage of the whole raster through
the WSGI app, reads the streamed body in pieces (discarding them, as a socket would) and reports
the peak. The raster is the peer benchmark's DEM when present, else a generated one.

    .venv/bin/python bench/wcs_rss.py [--size 8192] [--cachemax 64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BENCH_DEM = HERE / "work" / "harness" / "work" / "data" / "dem.tif"


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def make_raster(path: Path, size: int) -> None:
    import rasterio
    from rasterio.transform import from_origin

    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32", "nodata": -9999.0,
               "crs": "EPSG:32632", "transform": from_origin(500000, 5300000, 1, 1), "tiled": True,
               "blockxsize": 512, "blockysize": 512, "compress": "deflate"}
    rng = np.random.default_rng(1)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 512):
            block = (rng.random((512, size), dtype=np.float32) * 1000).astype(np.float32)
            dst.write(block[None, : min(512, size - row)], window=((row, min(size, row + 512)), (0, size)))


def child(raster: Path, workdir: Path, size: int) -> None:
    """One measurement: the app, one request, the peak RSS (printed as JSON)."""
    import rasterio
    import yaml

    from ogcserver.app import create_app
    from ogcserver.settings import load_settings

    with rasterio.open(raster) as src:
        b = src.bounds
        crs = src.crs.to_epsg()
        side = min(size, src.width, src.height) * src.res[0]
    config = workdir / "rss.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(workdir / "state"), "access_log": False},
        "services": [{"name": "rss", "layers": [{"name": "big", "source": str(raster)}]}],
    }))
    client = create_app(load_settings(config)).test_client()
    before = _rss_mib()
    query = (f"/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=big"
             f"&SUBSET=E({b.left},{b.left + side})&SUBSET=N({b.top - side},{b.top})"
             if crs == 32632 else
             f"/wcs?SERVICE=WCS&VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=big&CRS=EPSG:{crs}&FORMAT=GTiff"
             f"&BBOX={b.left},{b.top - side},{b.left + side},{b.top}&WIDTH={int(side)}&HEIGHT={int(side)}")
    started = time.perf_counter()
    response = client.get(query, buffered=False)
    received = sum(len(piece) for piece in response.response)
    response.close()
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"status": response.status_code, "bytes": received, "seconds": round(elapsed, 2),
                      "rss_before_mib": round(before, 1), "peak_rss_mib": round(peak, 1),
                      "gdal_cachemax": os.environ.get("GDAL_CACHEMAX", "default (5% of RAM)")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--cachemax", type=int, action="append", help="GDAL_CACHEMAX in MB (repeatable)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.size)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raster = BENCH_DEM if BENCH_DEM.exists() and args.size <= 8192 else work / "big.tif"
        if raster != BENCH_DEM:
            make_raster(raster, args.size)
        for cachemax in [None, *(args.cachemax or [64])]:
            env = dict(os.environ, PYTHONPATH=str(HERE.parent))
            if cachemax is not None:
                env["GDAL_CACHEMAX"] = str(cachemax)
            command = [sys.executable, __file__, "--size", str(args.size), "--child", str(raster), str(work)]
            run = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            print(run.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
