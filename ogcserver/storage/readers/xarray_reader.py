"""Read netCDF 3/4, HDF5 and Zarr variables through xarray, one 2-D slice at a time.

A variable is one source: its values decoded as CF says (scale_factor/add_offset, _FillValue
and missing_value, valid_range), on the north-up grid ``cf_grid.py`` derives. Reads are lazy:
only the hyperslab of the requested steps and window is read (the backends read just the
chunks under it), after its size is checked against the request's budget; the slice is then
warped onto the requested grid by GDAL's warper (as every other source), copied where the grid
is the source's own, or, for a nearest view wholly inside it, given the cells GDAL's nearest
warp would pick (``nearest.py``).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO

import h5netcdf
import h5py
import numpy as np
import pyproj
import rasterio.enums
import rasterio.warp
import xarray as xr
from affine import Affine

from ogcserver.model.budget import check_deadline, current_budget, holding
from ogcserver.model.catalog import BandStatistics, SourceInfo
from ogcserver.model.dimensions import Slice
from ogcserver.model.errors import SourceRefused, SourceUnavailable
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import WGS84, BBox, transform_bbox, transform_point
from ogcserver.model.image import Grid, Raster
from ogcserver.model.reduction import Running, StepReduction, running_bytes
from ogcserver.storage.readers.cf_grid import (
    GridLayout,
    NotAGrid,
    dimensions_of,
    is_coordinate_field,
    layout_of,
    spatial_dims,
    uncoordinated_axes,
    with_sibling_coordinates,
)
from ogcserver.storage.readers.multidim_vetting import check_multidim_source
from ogcserver.storage.readers.nearest import pick_nearest
from ogcserver.storage.readers.open_variables import HANDLE_BYTES, chunks_under, to_close
from ogcserver.storage.readers.read_cost import in_strips
from ogcserver.storage.readers.strided_reads import READ_BUFFER_BYTES, ReadBuffers, read_strided
from ogcserver.storage.readers.vetting import DEFAULT_RULES, HDF5, ZARR, SourceRules

log = logging.getLogger(__name__)

STEP_BLOCK_BYTES = 16 * 2**20  # read at most this much of a source in one read of several steps
STATISTICS_SIDE = 1024  # pixels a side of the sample behind a layer's default stretch
READ_MARGIN = 2  # source pixels read around a view, for resampling kernels
ATTRIBUTES = ("long_name", "standard_name", "units", "title", "comment", "source", "institution", "history")


@dataclass
class Opened:
    dataset: xr.Dataset
    variable: xr.DataArray
    layout: GridLayout
    # the variable's own HDF5 dataset, read directly (see ``raw_reader``); None: read through xarray
    hdf5: h5py.Dataset | None = None
    cache: int = 0  # bytes of the chunk cache kept between reads (that of ``hdf5``, when chunked)
    held: int = 0  # bytes the reads may have left in it: the chunks they touched, at most ``cache``

    @property
    def cost(self) -> int:
        """The memory this open variable holds, at most."""
        return HANDLE_BYTES + self.held

    def read(self, where: dict[str, int | slice], buffers: ReadBuffers | None = None) -> np.ndarray:
        """The decoded values of a selection by dimension (as ``isel`` takes it); a strided one
        read through ``buffers`` (see ``read_strided``)."""
        if self.hdf5 is None:
            return np.asarray(self.variable.isel(where).values)
        dims = self.variable.dims
        keys = [where.get(str(d), slice(None)) for d in dims]
        # strided slices are read whole, then strided (see ``read_strided``)
        whole = tuple(slice(k.start, k.stop) if isinstance(k, slice) else k for k in keys)
        raw = read_strided(self.hdf5, whole, tuple(slice(None, None, k.step) for k in keys if isinstance(k, slice)),
                           buffers)
        if self.cache and self.hdf5.chunks:
            touched = chunks_under(self.hdf5.shape, self.hdf5.chunks, whole) * math.prod(self.hdf5.chunks)
            self.held = min(self.cache, self.held + touched * self.hdf5.dtype.itemsize)
        kept = [d for d in dims if not isinstance(where.get(str(d)), int)]
        packed = xr.Variable(kept, np.asarray(raw), attrs=packing(self.variable))
        return np.asarray(xr.conventions.decode_cf_variable(
            self.variable.name, packed, mask_and_scale=True, decode_times=False, decode_timedelta=False).values)


def packing(variable: xr.DataArray) -> dict:
    """The CF attributes xarray decoded the variable's values with (moved into its encoding)."""
    return {k: variable.encoding[k] for k in ("_FillValue", "missing_value", "scale_factor", "add_offset",
                                              "_Unsigned") if k in variable.encoding}


