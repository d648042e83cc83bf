"""How a CF variable lies on the earth: its x/y axes as a north-up grid, its CRS, and its other
axes as dimensions with their steps.

The grid a variable is served on is always north-up with longitudes in -180..180: latitudes
stored south to north are read flipped, and longitudes in 0..360 are read rolled (a view's
columns map to at most two runs of the file's columns), so no copy of the data is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyproj
import xarray as xr
from affine import Affine

from ogcserver.model.dimensions import ELEVATION, ISO8601, TIME, Dimension, format_number
from ogcserver.model.geo import WGS84, canonical_crs

X_NAMES = ("lon", "longitude", "x", "nav_lon", "rlon")
Y_NAMES = ("lat", "latitude", "y", "nav_lat", "rlat")
X_STANDARD = ("longitude", "projection_x_coordinate", "grid_longitude")
Y_STANDARD = ("latitude", "projection_y_coordinate", "grid_latitude")
VERTICAL_STANDARD = ("air_pressure", "height", "depth", "altitude", "model_level_number", "atmosphere_sigma_coordinate",
                     "atmosphere_hybrid_sigma_pressure_coordinate", "geopotential_height")
PRESSURE_UNITS = ("pa", "hpa", "mbar", "millibar", "mb", "bar", "kpa", "atm")
MAX_STEPS = 100_000  # steps of one axis; a longer axis is refused (each is listed in capabilities)


class NotAGrid(Exception):
    """The variable cannot be served as a georeferenced grid; the message says why."""


@dataclass(frozen=True)
class GridLayout:
    """A variable's x/y axes as a north-up grid: ``flip`` when rows are stored south first,
    ``roll`` the file column of the grid's first column (longitudes rolled from 0..360)."""

    y: str
    x: str
    width: int
    height: int
    transform: Affine
    crs: str
    flip: bool
    roll: int

    def rows(self, row0: int, row1: int) -> slice:
        """File rows of grid rows [row0, row1) (read in file order; flipped after when ``flip``)."""
        return slice(self.height - row1, self.height - row0) if self.flip else slice(row0, row1)

    def column_runs(self, col0: int, col1: int) -> list[slice]:
        """File columns of grid columns [col0, col1), as one or two runs."""
        start, stop = col0 + self.roll, col1 + self.roll
        if stop <= self.width:
            return [slice(start, stop)]
        if start >= self.width:
            return [slice(start - self.width, stop - self.width)]
        return [slice(start, self.width), slice(0, stop - self.width)]


def _attr(variable: xr.DataArray, name: str) -> str:
    return str(variable.attrs.get(name, "")).strip().lower()


def _axis_of(ds: xr.Dataset, dim: str) -> str:
    """'x', 'y', 't', 'z' or '' for one dimension of a variable, from its coordinate's CF attributes."""
    coord = ds[dim] if dim in ds.variables else None
    name = dim.lower()
    if coord is not None:
        axis, standard, units = _attr(coord, "axis"), _attr(coord, "standard_name"), _attr(coord, "units")
        if axis in ("x", "y", "t", "z"):
            return axis
        if standard in X_STANDARD or units in ("degrees_east", "degree_east", "degrees_e", "degree_e"):
            return "x"
        if standard in Y_STANDARD or units in ("degrees_north", "degree_north", "degrees_n", "degree_n"):
            return "y"
        if standard == "time" or np.issubdtype(coord.dtype, np.datetime64) or coord.dtype == object:
            return "t"
        if standard in VERTICAL_STANDARD or _attr(coord, "positive") in ("up", "down"):
            return "z"
    if name in X_NAMES:
        return "x"
    if name in Y_NAMES:
        return "y"
    if name in ("time", "t"):
        return "t"
    if name in ("level", "lev", "plev", "height", "depth", "z", "altitude", "pressure"):
        return "z"
    return ""


def _names_an_axis(name: str, variable: xr.DataArray) -> bool:
    """A variable that by its name, standard name or units holds longitudes/x or latitudes/y."""
    return (name.lower() in X_NAMES + Y_NAMES or _attr(variable, "standard_name") in X_STANDARD + Y_STANDARD
            or _attr(variable, "units") in ("degrees_east", "degree_east", "degrees_north", "degree_north"))


