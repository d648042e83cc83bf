"""Small multidimensional sources for tests, written with xarray: a 4-D (time, level, lat, lon)
netCDF in a noleap calendar with every CF encoding the reader must undo, and Zarr stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

TIMES = 4
LEVELS = (1000.0, 850.0, 500.0)  # hPa, the surface first (stored top-down: 500 first)
LATS = np.arange(-87.5, 90, 5.0)  # south first: a south-up grid (36 rows)
LONS = np.arange(2.5, 360, 5.0)  # 0..360: rolled to -180..180 when served (72 columns)
FILL = -32768
SCALE, OFFSET = 0.01, 250.0
VALID = (-20000, 20000)  # packed units


def values(seed: int = 7) -> np.ndarray:
    """Physical values (time, level, lat, lon) with a distinct pattern per step and level."""
    rng = np.random.default_rng(seed)
    t, z, y, x = np.meshgrid(np.arange(TIMES), np.arange(len(LEVELS)), LATS, LONS, indexing="ij")
    field = 240 + 30 * np.cos(np.radians(y)) + 10 * np.sin(np.radians(x) * 2) + 7 * t - 15 * z
    return np.round(field + rng.normal(0, 1, field.shape), 2)


def four_d(path: Path, calendar: str = "noleap", days: tuple[float, ...] = (0, 30, 60, 90)) -> Path:
    """The 4-D netCDF: int16 packed (scale_factor, add_offset), a _FillValue hole, values outside
    valid_range, levels stored top-down (500 hPa first), latitudes south-up, longitudes 0..360;
    its TIMES steps are ``days`` since 2001-01-01 in ``calendar``."""
    physical = values()
    physical[:, :, 3, 5] = np.nan  # one hole in every step: written as _FillValue
    physical[:, :, 4, 6] = (VALID[1] + 500) * SCALE + OFFSET  # one value beyond valid_range
    levels = np.array(LEVELS[::-1])
    ds = xr.Dataset(
        {"ta": (("time", "level", "lat", "lon"), physical[:, ::-1],
                {"long_name": "Air temperature", "units": "K", "standard_name": "air_temperature",
                 "valid_range": np.array(VALID, "int16")})},
        coords={
            "time": ("time", np.array(days, float), {"units": "days since 2001-01-01", "calendar": calendar,
                                                      "standard_name": "time", "axis": "T"}),
            "level": ("level", levels, {"units": "hPa", "positive": "down", "axis": "Z"}),
            "lat": ("lat", LATS, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", LONS, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"Conventions": "CF-1.8", "title": "test cube"},
    )
    encoding = {"ta": {"dtype": "int16", "scale_factor": SCALE, "add_offset": OFFSET, "_FillValue": FILL,
                       "chunksizes": (1, 1, len(LATS), len(LONS)), "zlib": True},
                "time": {"dtype": "float64"}}
    ds.to_netcdf(path, engine="netcdf4", encoding=encoding)
    return path


def zarr_store(path: Path, zarr_format: int = 2) -> Path:
    """A 3-D (time, lat, lon) float32 Zarr store, north-up, lon -180..180, a NaN hole."""
    rng = np.random.default_rng(3)
    lats, lons = np.arange(44.75, 40, -0.5), np.arange(5.25, 12, 0.5)
    data = rng.normal(280, 5, (3, lats.size, lons.size)).astype("float32")
    data[:, 2, 2] = np.nan
    ds = xr.Dataset(
        {"tas": (("time", "lat", "lon"), data, {"units": "K", "long_name": "Near-surface air temperature"})},
        coords={"time": ("time", np.array(["2020-01-01", "2020-01-02", "2020-01-03"], "datetime64[ns]")),
                "lat": ("lat", lats, {"units": "degrees_north"}), "lon": ("lon", lons, {"units": "degrees_east"})},
    )
    ds.to_zarr(path, zarr_format=zarr_format, mode="w", encoding={"tas": {"chunks": (1, lats.size, lons.size)}},
               consolidated=zarr_format == 2)
    return path


def decoded(path: Path, variable: str) -> xr.DataArray:
    """The variable as xarray decodes it, on the grid a server shows: north up, -180..180."""
    engine = "zarr" if path.suffix == ".zarr" else None
    with xr.open_dataset(path, engine=engine, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        da = ds[variable].load()
    lon = next(d for d in da.dims if str(d).startswith("lon"))
    lat = next(d for d in da.dims if str(d).startswith("lat"))
    da = da.assign_coords({lon: ((da[lon] + 180) % 360) - 180}).sortby(lon).sortby(lat, ascending=False)
    if "valid_range" in da.attrs:  # xarray leaves valid_range to the reader: packed units here
        low, high = (v * SCALE + OFFSET for v in da.attrs["valid_range"])
        da = da.where((da >= low) & (da <= high))
    return da


COLLECTION_DAYS = ("2020-03-01", "2020-03-02", "2020-03-03", "2020-03-04")


def daily_tiles(folder: Path) -> xr.DataArray:
    """A collection of netCDF files, one per day and per half of the globe (west, east), of
    a float32 ``tas`` on a 10 degree grid, with a NaN hole in every file; the cube they make
    together (time, lat north-up, lon -180..180) is returned as the truth."""
    lats, lons = np.arange(85.0, -90, -10.0), np.arange(-175.0, 180, 10.0)
    rng = np.random.default_rng(11)
    whole = rng.normal(280, 8, (len(COLLECTION_DAYS), lats.size, lons.size)).astype("float32")
    whole[:, 5, 7] = np.nan
    truth = xr.DataArray(whole, dims=("time", "lat", "lon"),
                         coords={"time": np.array(COLLECTION_DAYS, "datetime64[ns]"), "lat": lats, "lon": lons})
    folder.mkdir(parents=True, exist_ok=True)
    for day in COLLECTION_DAYS:
        for half, columns in (("west", lons < 0), ("east", lons > 0)):
            part = truth.sel(time=[np.datetime64(day, "ns")]).isel(lon=np.flatnonzero(columns))
            xr.Dataset({"tas": part.assign_attrs(units="K", long_name="Air temperature")},
                       coords={"lat": ("lat", lats, {"units": "degrees_north"}),
                               "lon": ("lon", part.lon.values, {"units": "degrees_east"})}).to_netcdf(
                folder / f"tas_{day}_{half}.nc", encoding={"tas": {"_FillValue": np.float32(np.nan)}})
    return truth
