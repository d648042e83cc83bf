"""Multidimensional sources: a global 0.25 degree, 365-step float32 netCDF (one step per chunk)
and the same step as a COG, and the figures of a netCDF layer against its COG twin, in process.

    .venv/bin/python bench/multidim.py [--steps 365] [--work bench/scratch/multidim] [--repeat 20]

Figures (printed as JSON): the median time of a 256 px GetMap of one step from the netCDF and from
the COG, and their ratio (at three views: the world, a continent, a region); a 365-step series at
one pixel read through the reader's point primitive (no series query exists yet: the time
series and aggregation functions come separately); a 365-step 256 x 256 WCS trim (every step's
values of one tile, what a yearly mean reads); and the process's peak RSS after all of it.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout's server, not whichever one is installed
WIDTH, HEIGHT = 1440, 720  # 0.25 degree, global
# how the year is stored: (chunk shape, zlib level or None); "step-raw" (one uncompressed step per
# chunk) is the headline case, the compressed layouts are kept as figures of what zlib costs
LAYOUTS = {"step-raw": ((1, HEIGHT, WIDTH), None), "step": ((1, HEIGHT, WIDTH), 1),
           "tiles": ((1, 180, 360), 1), "tiles-raw": ((1, 180, 360), None)}


def field(step: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth global field that changes with the season, plus noise (compressible, not constant)."""
    lat = np.linspace(89.875, -89.875, HEIGHT, dtype=np.float32)[:, None]
    lon = np.linspace(-179.875, 179.875, WIDTH, dtype=np.float32)[None, :]
    season = np.float32(np.cos(2 * np.pi * step / 365))
    base = 288 - 40 * np.sin(np.radians(lat)) ** 2 + 15 * season * np.sin(np.radians(lat)) + 3 * np.cos(np.radians(lon) * 3)
    return (base + rng.normal(0, 0.5, (HEIGHT, WIDTH)).astype(np.float32)).astype(np.float32)


def generate(folder: Path, steps: int, layout: str = "step") -> tuple[Path, Path]:
    """The netCDF (written step by step: flat memory) stored as ``layout`` says, and the COG of
    its last step (the same values whatever the layout)."""
    import netCDF4
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_origin

    folder.mkdir(parents=True, exist_ok=True)
    suffix = "" if layout == "step" else f"_{layout}"
    nc, cog = folder / f"global_{steps}{suffix}.nc", folder / f"global_{steps}_last.tif"
    chunks, level = LAYOUTS[layout]
    rng = np.random.default_rng(1)
    if not nc.exists():
        partial = nc.with_suffix(".partial")
        with netCDF4.Dataset(partial, "w", format="NETCDF4") as ds:
            ds.createDimension("time", steps)
            ds.createDimension("lat", HEIGHT)
            ds.createDimension("lon", WIDTH)
            t = ds.createVariable("time", "f8", ("time",))
            t.units, t.calendar, t.standard_name = "days since 2020-01-01", "standard", "time"
            t[:] = np.arange(steps)
            lat = ds.createVariable("lat", "f8", ("lat",))
            lat.units, lat[:] = "degrees_north", np.linspace(89.875, -89.875, HEIGHT)
            lon = ds.createVariable("lon", "f8", ("lon",))
            lon.units, lon[:] = "degrees_east", np.linspace(-179.875, 179.875, WIDTH)
            v = ds.createVariable("tas", "f4", ("time", "lat", "lon"), zlib=level is not None,
                                  complevel=level or 0, chunksizes=chunks, fill_value=np.float32(-9999))
            v.units, v.long_name = "K", "Air temperature"
            for step in range(steps):
                v[step] = field(step, rng)
        partial.rename(nc)
    if not cog.exists():
        with netCDF4.Dataset(nc) as ds:
            last = np.asarray(ds["tas"][steps - 1], np.float32)
        profile = {"driver": "GTiff", "width": WIDTH, "height": HEIGHT, "count": 1, "dtype": "float32",
                   "nodata": -9999.0, "crs": "EPSG:4326", "transform": from_origin(-180, 90, 0.25, 0.25),
                   "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate"}
        with rasterio.open(cog, "w", **profile) as dst:
            dst.write(last[None])
            dst.build_overviews([2, 4], Resampling.average)
    return nc, cog


