"""Analysis over a year of daily global grids, in process: a 365-step time series at one pixel
(GetFeatureInfo over a TIME range), a yearly mean of a 256 px view (GetMap with AGGREGATE=mean)
and, for comparison, a 256 px GetMap of one step from the netCDF and from a COG of that step;
then the peak resident memory of the measuring process.

The data is bench/multidim.py's (generated there once into ``--work``): a global 0.25 degree grid
(1440 x 720), 365 daily steps of float32, one uncompressed step per chunk, or with ``--layout``
one zlib-compressed step per chunk (step), chunks of 1 x 180 x 360 compressed (tiles) or not
(tiles-raw). Run from the repository root:

    .venv/bin/python bench/dimension_analysis.py [--work bench/scratch/multidim] [--repeat 5] [--layout step-raw]
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

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from multidim import LAYOUTS, generate  # noqa: E402 - bench/multidim.py, beside this script

STEPS = 365


def timed(call, repeat: int) -> tuple[float, float]:
    """(first, median of the rest) in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times[1:] or times)


def measure(cube: Path, cog: Path, repeat: int, layout: str) -> None:
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
        days = engine.catalog.layer("cube").info.dimensions[0].values
        year = ItemQuery(dimensions=(("time", f"{days[0]}/{days[-1]}"),))
        one = ItemQuery(dimensions=(("time", days[-1]),))  # the step the COG holds

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
    chunks, level = LAYOUTS[layout]
    stored = f"chunks of {'x'.join(map(str, chunks))}, " + (f"zlib level {level}" if level else "uncompressed")
    print(f"\n{cube.name} ({stored}), {repeat} runs\n")
    print("| operation | first ms | median ms |\n|---|---:|---:|")
    for label, (first, median) in rows:
        print(f"| {label} | {first:.0f} | {median:.0f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the process: {peak:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=HERE / "scratch" / "multidim")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="step-raw")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)  # the fresh process that measures
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure[0]), Path(args.measure[1]), args.repeat, args.layout)
        return 0
    cube, cog = generate(args.work.resolve(), STEPS, args.layout)  # the config is read from elsewhere
    # measured in a fresh process, so the peak is the server's, not the generator's
    return subprocess.call([sys.executable, __file__, "--repeat", str(args.repeat), "--layout", args.layout,
                            "--measure", str(cube), str(cog)])


if __name__ == "__main__":
    raise SystemExit(main())