def raw_reader(ds: xr.Dataset, name: str, data: xr.DataArray) -> h5py.Dataset | None:
    """The HDF5 dataset of a variable of a file opened with ``_open_hdf5``, when its dimensions
    are in the file's order. Reading it directly skips h5netcdf's per-read bookkeeping (it looks
    every dimension up again, about 10 ms a read, more than reading a tile); the values are
    decoded by xarray's CF decoding all the same."""
    h5file = ds.encoding.get("hdf5")
    if h5file is None or name not in h5file or data.dims != ds[name].dims:
        return None
    found = h5file[name]
    return found if isinstance(found, h5py.Dataset) and found.shape == data.shape else None


def _engine(path: str) -> str:
    """zarr for Zarr stores, h5netcdf for netCDF-4 and HDF5 files, netCDF4 for classic netCDF.

    h5netcdf (h5py's HDF5) rather than netCDF4-python for HDF5 files: with the latter, xarray
    crashed the process opening a file again after another handle of it was closed (the ABoVE
    file of the tests, with a string-typed grid mapping variable)."""
    fmt = check_multidim_source(path)
    if fmt is ZARR:
        return "zarr"
    with open(path, "rb") as handle:
        head = handle.read(len(HDF5.magic[0]))
    return "h5netcdf" if head == HDF5.magic[0] else "netcdf4"


def _open_hdf5(path: str, chunk_cache: int, options: dict) -> xr.Dataset:
    """A netCDF-4/HDF5 file through an HDF5 handle of our own, whose chunk cache is
    ``chunk_cache`` bytes a variable (the handle is the dataset's encoding's ``hdf5``). HDF5
    keeps a variable's chunk cache only while some handle of it is open, and h5netcdf opens a
    new one for every read: the reader holds its variable's (``raw_reader``), so a read of
    a step's chunk does not inflate it again."""
    h5file = h5py.File(path, "r", rdcc_nbytes=chunk_cache)
    try:
        store = xr.backends.H5NetCDFStore(h5netcdf.File(h5file, "r", phony_dims="sort"), mode="r")
        ds = xr.open_dataset(store, **options)
    except BaseException:
        h5file.close()
        raise

    def close() -> None:
        store.close()
        h5file.close()  # and every dataset of it still open

    ds.set_close(close)
    ds.encoding["chunk_cache"] = h5file.id.get_access_plist().get_cache()[2]  # as HDF5 took it
    ds.encoding["hdf5"] = h5file
    return ds


def open_dataset(path: str, chunk_cache: int | None = None) -> xr.Dataset:
    """The file, vetted, opened lazily with CF decoding (every calendar's dates as cftime).

    ``chunk_cache``: bytes of HDF5's chunk cache of each variable (netCDF-4 and HDF5 files;
    None: h5netcdf's default, and no variable held open)."""
    engine = _engine(path)
    options: dict = {"mask_and_scale": True, "cache": False, "chunks": None,
                     "decode_times": xr.coders.CFDatetimeCoder(use_cftime=True), "decode_timedelta": False}
    if engine == "h5netcdf" and chunk_cache is not None:
        try:
            return with_sibling_coordinates(_open_hdf5(path, chunk_cache, options))
        except Exception as exc:
            raise SourceUnavailable(f"source '{os.path.basename(path)}' cannot be read ({type(exc).__name__})") from exc
    options["engine"] = engine
    if engine == "h5netcdf":
        options["phony_dims"] = "sort"
    if engine == "zarr":  # consolidated metadata where the store has it (v2), else each array's own
        options["consolidated"] = os.path.isfile(os.path.join(path, ".zmetadata"))
    try:
        return with_sibling_coordinates(xr.open_dataset(path, **options))
    except SourceRefused:
        raise
    except Exception as exc:
        raise SourceUnavailable(f"source '{os.path.basename(path.rstrip('/'))}' cannot be read "
                                f"({type(exc).__name__})") from exc


