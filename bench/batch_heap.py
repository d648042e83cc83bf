"""What a batch worker's heap costs: the same analysis chunks and seeding metatiles computed with a
serving process's bounded heap (trimmed after every task) and with a batch worker's (kept).

Each measurement runs in fresh processes: one process doing all the work, then two processes at
once doing half each (the two-worker case, where both cores compete for memory traffic). Printed:
wall seconds, user and system CPU seconds, and minor page faults (fresh pages the kernel zeroed).

    .venv/bin/python bench/batch_heap.py --harness bench/scratch/harness

The harness must have run once (it generates the DEM and the orthomosaic). Figures go to standard
output and to bench/results/batch-heap-latest.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _config(folder: Path, data: Path) -> Path:
    import yaml

    config = folder / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")},
        "cache": {"path": str(folder / "tiles")},
        "processing": [{"name": "shade", "chain": [{"function": "hillshade"}]}],
        "analysis": {"chunk_size": 1024},
        "services": [{"name": "bench", "layers": [
            {"name": "dem", "source": str(data / "dem.tif")},
            {"name": "ortho", "source": str(data / "ortho"), "pattern": "ortho_*.tif"}]}]}))
    return config


def _work_items(kind: str, config: Path) -> tuple[object, list]:
    """(what runs one item, the items): analysis chunks of the DEM's hillshade, or seeding metatiles
    of the orthomosaic at zoom 12-16."""
    from ogcserver.composition import build_core
    from ogcserver.core import seed, tiling
    from ogcserver.core.analysis.inputs import spec_from_inputs
    from ogcserver.core.analysis.plan import chunks
    from ogcserver.model.formats import ImageFormat
    from ogcserver.settings import load_settings

    settings = load_settings(config)
    core = build_core(settings)
    if kind == "chunks":
        from ogcserver.analysing.products import product_store, write_chunk_with

        inputs = {"template": "shade", "output": "shade"}
        spec = spec_from_inputs(core.engine, core.engine.operator_layer("dem"), inputs, chunk_size=1024)
        grid = spec.grid()
        product_store(settings, "shade").start({"digest": spec.digest(), "width": grid.width, "height": grid.height})
        return (lambda chunk: write_chunk_with(core, settings, spec, chunk)), list(chunks(grid, 1024))
    info = core.engine.operator_layer("ortho").info
    tms = tiling.for_layer(info, "WebMercatorQuad")
    metas = list(seed.plan(tms, seed.lonlat_area(None, info.lonlat_bounds), range(12, 17), settings.cache.meta_size))
    return (lambda meta: core.tiles.seed("ortho", tms.id, meta, ImageFormat.PNG)), metas


def worker(kind: str, config: Path, heap: str, share: int, of: int) -> None:
    """One process: its share of the items (every ``of``-th from ``share``), the first one untimed."""
    import resource

    from ogcserver.storage.readers.process_memory import keep_heap_for_batch_work, trim_heap

    run, items = _work_items(kind, config)
    if heap == "batch":
        keep_heap_for_batch_work()
    mine = items[share::of]
    run(mine[0])
    trim_heap()
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for item in mine[1:]:
        run(item)
        trim_heap()  # as a task's end does (``RasterioReader.release``); a batch worker skips it
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall": time.perf_counter() - started, "user": after.ru_utime - before.ru_utime,
                      "sys": after.ru_stime - before.ru_stime, "faults": after.ru_minflt - before.ru_minflt}))


def measure(kind: str, config: Path, heap: str, processes: int) -> dict:
    """The processes started together; wall is the slowest one's, the rest are summed."""
    runs = [subprocess.Popen([sys.executable, __file__, "--worker", kind, str(config), heap, str(i), str(processes)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT) for i in range(processes)]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in runs]
    return {"wall": max(r["wall"] for r in results), **{k: sum(r[k] for r in results) for k in ("user", "sys", "faults")}}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, config, heap, share, of = sys.argv[2:7]
        worker(kind, Path(config), heap, int(share), int(of))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--harness", type=Path, default=ROOT / "bench" / "scratch" / "harness")
    args = parser.parse_args()
    data = args.harness / "work" / "data"
    load = Path("/proc/loadavg").read_text().split()[:3]
    lines = [f"# Batch workers' heap, {time.strftime('%Y-%m-%d %H:%M')}", "", f"Load average at the start: {' '.join(load)}.",
             "", "| work | heap | processes | wall s | user s | system s | minor faults |", "|---|---|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory(prefix="ogcserver-heap-bench-") as folder:
        for kind, name in (("chunks", "hillshade chunks (1024 px, 63 timed)"), ("metatiles", "seeding metatiles (zoom 12-16)")):
            for processes in (1, 2):
                for heap in ("serving", "batch"):
                    run_folder = Path(folder) / f"{kind}-{processes}-{heap}"  # a fresh product and tile cache
                    run_folder.mkdir()
                    r = measure(kind, _config(run_folder, data), heap, processes)
                    lines.append(f"| {name} | {heap} | {processes} | {r['wall']:.2f} | {r['user']:.2f} | {r['sys']:.2f} "
                                 f"| {r['faults']} |")
                    print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "bench" / "results" / "batch-heap-latest.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
