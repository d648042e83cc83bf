"""The project's own benchmark: ogcserver alone on the sample data, stage by stage and over HTTP.

    .venv/bin/python bench/run.py [--duration 10] [--conc 1,8] [--requests 200]

1. In process: the time of each stage of a WMS GetMap (the core's read: catalog selection,
   read/warp and mosaic; styling; encoding) over a seeded list of web-mercator views of the demo orthomosaic.
2. Over HTTP: the server (gunicorn, 2 workers) under wrk at each concurrency, every response
   checked for status and content type.
Results go to bench/results/latest.md. Figures depend on the machine: compare runs on one machine.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from ogcserver.composition import build_core  # noqa: E402
from ogcserver.core.read import ReadRequest  # noqa: E402
from ogcserver.core.render.encode import encode  # noqa: E402
from ogcserver.core.render.style import render_default  # noqa: E402
from ogcserver.model.formats import ImageFormat, Resampling  # noqa: E402
from ogcserver.model.geo import BBox, transform_bbox  # noqa: E402
from ogcserver.model.image import Grid, Raster  # noqa: E402
from ogcserver.settings import load_settings  # noqa: E402

CONFIG = REPO / "samples" / "ogcserver.yaml"
WORKLOADS = {"png256": (256, "image/png"), "jpeg512": (512, "image/jpeg")}


def views(engine, count: int, seed: int = 424242) -> list[BBox]:
    """Seeded web-mercator tiles of zoom 15-19 whose centre lies on the orthomosaic."""
    layer = engine.catalog.layer("ortho")
    box = transform_bbox(layer.info.bounds, "EPSG:3857")
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        size = 40075016.68557849 / 2 ** rng.randint(15, 19)
        x = rng.uniform(box.minx, box.maxx)
        y = rng.uniform(box.miny, box.maxy)
        out.append(BBox(x - size / 2, y - size / 2, x + size / 2, y + size / 2, "EPSG:3857"))
    return out


def stages(engine, boxes: list[BBox], size: int, fmt: ImageFormat) -> dict[str, float]:
    layer = engine.catalog.layer("ortho")
    totals = {"select+read": 0.0, "style": 0.0, "encode": 0.0}
    for warm in (True, False):
        for box in boxes:
            grid = Grid.from_bbox(box, size, size)
            t0 = time.perf_counter()
            request = ReadRequest(layer, grid, layer.render_bands, Resampling.NEAREST, engine.settings.limits.max_items)
            raster = engine.views.read_view(request)
            t1 = time.perf_counter()
            if not isinstance(raster, Raster):
                continue
            picture = render_default(raster, layer.info.statistics)
            t2 = time.perf_counter()
            encode(picture, fmt, False, (255, 255, 255), engine.settings.rendering)
            t3 = time.perf_counter()
            if not warm:
                totals["select+read"] += t1 - t0
                totals["style"] += t2 - t1
                totals["encode"] += t3 - t2
    return {k: v / len(boxes) * 1000 for k, v in totals.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(boxes: list[BBox], size: int, ctype: str, conc: list[int], duration: int, work: Path) -> dict[int, dict]:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (Debian package 'wrk'): skipping the HTTP measurement")
        return {}
    port = free_port()
    urls = work / f"urls-{size}.txt"
    urls.write_text("".join(
        f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ortho&STYLES=&CRS=EPSG:3857"
        f"&BBOX={b.minx},{b.miny},{b.maxx},{b.maxy}&WIDTH={size}&HEIGHT={size}&FORMAT={ctype}\n" for b in boxes
    ))
    server = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "ogcserver"), "serve", "-c", str(CONFIG), "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    results = {}
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        for c in conc:
            cmd = [wrk, "-t1", f"-c{c}", f"-d{duration}s", "--timeout", "30s", "-s", str(HERE / "cycle.lua"),
                   f"http://127.0.0.1:{port}", "--", str(urls), ctype]
            subprocess.run(cmd[:4] + ["-d2s"] + cmd[5:], capture_output=True, timeout=120)  # warm-up
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120).stdout
            line = next(x for x in out.splitlines() if x.startswith("RESULT "))
            data = json.loads(line[7:])
            data["rps"] = data["requests"] / data["seconds"]
            results[c] = data
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conc", default="1,8")
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    work = HERE / "scratch"
    work.mkdir(exist_ok=True)
    settings = load_settings(CONFIG)
    engine = build_core(settings).engine
    boxes = views(engine, args.requests)
    lines = ["# ogcserver benchmark (sample data)", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}; {len(boxes)} seeded views, zoom 15-19 over the demo orthomosaic.", ""]
    lines += ["| workload | read ms | style ms | encode ms | req/s " + " | req/s ".join(f"c={c}" for c in args.conc.split(",")) + " | p50 ms c=1 | errors |",
              "|---" * (6 + len(args.conc.split(","))) + "|"]
    for name, (size, ctype) in WORKLOADS.items():
        fmt = ImageFormat.PNG if ctype == "image/png" else ImageFormat.JPEG
        st = stages(engine, boxes, size, fmt)
        res = http(boxes, size, ctype, [int(c) for c in args.conc.split(",")], args.duration, work)
        rps = " | ".join(f"{res[int(c)]['rps']:.1f}" if res else "-" for c in args.conc.split(","))
        p50 = f"{res[1]['p50_ms']:.1f}" if 1 in res else "-"
        errors = sum(r["errors"] for r in res.values()) if res else "-"
        lines.append(f"| {name} | {st['select+read']:.2f} | {st['style']:.2f} | {st['encode']:.2f} | {rps} | {p50} | {errors} |")
        print(lines[-1], flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