def with_sibling_coordinates(ds: xr.Dataset) -> xr.Dataset:
    """An HDF5 file written without dimension scales has axes without coordinates (h5netcdf's
    phony dimensions); a 1-D ``lat``/``lon`` dataset beside its grids, alone along one such axis
    and so of its length, becomes that axis's coordinates (in degrees when named ``lat``/``lon``
    without units). Two candidates along one axis (a square grid) are ambiguous: the axis is
    left without, and the variable is refused saying so."""
    along: dict[str, list[str]] = {}
    for name, variable in ds.data_vars.items():
        if variable.ndim == 1 and str(variable.dims[0]) not in ds.variables and _names_an_axis(str(name), variable):
            along.setdefault(str(variable.dims[0]), []).append(str(name))
    swaps = {dim: names[0] for dim, names in along.items() if len(names) == 1}
    if not swaps:
        return ds
    swapped = ds.swap_dims(swaps)
    for name in swaps.values():
        if not _attr(swapped[name], "units") and name.lower() in ("lon", "longitude", "lat", "latitude"):
            units = "degrees_east" if name.lower().startswith("lon") else "degrees_north"
            swapped[name].attrs = {**swapped[name].attrs, "units": units}
    swapped.encoding = ds.encoding
    swapped.set_close(ds.close)
    return swapped


def uncoordinated_axes(ds: xr.Dataset, variable: xr.DataArray) -> list[str]:
    """The variable's dimensions that have no coordinate values in the file."""
    return [str(d) for d in variable.dims if d not in ds.variables]


def is_coordinate_field(ds: xr.Dataset, name: str) -> bool:
    """A data variable that holds coordinates (2-D latitude/longitude named by another variable's
    ``coordinates``, or a latitude/longitude by its standard name), not values to publish."""
    variable = ds[name]
    if _attr(variable, "standard_name") in ("latitude", "longitude") or _attr(variable, "units") in (
            "degrees_north", "degrees_east"):
        return True
    return any(name in str(ds[other].encoding.get("coordinates", ds[other].attrs.get("coordinates", ""))).split()
               for other in ds.data_vars if other != name)


def spatial_dims(ds: xr.Dataset, variable: xr.DataArray) -> tuple[str, str] | None:
    """The variable's (y, x) dimensions, or None when it has not exactly one of each."""
    axes = {dim: _axis_of(ds, str(dim)) for dim in variable.dims}
    ys = [d for d, a in axes.items() if a == "y"]
    xs = [d for d, a in axes.items() if a == "x"]
    if len(ys) != 1 or len(xs) != 1:
        return None
    return str(ys[0]), str(xs[0])


def _regular_step(values: np.ndarray, name: str) -> float:
    if values.size < 2:
        raise NotAGrid(f"the axis '{name}' has fewer than two values")
    steps = np.diff(values.astype("float64"))
    step = float(steps.mean())
    if step == 0 or not np.all(np.abs(steps - step) <= abs(step) * 1e-4):
        raise NotAGrid(f"the axis '{name}' is not evenly spaced (an irregular grid is not supported)")
    return step


def variable_crs(ds: xr.Dataset, variable: xr.DataArray, geographic: bool) -> str:
    """The CRS of a variable's grid: its CF grid_mapping, else lon/lat (WGS84) for degree axes."""
    mapping = str(variable.attrs.get("grid_mapping", variable.encoding.get("grid_mapping", ""))).strip()
    if mapping:
        name = mapping.split(":")[0].split()[0]
        if name not in ds.variables:
            raise NotAGrid(f"its grid_mapping '{name[:40]}' is not a variable of the file")
        attrs = dict(ds[name].attrs)
        try:
            crs = pyproj.CRS.from_wkt(attrs["crs_wkt"]) if "crs_wkt" in attrs else pyproj.CRS.from_cf(attrs)
        except (pyproj.exceptions.CRSError, KeyError, ValueError, TypeError) as exc:
            raise NotAGrid(f"its grid_mapping '{name[:40]}' is not a CRS PROJ understands ({exc})"[:200]) from None
        return canonical_crs(crs.to_wkt())
    if not geographic:
        raise NotAGrid("its x/y axes are not in degrees and it has no grid_mapping to say their CRS")
    return WGS84


