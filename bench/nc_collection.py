"""A folder of daily netCDF files as one layer, against the same days in one netCDF file: a
global 1 degree float32 field, one file per day (one step each), in process.

    .venv/bin/python bench/nc_collection.py [--days 365] [--work bench/scratch/nc_collection] [--repeat 10]

Figures (printed as JSON): the median time of a 256 px GetMap of one day from the folder and from
the single file, and their ratio; a GetFeatureInfo time series of every day at one pixel from each
(the folder's opens one file per day); the layer's description time (every file indexed, cold);
and the process's peak RSS after all of it.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
from multidim import timed  # one timing rule for the multidimensional benches (run as a script: bench/ is on the path)

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 360, 180  # 1 degree, global


def generate(folder: Path, days: int) -> tuple[Path, Path]:
    """The folder of daily files and the single file holding the same days."""
    import netCDF4

    daily, single = folder / "daily", folder / f"year_{days}.nc"
    daily.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    lat = np.linspace(89.5, -89.5, HEIGHT)
    lon = np.linspace(-179.5, 179.5, WIDTH)
    fields = [(280 + 20 * np.cos(np.radians(lat))[:, None] * np.cos(2 * np.pi * d / 365)
               + rng.normal(0, 0.5, (HEIGHT, WIDTH))).astype(np.float32) for d in range(days)]

    def write(path: Path, first: int, values: list[np.ndarray]) -> None:
        if path.exists():
            return
        with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
            ds.createDimension("time", len(values))
            ds.createDimension("lat", HEIGHT)
            ds.createDimension("lon", WIDTH)
            t = ds.createVariable("time", "f8", ("time",))
            t.units, t.calendar, t.standard_name = "days since 2020-01-01", "standard", "time"
            t[:] = np.arange(first, first + len(values))
            y = ds.createVariable("lat", "f8", ("lat",))
            y.units, y[:] = "degrees_north", lat
            x = ds.createVariable("lon", "f8", ("lon",))
            x.units, x[:] = "degrees_east", lon
            v = ds.createVariable("tas", "f4", ("time", "lat", "lon"), zlib=True, complevel=1,
                                  chunksizes=(1, HEIGHT, WIDTH))
            v.units = "K"
            for i, value in enumerate(values):
                v[i] = value

    for day in range(days):
        write(daily / f"tas_{day:03d}.nc", day, fields[day:day + 1])
    write(single, 0, fields)
    return daily, single


def measure(daily: Path, single: Path, days: int, repeat: int, workdir: Path) -> dict:
    import yaml

    from ogcserver.app import core_of, create_app
    from ogcserver.settings import load_settings

    config = workdir / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(workdir / "state")}, "cache": {"enabled": False},
        "limits": {"render_timeout": 600, "max_items": days + 1},  # a series reads a file per day
        "services": [{"name": "bench", "layers": [
            {"name": "folder", "source": str(daily), "pattern": "*.nc", "variable": "tas", "value_range": [240, 310]},
            {"name": "single", "source": str(single), "variable": "tas", "value_range": [240, 310]}]}]}))
    started = time.perf_counter()
    app = create_app(load_settings(config))
    core = core_of(app)
    core.catalog.layer("folder")
    described_s = time.perf_counter() - started
    client = app.test_client()
    values = core.catalog.layer("folder").info.dimensions[0].values
    assert len(values) == days, len(values)
    middle = values[len(values) // 2]

    def getmap(layer: str) -> None:
        r = client.get(f"/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS={layer}&STYLES=&CRS=EPSG:4326"
                       f"&BBOX=35,-10,60,30&WIDTH=256&HEIGHT=256&FORMAT=image/png&TIME={middle}")
        assert r.status_code == 200, r.data[:300]

    def series(layer: str) -> None:
        r = client.get(f"/wms?SERVICE=WMS&REQUEST=GetFeatureInfo&VERSION=1.3.0&LAYERS={layer}&QUERY_LAYERS={layer}"
                       f"&STYLES=&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=360&HEIGHT=180&I=190&J=45"
                       f"&INFO_FORMAT=application/json&TIME={values[0]}/{values[-1]}")
        assert r.status_code == 200, r.data[:300]
        assert len(json.loads(r.data)["layers"][0]["features"][0]["series"]) == days

    folder_map, single_map = timed(lambda: getmap("folder"), repeat), timed(lambda: getmap("single"), repeat)
    folder_series = timed(lambda: series("folder"), max(1, repeat // 5))
    single_series = timed(lambda: series("single"), max(1, repeat // 5))
    return {
        "days": days,
        "describe_cold_s": round(described_s, 2),
        "getmap_256px": {"folder_ms": round(folder_map * 1000, 2), "single_file_ms": round(single_map * 1000, 2),
                         "ratio": round(folder_map / single_map, 2)},
        "series_every_day": {"folder_ms": round(folder_series * 1000, 1),
                             "single_file_ms": round(single_series * 1000, 1)},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--work", type=Path, default=HERE / "scratch" / "nc_collection")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    daily, single = generate(args.work, args.days)
    workdir = args.work / "run"
    workdir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(measure(daily, single, args.days, args.repeat, workdir), indent=1))


if __name__ == "__main__":
    main()