def timed(call, repeat: int) -> float:
    call()  # warm: handles open, statistics computed
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(nc: Path, cog: Path, steps: int, repeat: int, workdir: Path) -> dict:
    import rasterio
    import yaml

    from ogcserver.app import core_of, create_app
    from ogcserver.model.dimensions import Slice
    from ogcserver.settings import load_settings

    config = workdir / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(workdir / "state")}, "cache": {"enabled": False},
        "limits": {"render_timeout": 600},  # the figures, not the default deadline, are measured
        "services": [{"name": "bench", "layers": [
            {"name": "cube", "source": str(nc), "variable": "tas", "value_range": [240, 310]},
            {"name": "cog", "source": str(cog), "value_range": [240, 310]}]}]}))
    app = create_app(load_settings(config))
    client = app.test_client()
    core = core_of(app)
    dimension = core.catalog.layer("cube").info.dimensions[0]
    last = dimension.values[-1]
    views = {"world": "-90,-180,90,180", "continent": "35,-10,60,30", "region": "45,5,50,12"}
    maps = {}
    for name, bbox in views.items():
        def getmap(layer: str, bbox: str = bbox) -> None:
            r = client.get(f"/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS={layer}&STYLES=&CRS=EPSG:4326"
                           f"&BBOX={bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png"
                           + (f"&TIME={last}" if layer == "cube" else ""))
            assert r.status_code == 200, r.data[:300]
        cube_s, cog_s = timed(lambda: getmap("cube"), repeat), timed(lambda: getmap("cog"), repeat)
        maps[name] = {"netcdf_ms": round(cube_s * 1000, 2), "cog_ms": round(cog_s * 1000, 2),
                      "ratio": round(cube_s / cog_s, 2)}
    item = core.catalog.items_for(core.catalog.layer("cube"), core.catalog.layer("cube").info.bounds, 10)[0]

    def series() -> None:
        values = [core.reader.sample(replace(item.source, slice=Slice((("time", i),))), 10.1, 45.1, "EPSG:4326")
                  for i in range(steps)]
        assert len(values) == steps

    series_s = timed(series, max(1, repeat // 4))

    def trim() -> None:
        r = client.get(f"/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=cube&FORMAT=image/tiff"
                       f"&SUBSET=Lat(40,50)&SUBSET=Long(0,10)&SCALESIZE=i(256),j(256)"
                       f"&SUBSET=time(\"{dimension.values[0]}\",\"{last}\")")
        assert r.status_code == 200, r.data[:300]
        with rasterio.open(io.BytesIO(r.data)) as ds:
            assert ds.count == steps
            ds.read().mean(axis=0)

    trim_s = timed(trim, max(1, repeat // 4))
    return {
        "getmap_256px": maps,
        "series_at_a_pixel": {"steps": steps, "ms": round(series_s * 1000, 1)},
        "trim_256px_all_steps_then_mean": {"steps": steps, "ms": round(trim_s * 1000, 1)},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=365)
    parser.add_argument("--work", type=Path, default=HERE / "scratch" / "multidim")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="step-raw",
                        help="the netCDF's chunks: one uncompressed step per chunk (step-raw), one zlib step per "
                             "chunk (step), 1x180x360 zlib (tiles) or 1x180x360 uncompressed (tiles-raw)")
    args = parser.parse_args()
    nc, cog = generate(args.work.resolve(), args.steps, args.layout)  # the config lies elsewhere
    workdir = args.work / "run"
    workdir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(measure(nc, cog, args.steps, args.repeat, workdir), indent=1))


if __name__ == "__main__":
    main()
