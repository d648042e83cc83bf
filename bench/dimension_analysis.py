"""Analysis over a year of daily global grids, in process: a 365-step time series at one pixel
(GetFeatureInfo over a TIME range), a yearly mean of a 256 px view (GetMap with AGGREGATE=mean)
and, for comparison, a 256 px GetMap of one step from the netCDF and from a COG of that step;
then the process's peak resident memory.

The data is generated once into ``--data`` (default: a temporary folder): a global 0.25 degree
grid (1440 x 720), 365 daily steps of float32, one step per chunk, zlib-compressed unless
``--uncompressed``. Run from the repository root:

    .venv/bin/python bench/dimension_analysis.py [--data DIR] [--repeat 5] [--uncompressed]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS, WIDTH, HEIGHT = 365, 1440, 720


def generate(folder: Path, compressed: bool) -> tuple[Path, Path]:
    """The netCDF (written a step at a time: a few MiB held) and a COG of its first step."""
    import netCDF4
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    name = "daily.nc" if compressed else "daily-raw.nc"
    cube, cog = folder / name, folder / "step0.tif"
    if cube.exists() and cog.exists():
        return cube, cog
    lats = 89.875 - 0.25 * np.arange(HEIGHT)
    lons = -179.875 + 0.25 * np.arange(WIDTH)
    lon2, lat2 = np.meshgrid(np.radians(lons), np.radians(lats))
    base = (250 + 40 * np.cos(lat2) + 5 * np.sin(3 * lon2)).astype("float32")
    with netCDF4.Dataset(cube, "w") as ds:
        ds.createDimension("time", STEPS)
        ds.createDimension("lat", HEIGHT)
        ds.createDimension("lon", WIDTH)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar, t.standard_name = "days since 2021-01-01", "standard", "time"
        t[:] = np.arange(STEPS)
        y = ds.createVariable("lat", "f8", ("lat",))
        y.units, y.standard_name = "degrees_north", "latitude"
        y[:] = lats
        x = ds.createVariable("lon", "f8", ("lon",))
        x.units, x.standard_name = "degrees_east", "longitude"
        x[:] = lons
        v = ds.createVariable("tas", "f4", ("time", "lat", "lon"), chunksizes=(1, HEIGHT, WIDTH),
                              zlib=compressed, complevel=1, fill_value=np.float32(1e20))
        v.units, v.long_name = "K", "Near-surface air temperature"
        rng = np.random.default_rng(1)
        for step in range(STEPS):
            season = 10 * np.sin(2 * np.pi * step / 365) * np.sin(lat2)
            v[step] = (base + season + rng.normal(0, 1, base.shape)).astype("float32")
    with netCDF4.Dataset(cube) as ds:
        first = np.asarray(ds["tas"][0], "float32")
    profile = {"driver": "COG", "width": WIDTH, "height": HEIGHT, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": from_origin(-180, 90, 0.25, 0.25), "compress": "deflate"}
    with rasterio.open(cog, "w", **profile) as out:
        out.write(first, 1)
    return cube, cog


def timed(call, repeat: int) -> tuple[float, float]:
    """(first, median of the rest) in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times[1:] or times)


def measure(cube: Path, cog: Path, repeat: int) -> None:
    import yaml

    from ogcserver.composition import build_core
    from ogcserver.core.functions.over_dimensions import OverDimensions
    from ogcserver.core.query import EVERY_ITEM, ItemQuery, LayerRef, MapQuery, PointQuery
    from ogcserver.model.formats import ImageFormat
    from ogcserver.model.geo import BBox
    from ogcserver.model.image import Grid
    from ogcserver.settings import load_settings

    with tempfile.TemporaryDirectory() as state:
        config = Path(state) / "c.yaml"
        config.write_text(yaml.safe_dump({"server": {"data_dir": state}, "limits": {"render_timeout": 600},
                                          "services": [{"name": "b", "layers": [
                                              {"name": "cube", "source": str(cube), "variable": "tas",
                                               "value_range": [200, 320]},
                                              {"name": "cog", "source": str(cog), "value_range": [200, 320]}]}]}))
        engine = build_core(load_settings(config)).engine
        view = Grid.from_bbox(BBox(0, 0, 64, 64, "EPSG:4326"), 256, 256)  # 256 source cells a side
        year = ItemQuery(dimensions=(("time", "2021-01-01/2021-12-31"),))
        one = ItemQuery(dimensions=(("time", "2021-01-01"),))

        def getmap(layer: str, items=EVERY_ITEM, over=None):
            return lambda: engine.render_map(MapQuery((LayerRef(layer),), view, ImageFormat.PNG, items=items,
                                                      over=over))

        series = PointQuery(("cube",), view, 100, 100, items=year)
        points = engine.feature_info(series)[0].hits[0].series
        assert len(points) == STEPS, len(points)
        rows = [
            ("256 px GetMap, one step, COG", timed(getmap("cog"), repeat)),
            ("256 px GetMap, one step, netCDF", timed(getmap("cube", one), repeat)),
            ("365-step time series at one pixel", timed(lambda: engine.feature_info(series), repeat)),
            ("yearly mean (365 steps), 256 px GetMap", timed(getmap("cube", year, OverDimensions()), repeat)),
        ]
    print(f"\n{cube.name} ({'zlib' if 'raw' not in cube.name else 'uncompressed'}, one step per chunk), "
          f"{repeat} runs\n")
    print("| operation | first ms | median ms |\n|---|---:|---:|")
    for label, (first, median) in rows:
        print(f"| {label} | {first:.0f} | {median:.0f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the process: {peak:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder for the generated files (kept; default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--uncompressed", action="store_true", help="store the steps without zlib")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)  # the fresh process that measures
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure[0]), Path(args.measure[1]), args.repeat)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.data or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        cube, cog = generate(folder, not args.uncompressed)
        # measured in a fresh process, so the peak is the server's, not the generator's
        return subprocess.call([sys.executable, __file__, "--repeat", str(args.repeat), "--measure", str(cube),
                                str(cog)])


if __name__ == "__main__":
    raise SystemExit(main())
