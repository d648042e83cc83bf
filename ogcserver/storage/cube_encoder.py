"""A coverage over steps as CF netCDF, written by xarray: the GeoTIFF the core wrote piece by piece
(its bands: each step in turn) becomes one variable over (dimensions..., y, x), with the steps'
coordinates (times in their calendar), CF georeferencing and nodata as _FillValue. The bands are
read lazily, in strips of rows of at most STRIP_BYTES that are also the file's chunks, while xarray
writes, so memory stays flat whatever the size (a whole band of an 8192 x 8192 float32 coverage is
256 MiB, and xarray and netCDF4 held about three copies of it).
xarray, dask and cftime are imported when a cube is first written: a worker that never writes
one does not carry them (about 50 MiB)."""

from __future__ import annotations

import math
import os
import tempfile
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyproj
import rasterio

from ogcserver.model.coverage import CoverageFormat, EncodedCoverage
from ogcserver.model.dimensions import Dimension, Slice
from ogcserver.model.geo import WGS84

if TYPE_CHECKING:
    import xarray as xr

CF_TIME_UNITS = "seconds since 1970-01-01 00:00:00"
STRIP_BYTES = 4 << 20  # the rows of one band read, compressed and written at a time


def _source_path(coverage: EncodedCoverage, folder: str) -> str:
    """A path GDAL can open for the GeoTIFF: its open (unlinked) file, or its bytes written out."""
    if coverage.file is not None:
        return f"/proc/self/fd/{coverage.file.fileno()}"
    path = os.path.join(folder, "coverage.tif")
    with open(path, "wb") as out:
        out.write(coverage.body or b"")
    return path


def _coordinate(dimension: Dimension, indices: list[int]) -> xr.Variable:
    import cftime
    import xarray as xr

    values = [dimension.values[i] for i in indices]
    if dimension.is_time:
        calendar = dimension.calendar or "standard"
        dates = [cftime.datetime(int(v[0:4]), int(v[5:7]), int(v[8:10]), int(v[11:13]), int(v[14:16]), int(v[17:19]),
                                 calendar=calendar) for v in values]
        numbers = cftime.date2num(dates, CF_TIME_UNITS, calendar=calendar)
        return xr.Variable(dimension.axis, numbers, {"standard_name": "time", "units": CF_TIME_UNITS,
                                                     "calendar": calendar, "axis": "T"})
    attrs = {"units": dimension.units} if dimension.units and dimension.units != "index" else {}
    if dimension.name == "elevation":
        attrs["axis"] = "Z"
    return xr.Variable(dimension.axis, np.asarray([float(v) for v in values]), attrs)


class NetcdfEncoder:
    """Encodes a finished GeoTIFF coverage over steps as CF netCDF (see the module docstring)."""

    def encode(self, coverage: EncodedCoverage, dimensions: tuple[Dimension, ...], steps: Sequence[Slice],
               variable: str, units: str) -> EncodedCoverage:
        import dask

        with tempfile.TemporaryDirectory(prefix="ogcserver-nc-") as folder:
            source = _source_path(coverage, folder)
            with rasterio.open(source) as ds:
                dataset = self._dataset(ds, source, dimensions, steps, variable, units)
                target = os.path.join(folder, "coverage.nc")
                with dask.config.set(scheduler="synchronous"):  # one band in memory at a time
                    dataset.to_netcdf(target, engine="netcdf4", format="NETCDF4")
            coverage.close()
            handle = open(target, "rb")  # noqa: SIM115 - EncodedCoverage closes it once streamed
            size = os.fstat(handle.fileno()).st_size
        return EncodedCoverage(CoverageFormat.NETCDF.value, size, f"coverage-{uuid.uuid4().hex[:12]}.nc", file=handle)

    @staticmethod
    def _dataset(ds: rasterio.DatasetReader, source: str, dimensions: tuple[Dimension, ...], steps: Sequence[Slice],
                 variable: str, units: str) -> xr.Dataset:
        import dask
        import dask.array
        import xarray as xr

        t = ds.transform
        xs = t.c + t.a * (np.arange(ds.width) + 0.5)
        ys = t.f + t.e * (np.arange(ds.height) + 0.5)
        dtype = np.dtype(ds.dtypes[0])

        rows = strip_rows(ds.width, dtype)

        def strip(index: int, row0: int, row1: int) -> np.ndarray:
            with rasterio.open(source) as again:
                return again.read(index, window=((row0, row1), (0, ds.width)))

        def band(index: int) -> dask.array.Array:
            return dask.array.concatenate([
                dask.array.from_delayed(dask.delayed(strip)(index, row0, min(row0 + rows, ds.height)),
                                        (min(row0 + rows, ds.height) - row0, ds.width), dtype)
                for row0 in range(0, ds.height, rows)])

        bands = [band(i + 1) for i in range(ds.count)]
        axes = [d for d in dimensions if d.axis in {a for a, _ in steps[0].steps}]
        picked = [sorted({dict(s.steps)[d.axis] for s in steps}) for d in axes]
        shape = [len(p) for p in picked]
        cube = dask.array.stack(bands).reshape((*shape, ds.height, ds.width)) if axes else bands[0]
        crs = ds.crs.to_string() if ds.crs else ""
        geographic = crs == WGS84
        ydim, xdim = ("lat", "lon") if geographic else ("y", "x")
        coords = {ydim: xr.Variable(ydim, ys, {"standard_name": "latitude", "units": "degrees_north"} if geographic
                                    else {"standard_name": "projection_y_coordinate", "units": "m"}),
                  xdim: xr.Variable(xdim, xs, {"standard_name": "longitude", "units": "degrees_east"} if geographic
                                    else {"standard_name": "projection_x_coordinate", "units": "m"})}
        for dimension, indices in zip(axes, picked):
            coords[dimension.axis] = _coordinate(dimension, indices)
        attrs = {"units": units} if units else {}
        attrs["grid_mapping"] = "crs"
        nodata = ds.nodata
        data = xr.DataArray(cube, dims=(*[d.axis for d in axes], ydim, xdim), coords=coords, attrs=attrs, name=variable)
        mapping = xr.DataArray(np.int32(0), attrs=pyproj.CRS.from_user_input(ds.crs.to_wkt()).to_cf())
        encoding = {variable: {"_FillValue": nodata if nodata is not None and not math.isnan(nodata) else np.nan,
                               "zlib": True, "complevel": 1,
                               "chunksizes": (*[1] * len(axes), min(rows, ds.height), ds.width)}}
        for dimension in axes:
            encoding[dimension.axis] = {"dtype": "float64"}
        return _with_encoding(xr.Dataset({variable: data, "crs": mapping}, attrs={"Conventions": "CF-1.8"}), encoding)


def strip_rows(width: int, dtype: np.dtype) -> int:
    """Rows of a strip: as many as STRIP_BYTES hold, at least one."""
    return max(1, STRIP_BYTES // (width * dtype.itemsize))


def _with_encoding(dataset: xr.Dataset, encoding: dict) -> xr.Dataset:
    for name, values in encoding.items():
        dataset[name].encoding.update(values)
    return dataset
