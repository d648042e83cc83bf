"""Analysis and cluster seeding figures.

1. Hillshade of the harness's 8192 x 8192 float32 DEM COG into a COG with overviews:
   ``ogcserver analysis run`` on a local cluster of 1 and of 2 worker processes (wall time of the
   whole command: cluster start, chunks, assembly, registration) against ``gdaldem hillshade``
   (tiled, DEFLATE) + ``gdaladdo -r average`` in one process; the share of pixels on which the
   products agree is printed too.
2. Seeding tiles/s of the harness's orthomosaic: ``ogcserver seed --workers 2`` against
   ``ogcserver seed --cluster local`` (2 worker processes), each into a fresh cache.

    .venv/bin/python bench/analysis.py --harness bench/scratch/harness --zoom 12-16

The harness must have run once (it generates the data). Without it, a DEM of --size pixels is
generated (the seeding part is then skipped). Figures go to standard output and to
bench/results/analysis-latest.md.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> None:
    """Become the parent of every orphaned descendant (a local cluster's fork server and its
    workers outlive the command for a moment), so their CPU time is counted when reaped."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def children_cpu() -> float:
    """CPU seconds (user + system) of every reaped descendant."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the whole process tree, the finished command)."""
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, **kwargs)
    elapsed = time.perf_counter() - started
    reap_orphans()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])}... failed:\n{done.stderr[-2000:]}")
    return elapsed, children_cpu() - cpu, done


def write_config(folder: Path, layers: list[dict], workers: int) -> Path:
    raw = {"server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
           "processing": [{"name": "shade", "chain": [{"function": "hillshade"}]}],
           "analysis": {"workers": workers, "chunk_size": 1024, "memory_limit_mb": 2048},
           "cache": {"path": str(folder / "tiles")},
           "services": [{"name": "bench", "layers": layers}]}
    path = folder / f"config-{workers}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def analysis_figures(dem: Path, work: Path, workers: list[int]) -> list[str]:
    rows = []
    outputs = {}
    for n in workers:
        config = write_config(work, [{"name": "dem", "source": str(dem)}], n)
        elapsed, cpu, _ = timed([sys.executable, "-m", "ogcserver", "analysis", "run", "-c", str(config), "--layer", "dem",
                            "--template", "shade", "--out", f"shade_{n}", "--overwrite", "--cluster", "local"])
        outputs[n] = work / "state" / "products" / f"shade_{n}.tif"
        rows.append((f"ogcserver analysis run, local cluster of {n} worker(s)", elapsed, cpu))
        print(rows[-1], flush=True)
    gdal_out = work / "gdaldem.tif"
    t1, c1, _ = timed(["gdaldem", "hillshade", str(dem), str(gdal_out), "-co", "TILED=YES", "-co", "COMPRESS=DEFLATE",
                   "-co", "BLOCKXSIZE=512", "-co", "BLOCKYSIZE=512", "-co", "BIGTIFF=IF_SAFER"])
    t2, c2, _ = timed(["gdaladdo", "-r", "average", str(gdal_out)])
    rows.append(("gdaldem hillshade + gdaladdo (one process)", t1 + t2, c1 + c2))
    print(rows[-1], flush=True)
    with rasterio.open(outputs[workers[-1]]) as a, rasterio.open(gdal_out) as b:
        ours, theirs = a.read(1), b.read(1)
        valid = (a.read_masks(1) > 0) & (theirs != 0)
        agree = float((np.abs(ours[valid].astype(int) - theirs[valid]) <= 1).mean())
    info = subprocess.run(["gdalinfo", str(outputs[workers[-1]])], capture_output=True, text=True).stdout
    base = {name: seconds for name, seconds, _ in rows}
    one = base[f"ogcserver analysis run, local cluster of {workers[0]} worker(s)"]
    lines = ["| run | seconds | CPU seconds | vs first | vs gdaldem+gdaladdo |", "|---|---:|---:|---:|---:|"]
    gdal_time = base["gdaldem hillshade + gdaladdo (one process)"]
    for name, seconds, cpu in rows:
        lines.append(f"| {name} | {seconds:.1f} | {cpu:.1f} | {seconds / one:.2f}x | {seconds / gdal_time:.2f}x |")
    lines += ["", f"Pixels within 1 of gdaldem's (where both have data): {100 * agree:.3f}%; product "
              f"LAYOUT=COG: {'LAYOUT=COG' in info}; overviews: "
              f"{re.search(r'Overviews: (.*)', info).group(1) if 'Overviews:' in info else 'none'}; size "
              f"{outputs[workers[-1]].stat().st_size / 1e6:.1f} MB (DEFLATE level 1, predictor) against gdaldem's "
              f"{gdal_out.stat().st_size / 1e6:.1f} MB (level 6, no predictor)"]
    return lines


def seeding_figures(ortho: Path, work: Path, zoom: str) -> list[str]:
    lines = ["| seeder | tiles | seconds | CPU seconds | tiles/s |", "|---|---:|---:|---:|---:|"]
    for name, extra in (("ogcserver seed --workers 2", ["--workers", "2"]),
                        ("ogcserver seed --cluster local (2 worker processes)", ["--cluster", "local"])):
        folder = Path(tempfile.mkdtemp(dir=work))
        config = write_config(folder, [{"name": "ortho", "source": str(ortho), "pattern": "*.tif"}], 2)
        elapsed, cpu, done = timed([sys.executable, "-m", "ogcserver", "seed", "-c", str(config), "--layer", "ortho",
                               "--zoom", zoom, *extra])
        tiles = int(done.stderr.split("done: ")[1].split(" tiles written")[0])
        lines.append(f"| {name} | {tiles} | {elapsed:.1f} | {cpu:.1f} | {tiles / elapsed:.0f} |")
        print(lines[-1], flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--harness", type=Path, default=ROOT / "bench" / "scratch" / "harness")
    parser.add_argument("--size", type=int, default=8192, help="DEM side when the harness has none")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--zoom", default="12-16")
    parser.add_argument("--skip-analysis", action="store_true", help="only the seeding figures")
    args = parser.parse_args()
    adopt_orphans()
    data = args.harness / "work" / "data"
    work = Path(tempfile.mkdtemp(prefix="ogcserver-analysis-bench-"))
    try:
        dem = data / "dem.tif"
        if not dem.exists():
            from tests.support import analysis

            dem = analysis.dem(work / "dem.tif", (args.size, args.size), overviews=(2, 4, 8, 16))
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
        out = [f"# Analysis and cluster seeding, {time.strftime('%Y-%m-%d %H:%M')}", "",
               f"Load average at the start: {' '.join(load)}."]
        if not args.skip_analysis:
            out += ["", f"## Hillshade of {dem.name} ({rasterio.open(dem).width} px a side) into a COG", ""]
            out += analysis_figures(dem, work, [int(w) for w in args.workers.split(",")])
        if (data / "ortho").is_dir():
            out += ["", f"## Seeding the harness orthomosaic, zoom {args.zoom}", ""]
            out += seeding_figures(data / "ortho", work, args.zoom)
        text = "\n".join(out) + "\n"
        print(text)
        name = "analysis-seed-latest.md" if args.skip_analysis else "analysis-latest.md"
        (ROOT / "bench" / "results" / name).write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
