"""Seeding speed: ``ogcserver seed`` against MapProxy's seeder on the peer harness's orthomosaic,
same area, zoom levels, metatile size and number of parallel workers, in one run; ``ogcserver seed``
both with its worker processes and on a local Dask cluster of as many workers.

MapProxy cannot read rasters itself; its usual deployment seeds from a WMS, here the harness's
MapServer adapter over the same 16 COGs. Both seeders write PNG tiles to a fresh file cache.

    .venv/bin/python bench/seed.py --harness bench/scratch/harness --zoom 12-17 --workers 2

The harness must have been run once (it generates the data and its virtualenv has MapProxy).
Figures go to standard output and to bench/results/seed-latest.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pyproj import Transformer

ROOT = Path(__file__).resolve().parents[1]
# the harness's mosaic: 16192 px of 0.5 m from 580000 E / 4508096 N (EPSG:32618)
MOSAIC_UTM = (580000.0, 4508096.0 - 8096.0, 580000.0 + 8096.0, 4508096.0)


def area_in(crs: str) -> tuple[float, float, float, float]:
    """The mosaic's box in another CRS (corners only: enough for a box this small)."""
    to = Transformer.from_crs("EPSG:32618", crs, always_xy=True)
    xs, ys = to.transform([MOSAIC_UTM[0], MOSAIC_UTM[2], MOSAIC_UTM[0], MOSAIC_UTM[2]],
                          [MOSAIC_UTM[1], MOSAIC_UTM[1], MOSAIC_UTM[3], MOSAIC_UTM[3]])
    return min(xs), min(ys), max(xs), max(ys)


def tiles_under(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*.png") if p.is_file() and not p.name.startswith((".tmp-", "empty.")))


def mapproxy_config(cache: Path) -> str:
    """As the harness's MapProxy adapter, with the cache in a fresh folder."""
    return f"""services:
  wmts:
layers:
  - name: ortho
    title: ortho
    sources: [ortho_cache]
caches:
  ortho_cache:
    grids: [webmercator]
    sources: [ortho_wms]
    format: image/png
    meta_size: [4, 4]
    meta_buffer: 0
    cache:
      type: file
      directory: {cache}
      directory_layout: tc
grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
sources:
  ortho_wms:
    type: wms
    supported_srs: ['EPSG:3857']
    req:
      url: http://127.0.0.1:18010/mapserv?map=bench
      layers: ortho
      transparent: false
globals:
  cache:
    base_dir: {cache.parent}
    lock_dir: {cache.parent}/locks
    tile_lock_dir: {cache.parent}/tile_locks
  image:
    paletted: false
    formats:
      image/png:
        encoding_options:
          quantizer: fastoctree
"""


def seed_config(zooms: range) -> str:
    minx, miny, maxx, maxy = area_in("EPSG:3857")
    return f"""seeds:
  ortho:
    caches: [ortho_cache]
    grids: [webmercator]
    levels:
      from: {zooms.start}
      to: {zooms.stop - 1}
    coverages: [mosaic]
coverages:
  mosaic:
    bbox: [{minx}, {miny}, {maxx}, {maxy}]
    srs: 'EPSG:3857'
"""


def ogcserver_config(data: Path, state: Path, png_level: int, workers: int) -> str:
    return f"""server:
  data_dir: {state}
  access_log: false
analysis:
  workers: {workers}
rendering:
  png_compression: {png_level}
services:
  - name: bench
    layers:
      - name: ortho
        source: {data / 'ortho'}
        pattern: "ortho_*.tif"
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def run_mapproxy(harness: Path, work: Path, zooms: range, workers: int, env: dict[str, str]) -> tuple[int, float]:
    folder = work / "mapproxy"
    folder.mkdir()
    (folder / "mapproxy.yaml").write_text(mapproxy_config(folder / "cache" / "ortho"))
    (folder / "seed.yaml").write_text(seed_config(zooms))
    adapter = harness / "servers" / "mapserver.sh"
    subprocess.run(["bash", str(adapter), "start"], check=True, env=env)
    try:
        seconds = timed([str(harness / "work" / "venv" / "bin" / "mapproxy-seed"), "-f", str(folder / "mapproxy.yaml"),
                         "-s", str(folder / "seed.yaml"), "-c", str(workers), "--seed", "ortho"], env)
    finally:
        subprocess.run(["bash", str(adapter), "stop"], env=env)
    return tiles_under(folder / "cache"), seconds


def run_ogcserver(harness: Path, work: Path, zooms: range, workers: int, env: dict[str, str],
                  png_level: int, cluster: bool = False) -> tuple[int, float]:
    """``ogcserver seed`` with ``workers`` processes, or on a local Dask cluster of as many workers."""
    folder = work / ("ogcserver-cluster" if cluster else "ogcserver")
    folder.mkdir()
    config = folder / "ogcserver.yaml"
    config.write_text(ogcserver_config(harness / "work" / "data", folder / "state", png_level, workers))
    minx, miny, maxx, maxy = area_in("EPSG:4326")
    command = [str(ROOT / ".venv" / "bin" / "ogcserver"), "seed", "-c", str(config), "--layer", "ortho",
               "--zoom", f"{zooms.start}-{zooms.stop - 1}", f"--bbox={minx},{miny},{maxx},{maxy}",
               *(["--cluster", "local"] if cluster else ["--workers", str(workers)])]
    # the index is built on first use; build it before the clock starts, as a running service has it
    subprocess.run([*command, "--dry-run"], check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = timed(command, env)
    return tiles_under(folder / "state" / "tiles"), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--harness", type=Path, required=True, help="a copy of the peer harness, run once")
    parser.add_argument("--zoom", default="12-17")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--png-level", type=int, default=1, help="ogcserver's zlib level (its default is 1)")
    args = parser.parse_args()
    harness = args.harness.resolve()
    first, _, last = args.zoom.partition("-")
    zooms = range(int(first), int(last or first) + 1)
    env = dict(os.environ, BENCH_HOME=str(harness), BENCH_WORK=str(harness / "work"),
               GDAL_CACHEMAX="512", GDAL_NUM_THREADS="1", GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR")
    work = Path(tempfile.mkdtemp(prefix="seed-bench-"))
    try:
        rows = [("MapProxy seeder (MapServer WMS source)", *run_mapproxy(harness, work, zooms, args.workers, env)),
                ("ogcserver seed", *run_ogcserver(harness, work, zooms, args.workers, env, args.png_level)),
                ("ogcserver seed --cluster local", *run_ogcserver(harness, work, zooms, args.workers, env,
                                                                  args.png_level, cluster=True))]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"Seeding the harness orthomosaic, zoom {args.zoom}, {args.workers} workers, 4x4 metatiles, PNG, "
             f"on a {os.cpu_count()}-core machine ({time.strftime('%Y-%m-%d')})", "",
             "| seeder | tiles | seconds | tiles/s |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {tiles} | {seconds:.1f} | {tiles / seconds:.1f} |" for name, tiles, seconds in rows]
    mapproxy = rows[0][1] / rows[0][2]
    lines += [""] + [f"{name} / MapProxy: {(tiles / seconds) / mapproxy:.2f}x tiles per second"
                     for name, tiles, seconds in rows[1:]]
    text = "\n".join(lines) + "\n"
    print(text)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "seed-latest.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