def publishable_variables(path: str) -> tuple[list[str], dict[str, str]]:
    """The variables of a file with two spatial dimensions on a grid, and why each other
    data variable with some spatial dimension is left out."""
    with open_dataset(path) as ds:
        found, refused = [], {}
        for name in ds.data_vars:
            variable = ds[name]
            bare = uncoordinated_axes(ds, variable)  # two or more: a grid's axes (bounds have one: nv)
            if spatial_dims(ds, variable) is None and len(bare) >= 2:
                refused[str(name)] = (f"its dimensions {', '.join(bare)} have no coordinates (an HDF5 dataset "
                                      "without dimension scales needs 1-D 'lat' and 'lon' datasets of its lengths, "
                                      "one along each axis: a square grid's are ambiguous)")
                continue
            if spatial_dims(ds, variable) is None or is_coordinate_field(ds, str(name)):
                continue
            try:
                dimensions_of(ds, variable, layout_of(ds, variable))
            except NotAGrid as exc:
                refused[str(name)] = str(exc)
                continue
            if variable.dtype.kind not in "iuf":
                refused[str(name)] = f"its values are {variable.dtype}, not numbers"
                continue
            found.append(str(name))
        return found, refused


def _chunk_bytes(variable: xr.DataArray) -> int:
    """Bytes of one stored chunk (the unit a backend inflates to read any value of it)."""
    chunks = variable.encoding.get("chunksizes") or variable.encoding.get("chunks") or variable.encoding.get(
        "preferred_chunks")
    if isinstance(chunks, dict):
        chunks = tuple(chunks.values())
    sizes = tuple(chunks) if chunks else variable.shape
    return int(math.prod(int(c) for c in sizes) * variable.dtype.itemsize)


def compressed(variable: xr.DataArray) -> bool:
    """Whether the variable's chunks pass through a filter (zlib, szip, blosc, ...) when read."""
    return any(variable.encoding.get(k) for k in ("zlib", "szip", "bzip2", "blosc", "zstd", "compression"))


def chunk_cache_for(variable: xr.DataArray, configured: int) -> int:
    """HDF5's chunk cache for a variable. Compressed chunks: the configured size, so that the
    tiles of one step, which share the step's chunks, inflate each chunk once. Uncompressed
    chunks: none, so HDF5 copies only the cells asked from the file instead of every chunk under
    them whole (a point series over a year would otherwise read each step's whole chunk)."""
    return configured if compressed(variable) else 0


