"""Catalog scale: metadata-only ingest rate and map-request item selection on a large synthetic
collection (SQLite, and PostGIS when a DSN is given), and zoomed-out GetMap latency over a
collection of many real small rasters, with and without a mosaic-level overview.

    .venv/bin/python bench/catalog.py --items 1000000 [--postgis "host=... dbname=..."]
    .venv/bin/python bench/catalog.py --rasters 10000

Figures go to standard output as a Markdown table, and to bench/results/catalog-latest.md.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ogcserver.core.ingest import ingest  # noqa: E402
from ogcserver.model.catalog import ItemSpec, Selection, SourceInfo  # noqa: E402
from ogcserver.model.geo import WGS84, BBox  # noqa: E402
from ogcserver.model.mosaic import NEWEST  # noqa: E402

SEED = 42
# items are 0.01 degree squares (~1 km) over a 20 x 10 degree region
REGION = (0.0, 40.0, 20.0, 50.0)
SIDE = 0.01


def synthetic_specs(count: int) -> Iterator[ItemSpec]:
    """Items described fully by metadata (like STAC items with the projection extension)."""
    rng = random.Random(SEED)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    for n in range(count):
        x = rng.uniform(REGION[0], REGION[2] - SIDE)
        y = rng.uniform(REGION[1], REGION[3] - SIDE)
        when = start + timedelta(minutes=rng.randrange(10 * 365 * 24 * 60))
        ring = [[x, y], [x + SIDE, y], [x + SIDE, y + SIDE], [x, y + SIDE], [x, y]]
        info = SourceInfo(path=f"/data/scene-{n}.tif", crs="EPSG:4326", bounds=BBox(x, y, x + SIDE, y + SIDE, WGS84),
                          width=1000, height=1000, count=4, dtype="uint16", nodata=0, band_names=("", "", "", ""),
                          acquired=when)
        yield ItemSpec(info.path, f"scene-{n}", when, {"eo:cloud_cover": rng.randrange(100), "platform": "sim"},
                       {"type": "Polygon", "coordinates": [ring]}, info)


def map_views(count: int, size: float) -> list[BBox]:
    """Random map-request boxes of ``size`` degrees inside the region."""
    rng = random.Random(SEED + 1)
    return [BBox(x, y, x + size, y + size, WGS84) for x, y in (
        (rng.uniform(REGION[0], REGION[2] - size), rng.uniform(REGION[1], REGION[3] - size)) for _ in range(count))]


def bench_store(store, label: str, items: int) -> list[tuple[str, str]]:
    rows = []
    collection = f"bench{items}"
    if store.stats(collection).count != items:
        store.drop(collection)
        report = ingest(store, None, collection, synthetic_specs(items), batch=5000,
                        progress=lambda done, _s: print(f"\r{label}: {done} items", end="", file=sys.stderr))
        print(file=sys.stderr)
        rows.append((f"{label}: metadata-only ingest of {items:,} items", f"{report.rate:,.0f} items/s "
                     f"({report.seconds:.0f} s)"))
    for size, label_view in ((0.02, "a map view (~2 km, z13-14)"), (0.2, "a 20 km view")):
        durations, found = [], []
        for view in map_views(300, size):
            t0 = time.perf_counter()
            selected = store.select(collection, Selection(view, None, None, NEWEST,
                                                          ((view.minx + view.maxx) / 2, (view.miny + view.maxy) / 2)), 65)
            durations.append(time.perf_counter() - t0)
            found.append(len(selected))
        durations.sort()
        rows.append((f"{label}: select for {label_view}, median / p95",
                     f"{1000 * statistics.median(durations):.2f} / {1000 * durations[int(0.95 * len(durations))]:.2f} ms "
                     f"(median {statistics.median(found):.0f} items)"))
    return rows


def bench_rasters(count: int, work: Path) -> list[tuple[str, str]]:
    """Many small real rasters: zoomed-out GetMap latency with footprints, then with an overview."""
    import numpy as np
    import rasterio
    import yaml
    from rasterio.transform import from_origin

    from ogcserver.app import create_app
    from ogcserver.cli import main
    from ogcserver.settings import load_settings

    side = math.ceil(math.sqrt(count))
    folder = work / "rasters"
    if len(list(folder.glob("*.tif"))) != count:
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(SEED)
        for n in range(count):
            row, col = divmod(n, side)
            data = rng.integers(1, 255, (3, 64, 64), dtype=np.uint8)
            with rasterio.open(folder / f"r{n:06d}.tif", "w", driver="GTiff", width=64, height=64, count=3,
                               dtype="uint8", crs="EPSG:32632", transform=from_origin(500000 + col * 640, 5200000 - row * 640, 10, 10)) as dst:
                dst.write(data)
    config = work / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(work / "state")},
        "services": [{"name": "b", "layers": [{"name": "many", "collection": "many"}]}]}))
    rows = []
    t0 = time.perf_counter()
    main(["catalog", "drop", "many", "-c", str(config)])
    main(["catalog", "add", "many", str(folder), "-c", str(config)])
    rows.append((f"ingest of {count:,} files (describe + traced footprint)", f"{count / (time.perf_counter() - t0):,.0f} files/s"))
    extent = side * 640
    whole = f"500000,{5200000 - extent},{500000 + extent},5200000"
    query = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "many", "STYLES": "",
             "CRS": "EPSG:32632", "BBOX": whole, "WIDTH": 512, "HEIGHT": 512, "FORMAT": "image/png"}

    def latency(label: str) -> None:
        client = create_app(load_settings(config)).test_client()
        durations = []
        for _ in range(40):
            t = time.perf_counter()
            r = client.get("/wms", query_string=query)
            durations.append(time.perf_counter() - t)
            assert r.status_code == 200 and r.content_type == "image/png", r.data[:200]
        durations.sort()
        rows.append((f"zoomed-out 512 px GetMap over {count:,} items, {label}: median / p99",
                     f"{1000 * statistics.median(durations):.0f} / {1000 * durations[int(0.99 * len(durations))]:.0f} ms"))

    latency("no overview (footprints drawn)")
    t0 = time.perf_counter()
    main(["catalog", "overviews", "many", "-c", str(config)])
    rows.append(("overview build", f"{time.perf_counter() - t0:.0f} s"))
    latency("with the overview")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=0, help="synthetic metadata-only items")
    parser.add_argument("--rasters", type=int, default=0, help="real small rasters for the zoomed-out GetMap")
    parser.add_argument("--postgis", help="a libpq DSN: also measure the PostGIS backend")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "scratch" / "catalog")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    if args.items:
        from ogcserver.storage.catalogs.sqlite import SqliteCatalog

        rows += bench_store(SqliteCatalog(args.work / "catalog.sqlite"), "SQLite", args.items)
        if args.postgis:
            from ogcserver.storage.catalogs.postgis import PostgisCatalog

            rows += bench_store(PostgisCatalog(args.postgis), "PostGIS", args.items)
    if args.rasters:
        rows += bench_rasters(args.rasters, args.work)
    table = "| measure | result |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows) + "\n"
    print(table)
    (ROOT / "bench" / "results" / "catalog-latest.md").write_text(
        f"Catalog benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, one run on this machine (2 cores)\n\n"
        + table)


if __name__ == "__main__":
    main()