def layout_of(ds: xr.Dataset, variable: xr.DataArray) -> GridLayout:
    """The north-up grid of a variable (NotAGrid says why there is none)."""
    dims = spatial_dims(ds, variable)
    if dims is None:
        raise NotAGrid("it has no pair of x/y (longitude/latitude or projected) dimensions")
    ydim, xdim = dims
    if ydim not in ds.variables or xdim not in ds.variables:
        raise NotAGrid("its x/y dimensions have no coordinate values (2-D latitude/longitude only is not supported)")
    xs, ys = np.asarray(ds[xdim].values, "float64"), np.asarray(ds[ydim].values, "float64")
    geographic = _attr(ds[xdim], "units").startswith("degree") or _attr(ds[xdim], "standard_name") == "longitude"
    crs = variable_crs(ds, variable, geographic)
    roll = 0
    if crs == WGS84 and xs.max() > 180:  # 0..360: the grid starts at the first longitude past -180
        wrapped = (xs + 180) % 360 - 180
        roll = int(np.argmin(wrapped))
        xs = np.roll(wrapped, -roll)
    dx, dy = _regular_step(xs, xdim), _regular_step(ys, ydim)
    if dx < 0:
        raise NotAGrid(f"the axis '{xdim}' decreases (an east-to-west grid is not supported)")
    flip = dy > 0
    top = (ys.max() if flip else ys[0]) + abs(dy) / 2
    transform = Affine(dx, 0.0, float(xs[0]) - dx / 2, 0.0, -abs(dy), float(top))
    if not all(math.isfinite(v) for v in transform[:6]):
        raise NotAGrid("its coordinates are not finite")
    return GridLayout(ydim, xdim, xs.size, ys.size, transform, crs, flip, roll)


def _time_text(value: object) -> str:
    """A time step as ISO 8601 text in UTC (a cftime date of any calendar, or numpy datetime64)."""
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s")) + "Z"
    strftime = getattr(value, "strftime", None)
    if strftime is None:
        raise NotAGrid("its time axis does not decode to dates")
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{strftime('%H:%M:%S')}Z"  # type: ignore[attr-defined]


def _vertical_default(values: np.ndarray, units: str) -> int:
    """The level nearest the surface: the highest pressure, else the smallest height or depth."""
    if units.strip().lower() in PRESSURE_UNITS:
        return int(np.argmax(values))
    return int(np.argmin(np.abs(values)))


def dimensions_of(ds: xr.Dataset, variable: xr.DataArray, layout: GridLayout) -> tuple[Dimension, ...]:
    """The variable's axes besides y and x, each with its steps and default."""
    found: list[Dimension] = []
    for dim in variable.dims:
        axis_name = str(dim)
        if axis_name in (layout.y, layout.x):
            continue
        size = int(variable.sizes[dim])
        if size > MAX_STEPS:
            raise NotAGrid(f"its axis '{axis_name}' has {size} steps; at most {MAX_STEPS}")
        kind = _axis_of(ds, axis_name)
        coord = ds[axis_name] if axis_name in ds.variables else None
        if kind == "t" and coord is not None and found_kind(found, TIME) is None:
            values = tuple(_time_text(v) for v in coord.values)
            calendar = str(coord.encoding.get("calendar", coord.attrs.get("calendar", "standard")))
            found.append(Dimension(TIME, axis_name, ISO8601, values, size - 1, calendar))
            continue
        if coord is not None and np.issubdtype(coord.dtype, np.number):
            numbers = np.asarray(coord.values, "float64")
            units = str(coord.attrs.get("units", ""))
            values = tuple(format_number(v) for v in numbers)
            if kind == "z" and found_kind(found, ELEVATION) is None:
                default = _vertical_default(numbers, units)
                found.append(Dimension(ELEVATION, axis_name, units, values, default))
                continue
            found.append(Dimension(_protocol_name(axis_name), axis_name, units, values, 0))
            continue
        found.append(Dimension(_protocol_name(axis_name), axis_name, "index", tuple(str(i) for i in range(size)), 0))
    names = [d.name for d in found]
    if len(set(names)) != len(names):
        raise NotAGrid(f"its axes {', '.join(names)} do not have distinct names")
    return tuple(found)


def found_kind(found: list[Dimension], name: str) -> Dimension | None:
    return next((d for d in found if d.name == name), None)


def _protocol_name(axis: str) -> str:
    """A source axis as the protocols name it (WMS asks for it as DIM_<NAME>, case-blind)."""
    name = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in axis).lower()
    if name in (TIME, ELEVATION):
        name = f"{name}_axis"
    return name or "axis"