def decimation(window: tuple[int, int, int, int], grid: Grid) -> tuple[int, int]:
    """(rows, columns) of source cells per cell read for a view: how many source cells fit in
    one of the view's pixels along each axis (1 when the view is at the source's resolution or
    finer). A zoomed-out view is warped from this coarser grid, as GDAL warps from an overview."""
    row0, row1, col0, col1 = window
    return max(1, (row1 - row0) // grid.height), max(1, (col1 - col0) // grid.width)


def middles(start: int, stop: int, every: int) -> np.ndarray:
    """The middle index of each block of ``every`` indices from ``start`` to ``stop``; a last
    block too short to have one gives its last index."""
    picks = np.arange(start + every // 2, stop, every)
    blocks = -(-(stop - start) // every)
    return picks if picks.size == blocks else np.append(picks, stop - 1)


def runs(indices: np.ndarray) -> list[slice]:
    """Slices that read ``indices`` in their order: ascending runs of one step each."""
    found: list[slice] = []
    for part in np.split(indices, np.flatnonzero(np.diff(indices) <= 0) + 1):  # a rolled grid wraps once
        steps = np.diff(part)
        if part.size and (steps.size == 0 or (steps == steps[0]).all()):  # the usual case: one run
            found.append(slice(int(part[0]), int(part[-1]) + 1, int(steps[0]) if steps.size else 1))
            continue
        i = 0
        while i < part.size:
            j = i + 1
            step = int(part[j] - part[i]) if j < part.size else 1
            while j < part.size and part[j] - part[j - 1] == step:
                j += 1
            found.append(slice(int(part[i]), int(part[j - 1]) + 1, step))
            i = j
    return found


def block_mean(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The mean of the valid (non-NaN) values of each block of ``rows`` x ``cols`` cells from the
    first; the last blocks take the cells there are. NaN where a block has no valid value."""
    height, width = values.shape
    out_h, out_w = -(-height // rows), -(-width // cols)
    padded = np.full((out_h * rows, out_w * cols), np.nan, values.dtype)
    padded[:height, :width] = values
    blocks = padded.reshape(out_h, rows, out_w, cols)
    valid = ~np.isnan(blocks)
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, blocks, 0).sum(axis=(1, 3), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan).astype(values.dtype)


def _valid_range(variable: xr.DataArray) -> tuple[float, float]:
    """CF valid_range / valid_min / valid_max in decoded units (given in packed units when their
    type is the stored one, as CF says)."""
    attrs = variable.attrs
    low, high = -math.inf, math.inf
    if "valid_range" in attrs:
        low, high = (float(v) for v in np.asarray(attrs["valid_range"]).ravel()[:2])
    low = float(attrs.get("valid_min", low))
    high = float(attrs.get("valid_max", high))
    scale, offset = variable.encoding.get("scale_factor"), variable.encoding.get("add_offset")
    stored = variable.encoding.get("dtype")
    packed = attrs.get("valid_range", attrs.get("valid_min", attrs.get("valid_max")))
    if (scale is not None or offset is not None) and stored is not None and np.asarray(packed).dtype == stored:
        s, o = float(scale if scale is not None else 1), float(offset if offset is not None else 0)
        low, high = sorted((low * s + o, high * s + o))
    return low, high


@dataclass(frozen=True)
class ViewPlan:
    """How a view is read from a source's grid: the ``window`` (row0, row1, col0, col1) read,
    one cell of every ``every`` (rows, columns) kept, blocks of ``average`` cells averaged, then
    warped from ``transform`` (None: the window is the view's grid itself, copied)."""

    window: tuple[int, int, int, int]
    every: tuple[int, int]
    transform: Affine | None
    average: tuple[int, int]


def step_count(steps: Mapping[str, int | slice]) -> int:
    """How many steps a selection of the step axes spans."""
    count = 1
    for key in steps.values():
        if isinstance(key, slice):
            count *= len(range(key.start, key.stop, key.step or 1))
    return count


def step_blocks(wanted: Sequence[dict[str, int]], size: int) -> list[dict[str, int | slice]]:
    """The steps (an index per step axis each), in their order, as selections of at most
    ``size`` steps each: a run of consecutive steps along one axis is one slice. Steps apart
    are read one by one: HDF5 reads a strided selection of steps five times slower than the
    same steps one read each."""
    blocks: list[dict[str, int | slice]] = []
    i = 0
    while i < len(wanted):
        first, j, axis = wanted[i], i + 1, ""
        while j < len(wanted) and j - i < size:
            moved = [a for a in first if wanted[j][a] != wanted[j - 1][a]]
            if len(moved) != 1 or wanted[j][moved[0]] - wanted[j - 1][moved[0]] != 1 or axis not in ("", moved[0]):
                break
            axis, j = moved[0], j + 1
        where: dict[str, int | slice] = dict(first)
        if axis:
            where[axis] = slice(first[axis], wanted[j - 1][axis] + 1)
        blocks.append(where)
        i = j
    return blocks


def beyond_the_world(grid: Grid) -> np.ndarray:
    """Pixels of a projected grid past its CRS's world (x beyond +-20037508 m in Web Mercator):
    PROJ wraps their longitudes, so GDAL would draw a global grid there again; an image source
    shows nothing there. Found by the round trip: back to x, such a pixel lands a world away."""
    cols, rows = np.meshgrid(np.arange(grid.width) + 0.5, np.arange(grid.height) + 0.5)
    xs, ys = grid.transform * (cols, rows)
    inverse = pyproj.Transformer.from_crs(grid.crs, WGS84, always_xy=True)
    lon, lat = inverse.transform(xs, ys)
    x_again, _ = inverse.transform(lon, lat, direction=pyproj.enums.TransformDirection.INVERSE)
    return np.asarray(np.abs(x_again - xs) > abs(grid.transform.a))


class XarrayReader:
    """The storage reader for netCDF, HDF5 and Zarr variables (see the module's docstring)."""

    def __init__(self, max_open: int = 16, rules: SourceRules = DEFAULT_RULES,
                 chunk_cache: int = 16 * 2**20, memory: int = 256 * 2**20, read_buffer: int = READ_BUFFER_BYTES) -> None:
        self.max_open = max_open
        self.rules = rules
        self.chunk_cache = chunk_cache
        self.memory = memory  # what the open variables may hold together (handles and chunk caches)
        self._open: OrderedDict[tuple[int, str, str], Opened] = OrderedDict()
        self._lock = threading.Lock()
        self.buffers = ReadBuffers(read_buffer)  # each thread's buffer for strided reads

    # -- handles -------------------------------------------------------------------------------
    def _opened(self, path: str, variable: str) -> Opened:
        key = (os.getpid(), path, variable)
        with self._lock:
            found = self._open.get(key)
            if found is not None:
                self._open.move_to_end(key)
                self._close_beyond_bounds()
                return found
        ds = open_dataset(path, self.chunk_cache)
        try:
            if variable not in ds.data_vars:
                raise SourceRefused(os.path.basename(path.rstrip("/")), f"it has no variable '{variable[:60]}'")
            data = ds[variable]
            if chunk_cache_for(data, self.chunk_cache) != self.chunk_cache and _engine(path) == "h5netcdf":
                ds.close()  # the cache is set when a file is opened: again, with the variable's own
                ds = open_dataset(path, chunk_cache_for(data, self.chunk_cache))
                data = ds[variable]
            dims = spatial_dims(ds, data)
            layout = layout_of(ds, data)
            data = data.transpose(..., *dims) if dims and data.dims[-2:] != dims else data
            raw = raw_reader(ds, variable, data)
            cache = int(ds.encoding.get("chunk_cache", 0)) if raw is not None and raw.chunks else 0
            opened = Opened(ds, data, layout, raw, cache)
            # closed when the last reference goes: a variable dropped from the pool while another
            # thread still reads it stays open for that read
            weakref.finalize(opened, ds.close)
        except NotAGrid as exc:
            ds.close()
            raise SourceRefused(os.path.basename(path.rstrip("/")), f"variable '{variable}': {exc}") from None
        except Exception:
            ds.close()
            raise
        with self._lock:
            self._open[key] = opened
            self._close_beyond_bounds()
        return opened

    def _close_beyond_bounds(self) -> None:
        """Closes the least recently used variables beyond the count and memory bounds (the lock
        held); the one just used counts with its whole chunk cache, which its read may fill."""
        *others, (last, newest) = self._open.items()
        costs = [(k, o.cost) for k, o in others] + [(last, HANDLE_BYTES + newest.cache)]
        for key in to_close(costs, self.max_open, self.memory):
            del self._open[key]  # closed once no read holds it (the finalizer set in _opened)

    def forget_handles(self) -> None:
        with self._lock:
            self._open.clear()  # each closed once no read holds it; a parent's are not used after fork

    def release(self) -> None:
        """Nothing is held past a request: xarray keeps no decoded arrays (``cache=False``)."""

    # -- describing ----------------------------------------------------------------------------
    def vet(self, path: str) -> None:
        check_multidim_source(path)

    def describe(self, path: str, own: bool = False, variable: str = "") -> SourceInfo:
        """One variable of the file as a source; the only publishable variable when none is named."""
        name = os.path.basename(path.rstrip("/"))
        if not variable:
            found, refused = publishable_variables(path)
            if len(found) != 1:
                reasons = "; ".join(f"'{k}': {v}" for k, v in list(refused.items())[:4])
                problem = ("a multidimensional file of no variable on a grid" if not found else
                           f"a multidimensional file of {len(found)} publishable variables: name one as the "
                           "layer's 'variable'")
                raise SourceRefused(name, problem + (f" (left out: {reasons})" if reasons else ""))
            variable = found[0]
        self.forget_path(path)
        opened = self._opened(path, variable)
        data, layout = opened.variable, opened.layout
        if data.dtype.kind not in "iuf":
            raise SourceRefused(name, f"variable '{variable}' holds {data.dtype}, not numbers")
        if max(layout.width, layout.height) > self.rules.max_side:
            raise SourceRefused(name, f"variable '{variable}' is {layout.width} x {layout.height} cells; at most "
                                      f"{self.rules.max_side} a side (settings: sources.max_side)")
        chunk = _chunk_bytes(data)
        if chunk > self.rules.max_block_bytes:
            raise SourceRefused(name, f"variable '{variable}' is stored in chunks of {chunk >> 20} MiB; at most "
                                      f"{self.rules.max_block_bytes >> 20} MiB (settings: sources.max_block_bytes)")
        try:
            dimensions = dimensions_of(opened.dataset, data, layout)
        except NotAGrid as exc:
            raise SourceRefused(name, f"variable '{variable}': {exc}") from None
        t = layout.transform
        bounds = BBox(t.c, t.f + t.e * layout.height, t.c + t.a * layout.width, t.f, layout.crs)
        attributes = {k: str(data.attrs[k]) for k in ATTRIBUTES if k in data.attrs and len(str(data.attrs[k])) < 256}
        return SourceInfo(
            path=path, crs=layout.crs, bounds=bounds, width=layout.width, height=layout.height, count=1,
            dtype=np.result_type(data.dtype, np.float32).name, nodata=math.nan, band_names=(variable,),
            acquired=None, attributes=attributes, variable=variable, dimensions=dimensions,
            units=str(data.attrs.get("units", ""))[:64],
        )

    def forget_path(self, path: str) -> None:
        with self._lock:
            for key in [k for k in self._open if k[1] == path]:
                del self._open[key]  # closed once no read holds it

    def footprint(self, source: SourceInfo) -> dict | None:
        """Lon/lat grids: their box within the globe (cell centres on the poles or at -180 put
        the grid's edges half a cell beyond); projected grids: None (the extent)."""
        if source.crs != WGS84:
            return None
        b = source.bounds
        west, south, east, north = max(b.minx, -180.0), max(b.miny, -90.0), min(b.maxx, 180.0), min(b.maxy, 90.0)
        if west >= east or south >= north:
            raise SourceUnavailable(f"source '{os.path.basename(source.path)}' lies outside the globe")
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        return {"type": "Polygon", "coordinates": [ring]}

    def original(self, source: SourceInfo) -> tuple[BinaryIO, int]:
        if os.path.isdir(source.path):
            raise SourceUnavailable(f"source '{os.path.basename(source.path.rstrip('/'))}' is a directory store")
        handle = open(source.path, "rb")  # noqa: SIM115 - the caller streams and closes it
        return handle, os.fstat(handle.fileno()).st_size

    # -- reading -------------------------------------------------------------------------------
    def _steps(self, source: SourceInfo, opened: Opened) -> dict[str, int]:
        """The index of every non-spatial axis: the slice's, else each dimension's default."""
        chosen = dict(source.slice.steps)
        steps = {d.axis: chosen.get(d.axis, d.default) for d in source.dimensions}
        for dim in opened.variable.dims[:-2]:
            steps.setdefault(str(dim), 0)
        return steps

    def _window(self, layout: GridLayout, grid: Grid) -> tuple[int, int, int, int] | None:
        """(row0, row1, col0, col1) of the source's grid under the view, with a margin."""
        whole = Grid(layout.crs, layout.transform, layout.width, layout.height)
        try:
            box = transform_bbox(grid.bbox, layout.crs)
        except Exception:  # noqa: BLE001 - not expressible in the source's CRS: the whole grid
            return 0, layout.height, 0, layout.width
        if not box.is_valid() or not all(math.isfinite(v) for v in box.as_tuple()):
            return 0, layout.height, 0, layout.width
        return whole.window_of(box, margin=READ_MARGIN)

    def _values(self, opened: Opened, steps: Mapping[str, int | slice], window: tuple[int, int, int, int],
                every: tuple[int, int] = (1, 1)) -> np.ndarray:
        """Decoded values of a window of the north-up grid, NaN where there is no valid value;
        with ``every`` (rows, columns), only the middle cell of each block of that many. A step
        axis given as a slice adds a leading axis (several steps in one read)."""
        layout, data = opened.layout, opened.variable
        row0, row1, col0, col1 = window
        dtype = np.result_type(data.dtype, np.float32)
        rows, cols = middles(row0, row1, every[0]), middles(col0, col1, every[1])
        budget = current_budget()
        if budget is not None:
            budget.check_read(f"variable '{data.name}' at this scale",
                              step_count(steps) * (row1 - row0) * (col1 - col0) * dtype.itemsize * 2)
        file_rows = layout.height - 1 - rows[::-1] if layout.flip else rows  # ascending either way
        file_cols = (cols + layout.roll) % layout.width  # in the grid's order: one or two ascending runs
        try:
            values = np.block([[np.asarray(opened.read({**steps, layout.y: r, layout.x: c}, self.buffers), dtype)
                                for c in runs(file_cols)] for r in runs(file_rows)])
        except Exception as exc:
            raise SourceUnavailable(f"source '{os.path.basename(opened.dataset.encoding.get('source', '') or '')}' "
                                    f"cannot be read: its data is damaged") from exc
        if layout.flip:
            values = values[..., ::-1, :]
        low, high = _valid_range(data)
        if math.isfinite(low) or math.isfinite(high):
            values = np.where((values < low) | (values > high), np.nan, values).astype(dtype, copy=False)
        return np.ascontiguousarray(values)

    @staticmethod
    def _aligned(layout: GridLayout, grid: Grid) -> tuple[int, int, int, int] | None:
        """The window of the source's grid that is the view's grid itself (same CRS, cell size
        and cell edges, inside the source), which is copied rather than warped; else None."""
        t, g = layout.transform, grid.transform
        if grid.crs != layout.crs or g.b or g.d or t.b or t.d:
            return None
        if not (math.isclose(g.a, t.a, rel_tol=1e-9) and math.isclose(g.e, t.e, rel_tol=1e-9)):
            return None
        col, row = (g.c - t.c) / t.a, (g.f - t.f) / t.e
        col0, row0 = round(col), round(row)
        if abs(col - col0) > 1e-6 or abs(row - row0) > 1e-6:
            return None
        if col0 < 0 or row0 < 0 or col0 + grid.width > layout.width or row0 + grid.height > layout.height:
            return None
        return row0, row0 + grid.height, col0, col0 + grid.width

    def _plan(self, layout: GridLayout, grid: Grid, resampling: Resampling) -> ViewPlan | None:
        """What to read of the source for a view and how to bring it onto the view's grid; None
        when the view lies off the source. A zoomed-out view reads blocks of source cells (the
        nearest resampling only each block's middle cell, so classes stay classes; the others
        every cell, averaged), as GDAL warps from an overview."""
        aligned = self._aligned(layout, grid)
        if aligned is not None:
            return ViewPlan(aligned, (1, 1), None, (1, 1))
        window = self._window(layout, grid)
        if window is None:
            return None
        rows, cols = decimation(window, grid)
        row0, row1, col0, col1 = window
        row0, col0 = row0 - row0 % rows, col0 - col0 % cols  # blocks start on the source grid's multiples
        transform = layout.transform @ Affine.translation(col0, row0) @ Affine.scale(cols, rows)
        if resampling is Resampling.NEAREST:
            return ViewPlan((row0, row1, col0, col1), (rows, cols), transform, (1, 1))
        return ViewPlan((row0, row1, col0, col1), (1, 1), transform, (rows, cols))

    @staticmethod
    def _placed(values: np.ndarray, plan: ViewPlan, layout: GridLayout, grid: Grid,
                resampling: Resampling) -> np.ndarray:
        """One step's values read as ``plan`` says, on the view's grid (NaN where none)."""
        if plan.transform is None:
            return values
        if plan.average != (1, 1):
            values = block_mean(values, *plan.average)
        if resampling is Resampling.NEAREST:
            picked = pick_nearest(values, plan.transform, layout.crs, grid)
            if picked is not None:
                return picked

        def warp(r0: int, r1: int) -> np.ndarray:
            part = np.full((r1 - r0, grid.width), np.nan, values.dtype)
            rasterio.warp.reproject(
                values, part, src_transform=plan.transform, src_crs=layout.crs, src_nodata=np.nan,
                dst_transform=grid.transform @ Affine.translation(0, r0), dst_crs=grid.crs, dst_nodata=np.nan,
                resampling=rasterio.enums.Resampling[resampling.value], init_dest_nodata=True)
            return part[None]

        out = in_strips(grid.height, grid.width, warp)[0]
        if grid.crs != WGS84 and layout.crs == WGS84 and layout.width * layout.transform.a >= 359.0:
            out[beyond_the_world(grid)] = np.nan
        return out

    @staticmethod
    def _raster(out: np.ndarray, source: SourceInfo, grid: Grid, bands: Sequence[int]) -> Raster | None:
        valid = ~np.isnan(out)
        if not valid.any():
            return None
        data = np.repeat(out[None], len(bands), axis=0) if len(bands) > 1 else out[None]
        return Raster(data, valid, grid, tuple(source.band_names[0] for _ in bands))

    def read(self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling) -> Raster | None:
        opened = self._opened(source.path, source.variable)
        plan = self._plan(opened.layout, grid, resampling)
        if plan is None:
            return None
        values = self._values(opened, self._steps(source, opened), plan.window, plan.every)
        return self._raster(self._placed(values, plan, opened.layout, grid, resampling), source, grid, bands)

    def reduce(self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling,
               reduction: StepReduction) -> Raster | None:
        """The statistic of the steps, read in blocks of steps (one hyperslab each, at most
        ``STEP_BLOCK_BYTES``), not a read a step. Where bringing a step onto the view is a copy
        (the view is the source's grid, or nearest resampling) the steps are reduced on the
        source's cells and the result is warped once: the same values as reducing the warped
        steps, as the warp only picks cells. Other resamplings warp each step first, as a read
        of each would (averaging before a bilinear warp would weigh the cells differently
        where steps have no value)."""
        opened = self._opened(source.path, source.variable)
        layout, data = opened.layout, opened.variable
        plan = self._plan(layout, grid, resampling)
        if plan is None:
            return None
        row0, row1, col0, col1 = plan.window
        height, width = len(middles(row0, row1, plan.every[0])), len(middles(col0, col1, plan.every[1]))
        early = plan.transform is None or resampling is Resampling.NEAREST  # reduce, then place
        on = Grid(layout.crs, layout.transform, width, height) if early else grid
        running = Running(reduction.statistic, on)
        step_bytes = (row1 - row0) * (col1 - col0) * np.result_type(data.dtype, np.float32).itemsize
        block = max(1, STEP_BLOCK_BYTES // step_bytes)
        wanted = [self._steps(replace(source, slice=step), opened) for step in reduction.steps]
        with holding(f"the {reduction.statistic} of {len(wanted)} steps of variable '{data.name}'",
                     running_bytes(reduction.statistic, on, 1) + min(block, len(wanted)) * step_bytes):
            for where in step_blocks(wanted, block):
                check_deadline()
                # added in a call of its own, so that nothing holds the block when the next is read
                self._add_steps(running, self._values(opened, where, plan.window, plan.every).reshape(-1, height, width),
                                None if early else (plan, layout, grid, resampling))
        reduced = running.result()
        if reduced is None:
            return None
        out = self._placed(reduced.data[0], plan, layout, grid, resampling) if early else reduced.data[0]
        return self._raster(out, source, grid, bands)

    def _add_steps(self, running: Running, block: np.ndarray,
                   placing: tuple[ViewPlan, GridLayout, Grid, Resampling] | None) -> None:
        """Each step of a block into the running statistic: as read, or placed on the view first."""
        for plane in block:
            out = plane if placing is None else self._placed(plane, *placing)
            running.add(Raster(out[None], ~np.isnan(out), running.grid))

    @staticmethod
    def _cell(layout: GridLayout, x: float, y: float, crs: str) -> tuple[int, int] | None:
        """(row, col) of the north-up grid's cell under a point; None off the grid."""
        sx, sy = transform_point(x, y, crs, layout.crs)
        if not (math.isfinite(sx) and math.isfinite(sy)):
            return None
        col, row = (math.floor(v) for v in ~layout.transform @ (sx, sy))
        if not (0 <= row < layout.height and 0 <= col < layout.width):
            return None
        return row, col

    def sample(self, source: SourceInfo, x: float, y: float, crs: str) -> list[float] | None:
        opened = self._opened(source.path, source.variable)
        cell = self._cell(opened.layout, x, y, crs)
        if cell is None:
            return None
        row, col = cell
        value = float(self._values(opened, self._steps(source, opened), (row, row + 1, col, col + 1))[0, 0])
        return None if math.isnan(value) else [value]

    def series(self, source: SourceInfo, x: float, y: float, crs: str, steps: Sequence[Slice]) -> list[float] | None:
        """The values of one cell at each step, from one read of the cell's column over the
        span of steps asked (the backend reads each chunk under it once), not one read a step."""
        opened = self._opened(source.path, source.variable)
        layout, data = opened.layout, opened.variable
        cell = self._cell(layout, x, y, crs)
        if cell is None:
            return None
        row, col = cell
        wanted = [self._steps(replace(source, slice=step), opened) for step in steps]
        axes = [str(d) for d in data.dims[:-2]]
        spans = {a: (min(w[a] for w in wanted), max(w[a] for w in wanted) + 1) for a in axes}
        budget = current_budget()
        if budget is not None:
            cells = math.prod(high - low for low, high in spans.values())
            budget.check_read(f"variable '{data.name}' at one point", cells * data.dtype.itemsize * 2)
        where = {**{a: slice(low, high) for a, (low, high) in spans.items()},
                 layout.y: layout.rows(row, row + 1).start, layout.x: layout.column_runs(col, col + 1)[0].start}
        try:
            column = np.asarray(opened.read(where), np.result_type(data.dtype, np.float32))
        except Exception as exc:
            raise SourceUnavailable(f"source '{os.path.basename(source.path.rstrip('/'))}' cannot be read: "
                                    f"its data is damaged") from exc
        low, high = _valid_range(data)
        column = np.where((column < low) | (column > high), np.nan, column)
        return [float(column[tuple(w[a] - spans[a][0] for a in axes)]) for w in wanted]

    def statistics(self, source: SourceInfo, bands: Sequence[int]) -> tuple[BandStatistics, ...]:
        """Percentiles of the default step, from every n-th cell (about 1024 a side)."""
        opened = self._opened(source.path, source.variable)
        layout, data = opened.layout, opened.variable
        step = max(1, math.ceil(max(layout.width, layout.height) / STATISTICS_SIDE))
        try:
            sample = np.asarray(data.isel({**self._steps(source, opened), layout.y: slice(None, None, step),
                                           layout.x: slice(None, None, step)}).values, "float64")
        except Exception as exc:
            raise SourceUnavailable(f"source '{os.path.basename(source.path)}' cannot be read") from exc
        low_valid, high_valid = _valid_range(data)
        sample = sample[np.isfinite(sample) & (sample >= low_valid) & (sample <= high_valid)]
        if sample.size == 0:
            return tuple(BandStatistics(0.0, 1.0, 0.0, 1.0) for _ in bands)
        low, high = np.percentile(sample, [2, 98])
        stats = BandStatistics(float(sample.min()), float(sample.max()), float(low), float(high))
        return tuple(stats for _ in bands)
