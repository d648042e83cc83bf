"""Read and warp rasters with rasterio/GDAL: the one read primitive behind every request.

Datasets stay open in a bounded per-process pool (GDAL handles must not cross ``fork``), and a
read opens the overview level whose resolution is the coarsest still finer than the request,
because GDAL's warp API does not choose overviews on its own.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import BinaryIO

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.enums import ColorInterp
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from ogcserver.model.band_files import parse_stack_path
from ogcserver.model.catalog import BandStatistics, SourceInfo
from ogcserver.model.dimensions import Slice
from ogcserver.model.errors import SourceRefused, SourceUnavailable
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox, canonical_crs, transform_point
from ogcserver.model.image import Grid, Raster
from ogcserver.model.labels import unique_names
from ogcserver.model.reduction import Running, StepReduction
from ogcserver.model.timing import phase
from ogcserver.storage.readers import remote
from ogcserver.storage.readers.band_stack import mtl_fields, mtl_scaling, open_members, scene_time
from ogcserver.storage.readers.footprints import NoValidPixel, valid_footprint
from ogcserver.storage.readers.georeferencing import (
    by_ground_model,
    pixel_at,
    placement,
    warp_by_model,
)
from ogcserver.storage.readers.process_memory import trim_heap
from ogcserver.storage.readers.read_cost import (
    BIG_BLOCK_BYTES,
    CHUNK_PIXELS,
    block_bytes,
    check_blocks,
    check_window,
    in_strips,
)
from ogcserver.storage.readers.scene_archive import scene_archive
from ogcserver.storage.readers.vetting import (
    DEFAULT_RULES,
    EXTENSIONS,
    SourceRules,
    check_dataset,
    check_source,
    open_source,
)

log = logging.getLogger(__name__)

ALLOWED_DRIVERS = tuple(dict.fromkeys(f.driver for f in EXTENSIONS.values()))
DATE_TAGS = ("ACQUISITIONDATETIME", "ACQUISITION_DATE", "DATETIME", "time_start", "TIFFTAG_DATETIME")
FILENAME_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")


def parse_datetime(text: str) -> datetime | None:
    """Acquisition times as GDAL tags and file names write them."""
    text = text.strip()
    if re.match(r"^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}$", text):
        return datetime.strptime(text, "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def acquisition_time(tags: dict[str, str], filename: str) -> datetime | None:
    for key in DATE_TAGS:
        if key in tags and (value := parse_datetime(tags[key])):
            return value
    m = FILENAME_DATE.search(filename)
    if m:
        try:
            return datetime.strptime("".join(m.groups()), "%Y%m%d").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


_LOGGED: set[tuple[str, str]] = set()


def log_refusal(path: str, reason: str) -> None:
    """Say once per process why a registered file is refused when opened (it changed since)."""
    if (path, reason) not in _LOGGED:
        if len(_LOGGED) > 10_000:
            _LOGGED.clear()
        _LOGGED.add((path, reason))
        log.warning("source refused", extra={"path": path, "reason": reason})


def open_checked(path: str, level: int = -1, pinned: bool = False, rules: SourceRules = DEFAULT_RULES
                 ) -> rasterio.DatasetReader:
    """Open a raster (or one of its overviews) whose path, format and, for a VRT, sources pass
    the checks of ``vetting.py`` (SourceRefused says why not), with its format's driver alone.

    ``pinned``: that level alone, so that a decimated read cannot switch to a coarser overview
    behind the reader's back (GDAL would from about 1.7x); the reader chooses the level itself.
    """
    if pinned:
        kwargs: dict = {"OVERVIEW_LEVEL": "NONE" if level < 0 else f"{level}only"}
    else:
        kwargs = {"overview_level": level} if level >= 0 else {}
    try:
        ds = open_source(path, rules, **kwargs)
    except (RasterioIOError, RasterioError) as exc:
        raise SourceUnavailable(f"source '{os.path.basename(path)}' cannot be read") from exc
    if ds.driver not in ALLOWED_DRIVERS:
        ds.close()
        raise SourceUnavailable(f"source '{os.path.basename(path)}' has a driver that is not allowed")
    return ds


def shared_units(band_units: tuple[str | None, ...]) -> str:
    """The unit type GDAL gives the bands (``metre``, ``K``...), when those that have one agree:
    a layer names one unit for its values (legends, GetFeatureInfo); bands that disagree, none."""
    named = {u.strip() for u in band_units if u and u.strip()}
    return named.pop()[:64] if len(named) == 1 else ""


def band_scaling(scales: Sequence[float], offsets: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The bands' scales and offsets (GDAL's band metadata), both empty when every band's are 1 and 0."""
    identity = all(s == 1 for s in scales) and all(o == 0 for o in offsets)
    return ((), ()) if identity else (tuple(map(float, scales)), tuple(map(float, offsets)))


def palette(ds: rasterio.DatasetReader) -> tuple[tuple[int, int, int, int], ...] | None:
    """Band 1's colour table as 256 RGBA entries, for 8-bit classified rasters."""
    if ds.dtypes[0] != "uint8" or ds.colorinterp[0] is not ColorInterp.palette:
        return None
    try:
        table = ds.colormap(1)
    except ValueError:
        return None
    entries = (table.get(i, (0, 0, 0, 0)) for i in range(256))
    return tuple((int(r), int(g), int(b), int(a)) for r, g, b, a in entries)


MEANINGFUL_COLORS = {"red", "green", "blue", "alpha"}


def band_names(ds: rasterio.DatasetReader) -> tuple[str, ...]:
    """Descriptions where set, else colour names that say something, else band_N; unique."""
    return unique_names(
        description or (interp.name if interp.name in MEANINGFUL_COLORS else f"band_{i}")
        for i, (description, interp) in enumerate(zip(ds.descriptions, ds.colorinterp), start=1)
    )


def inner_window(ds: rasterio.DatasetReader, grid: Grid) -> Window | None:
    """The (fractional) window of ``ds`` a north-up grid in its CRS covers, if wholly inside it."""
    t, g = ds.transform, grid.transform
    if t.b or t.d or g.b or g.d or t.e >= 0 or g.e >= 0:
        return None
    col, row = ~t * (g.c, g.f)
    width, height = grid.width * g.a / t.a, grid.height * g.e / t.e
    eps = 1e-6
    if col < -eps or row < -eps or col + width > ds.width + eps or row + height > ds.height + eps:
        return None
    return Window(max(col, 0.0), max(row, 0.0), min(width, ds.width), min(height, ds.height))


# what reading a broken block raises (IndexError: a file replaced by one with fewer bands)
READ_ERRORS = (RasterioError, CPLE_BaseError, ValueError, IndexError)


def unreadable(path: str) -> SourceUnavailable:
    return SourceUnavailable(f"source '{os.path.basename(path)}' cannot be read: its data is damaged")


class DatasetPool:
    """Bounded LRUs of open datasets keyed by (path, overview level): one per thread, because a
    GDAL dataset handle must not be used by two threads at once, and reset after fork."""

    def __init__(self, max_open: int, rules: SourceRules = DEFAULT_RULES) -> None:
        self.max_open = max_open
        self.rules = rules
        self._local = threading.local()
        self._all: list[OrderedDict] = []  # every thread's pool, for forget/close_all
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _mine(self) -> OrderedDict:
        if self._pid != os.getpid():
            with self._lock:  # inherited handles belong to the parent process
                self._all, self._pid = [], os.getpid()
                self._local = threading.local()
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = OrderedDict()
            with self._lock:
                self._all.append(pool)
        return pool

    def get(self, path: str, level: int = -1) -> rasterio.DatasetReader:
        pool = self._mine()
        key = (path, level)
        ds = pool.get(key)
        if ds is not None:
            pool.move_to_end(key)
            return ds
        try:
            ds = pool[key] = open_checked(path, level, pinned=True, rules=self.rules)
        except SourceRefused as exc:  # changed since it was registered
            log_refusal(path, exc.reason)
            raise
        while len(pool) > self.max_open:
            pool.popitem(last=False)[1].close()
        return ds

    def close_all(self) -> None:
        """Close every handle, e.g. in a parent process before it forks workers."""
        with self._lock:
            for pool in self._all:
                while pool:
                    pool.popitem()[1].close()

    def close_big_blocks(self) -> None:
        """Close this thread's handles whose blocks are big: GDAL and libtiff keep a block-sized
        buffer per handle, which would otherwise stay after the request that needed it."""
        pool = self._mine()
        for key in [k for k, ds in pool.items() if block_bytes(ds)[0] > BIG_BLOCK_BYTES]:
            pool.pop(key).close()

    def forget(self, path: str | None = None) -> None:
        """Drop handles of a file that changed, or of every file (another thread's are dropped,
        not closed: that thread may be reading from them)."""
        if path is None:
            remote.forget_all()
        else:
            remote.forget(path)
        with self._lock:
            for pool in self._all:
                for key in [k for k in pool if path is None or k[0] == path]:
                    ds = pool.pop(key)
                    if pool is getattr(self._local, "pool", None):
                        ds.close()


class RasterioReader:
    """The storage reader for local rasters GDAL can open."""

    def __init__(self, max_open: int = 64, tolerance: float = 1e-3, rules: SourceRules = DEFAULT_RULES,
                 max_block_bytes: int = 256 << 20) -> None:
        self.rules = rules
        self.pool = DatasetPool(max_open, rules)
        # blocks above this are never inflated; a request's own budget, when there is one, rules
        self.max_block_bytes = max_block_bytes
        # Error allowed to GDAL's approximate transformer, in output pixels. GDAL's default
        # (0.125) is fitted over whatever window is warped, so a nearest-neighbour pick near a
        # pixel edge would depend on how a view is split between mosaic items or tiles.
        self.tolerance = tolerance
        self._factors: dict[str, tuple[int, ...]] = {}

    def forget_handles(self) -> None:
        self.pool.forget()

    def describe(self, path: str, own: bool = False, variable: str = "") -> SourceInfo:
        """Read a file's description afresh: it is new or has changed, so drop old handles.

        A file to publish must be within the configured limits (SourceRefused says why not);
        ``own``: a file the server wrote itself (a mosaic overview level), exempt from them.
        """
        if variable:
            raise SourceRefused(os.path.basename(path), f"it has no variables (a variable, '{variable[:40]}', "
                                                        "applies to netCDF, HDF5 and Zarr sources)")
        self.pool.forget(path)
        if not own and (stack := parse_stack_path(path)) is not None:
            for member in open_members(stack, self.rules):  # each band file checked as a file of its own
                member.close()
        with open_checked(path, rules=self.rules) as ds:
            if not own:
                check_dataset(ds, path, self.rules)
            return self._describe(path, ds)

    def vet(self, path: str) -> None:
        """Refuse a file described by metadata alone (never opened at ingest) as ``describe`` would
        before opening it: its path, its format and, for a VRT, its sources."""
        check_source(path, self.rules)

    def original(self, source: SourceInfo) -> tuple[BinaryIO, int]:
        """The source file itself, opened for reading, and its size (item downloads); a scene of
        one file per band: its files in a zip (scene_archive.py)."""
        if (stack := parse_stack_path(source.path)) is not None:
            check_source(source.path, self.rules)
            return scene_archive(stack)
        try:
            handle = open(source.path, "rb")  # noqa: SIM115 - the caller streams and closes it
            return handle, os.fstat(handle.fileno()).st_size
        except OSError as exc:
            raise SourceUnavailable(f"source '{os.path.basename(source.path)}' cannot be read") from exc

    def footprint(self, source: SourceInfo) -> dict | None:
        """The valid-data outline in lon/lat (see footprints.py); None: use the extent."""
        name = os.path.basename(source.path)
        try:
            with open_checked(source.path, rules=self.rules) as ds:
                if by_ground_model(ds):
                    if ds.rpcs is not None and not ds.gcps[0]:
                        return None  # GDAL's default warped VRT does not take RPCs: the extent
                    with WarpedVRT(ds, tolerance=self.tolerance) as vrt:  # as gdalwarp maps it
                        return valid_footprint(vrt)
                return valid_footprint(ds)
        except NoValidPixel:
            raise SourceUnavailable(f"source '{name}' has no valid pixel") from None
        except (RasterioError, ValueError) as exc:
            raise SourceUnavailable(f"the valid area of '{name}' cannot be read") from exc

    def _describe(self, path: str, ds: rasterio.DatasetReader) -> SourceInfo:
        modelled = by_ground_model(ds)
        if modelled:  # published on the grid gdalwarp gives it, in the GCPs' CRS or lon/lat
            place = placement(ds)
            crs, bounds, width, height = place.crs, place.bounds, place.width, place.height
        elif ds.crs is None:
            raise SourceUnavailable(f"source '{os.path.basename(path)}' has no CRS")
        else:
            crs = canonical_crs(ds.crs.to_wkt())
            b = ds.bounds
            bounds, width, height = BBox(b.left, b.bottom, b.right, b.top, crs), ds.width, ds.height
        tags = ds.tags()
        names = band_names(ds)
        stack = parse_stack_path(path)  # a scene of band files: its MTL's factors and time, the files having none
        fields = mtl_fields(stack) if stack is not None else {}
        scales, offsets = band_scaling(*(mtl_scaling(stack, fields) if stack is not None else (ds.scales, ds.offsets)))
        return SourceInfo(
            path=path,
            crs=crs,
            bounds=bounds,
            width=width,
            height=height,
            count=ds.count,
            dtype=ds.dtypes[0],
            nodata=ds.nodata,
            band_names=names,
            acquired=(scene_time(stack, fields) if stack is not None else None)
            or acquisition_time(tags, os.path.basename(path)),
            overview_factors=tuple(ds.overviews(1)),
            attributes={k: v for k, v in tags.items() if len(v) < 256},
            alpha_band=next(
                (i for i, ci in enumerate(ds.colorinterp, start=1) if ci is ColorInterp.alpha), None
            ),
            palette=palette(ds),
            units=shared_units(ds.units),
            scales=scales,
            offsets=offsets,
            placed_by_model=modelled,
        )

    def _plan(self, source: SourceInfo, grid: Grid) -> tuple[int, tuple[float, float] | None]:
        """Overview level to read (-1: full resolution) and the output/source pixel-size ratio.

        The level is the coarsest overview still at least as fine as the output. The ratio is
        handed to the warper (XSCALE/YSCALE) because GDAL otherwise derives it per chunk from the
        part of the output the source covers, which gives items of one mosaic different
        resampling kernels, and so visible differences, along their borders.
        """
        need = grid.pixel_size_in(source.crs)
        if need is None:
            return -1, None
        need_x, need_y = need
        native_x, native_y = source.resolution
        level, factor = -1, 1
        for i, f in enumerate(source.overview_factors or self._overviews(source.path)):
            if native_x * f <= need_x * 1.0001 and native_y * f <= need_y * 1.0001:
                level, factor = i, f
        return level, (native_x * factor / need_x, native_y * factor / need_y)

    def _overviews(self, path: str) -> tuple[int, ...]:
        """Overview factors of an item ingested from metadata alone (not known to the catalog)."""
        factors = self._factors.get(path)
        if factors is None:
            if len(self._factors) > 100_000:
                self._factors.clear()
            factors = self._factors[path] = tuple(self.pool.get(path).overviews(1))
        return factors

    def _open_for_read(self, source: SourceInfo, level: int = -1) -> rasterio.DatasetReader:
        """A pooled handle, once its blocks are known to fit the budget."""
        ds = self.pool.get(source.path, level)
        check_blocks(ds, os.path.basename(source.path), self.max_block_bytes)
        return ds

    def release(self) -> None:
        """After a request: close big-block handles and hand freed heap pages back (a worker
        otherwise settles about 30 MB higher under a mixed load; a trim costs microseconds)."""
        self.pool.close_big_blocks()
        trim_heap()

    def read(
        self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling
    ) -> Raster | None:
        with phase("read"):
            level, scale = self._plan(source, grid)
            ds = self._open_for_read(source, level)
            check_window(ds, grid, source.crs, len(bands) + 1, os.path.basename(source.path),
                         source.placed_by_model)
            if source.placed_by_model:
                return self._read_by_model(ds, source, grid, bands, resampling)
            window = inner_window(ds, grid) if resampling is Resampling.NEAREST and grid.crs == source.crs else None
            if window is not None:
                return self._read_window(ds, window, source, grid, bands)
        options: dict = {}
        if scale is not None and resampling is not Resampling.NEAREST:
            options = {"XSCALE": f"{scale[0]:.9g}", "YSCALE": f"{scale[1]:.9g}"}
        if source.alpha_band:  # the source's alpha becomes the output's validity band
            options.update(src_alpha=source.alpha_band, dst_alpha=source.alpha_band)
        else:
            options.update(add_alpha=True)
        try:
            with phase("warp"), WarpedVRT(
                ds,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.width,
                height=grid.height,
                resampling=rasterio.enums.Resampling[resampling.value],
                tolerance=self.tolerance,
                **options,
            ) as vrt:
                indexes = [*bands, source.alpha_band or vrt.count]
                out = in_strips(grid.height, grid.width,
                                lambda r0, r1: vrt.read(indexes, window=Window(0, r0, grid.width, r1 - r0)))
        except READ_ERRORS as exc:
            raise unreadable(source.path) from exc
        valid = out[-1] > 0
        if not valid.any():
            return None
        return Raster(out[:-1], valid, grid, tuple(source.band_names[b - 1] for b in bands))

    @staticmethod
    def _read_by_model(ds: rasterio.DatasetReader, source: SourceInfo, grid: Grid, bands: Sequence[int],
                      resampling: Resampling) -> Raster | None:
        try:
            with phase("warp"):
                data, valid = warp_by_model(ds, source.crs, grid, bands, resampling,
                                           max(1, CHUNK_PIXELS // max(grid.width, 1)))
        except READ_ERRORS as exc:
            raise unreadable(source.path) from exc
        if not valid.any():
            return None
        return Raster(data, valid, grid, tuple(source.band_names[b - 1] for b in bands))

    @staticmethod
    def _read_window(
        ds: rasterio.DatasetReader, window: Window, source: SourceInfo, grid: Grid, bands: Sequence[int]
    ) -> Raster | None:
        """Nearest neighbour on the source's own axes: a (decimated) window read, no warper.

        The same pixels as an exact warp (each output centre takes the source pixel it falls
        in), 3-4 times faster, and at the native resolution a plain copy of the source values.
        Validity as the warper sees it: a pixel without data in every band is invalid.
        """
        rows_per_pixel = window.height / grid.height

        def rows(r0: int, r1: int) -> Window:
            return Window(window.col_off, window.row_off + r0 * rows_per_pixel, window.width, (r1 - r0) * rows_per_pixel)

        height, width = grid.height, grid.width
        try:
            data = in_strips(height, width, lambda r0, r1: ds.read(
                list(bands), window=rows(r0, r1), out_shape=(len(bands), r1 - r0, width)))
            if source.alpha_band:
                valid = in_strips(height, width, lambda r0, r1: ds.read(
                    source.alpha_band, window=rows(r0, r1), out_shape=(r1 - r0, width)) > 0)
            elif ds.count == 1 and ds.nodata is not None:
                valid = ~np.isnan(data[0]) if math.isnan(ds.nodata) else data[0] != np.asarray(ds.nodata, data.dtype)
            else:
                valid = in_strips(height, width, lambda r0, r1: ds.dataset_mask(
                    window=rows(r0, r1), out_shape=(r1 - r0, width)) > 0)
        except READ_ERRORS as exc:
            raise unreadable(source.path) from exc
        if not valid.any():
            return None
        return Raster(data, valid, grid, tuple(source.band_names[b - 1] for b in bands))

    def series(self, source: SourceInfo, x: float, y: float, crs: str, steps: Sequence[Slice]) -> list[float] | None:
        """A raster has one step: its value at each."""
        values = self.sample(source, x, y, crs)
        return None if values is None else [values[0] for _ in steps]

    def reduce(self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling,
               reduction: StepReduction) -> Raster | None:
        """A raster file has no steps of its own: every step is the same read."""
        running = Running(reduction.statistic, grid)
        raster = self.read(source, grid, bands, resampling)
        if raster is not None:
            for _step in reduction.steps:
                running.add(raster)
        return running.result()

    def sample(self, source: SourceInfo, x: float, y: float, crs: str) -> list[float] | None:
        ds = self._open_for_read(source)
        sx, sy = transform_point(x, y, crs, source.crs)
        if not (math.isfinite(sx) and math.isfinite(sy)):
            return None
        pixel = pixel_at(ds, sx, sy) if source.placed_by_model else ds.index(sx, sy)
        if pixel is None:
            return None
        row, col = pixel
        if not (0 <= row < ds.height and 0 <= col < ds.width):
            return None
        try:
            values = ds.read(window=Window(col, row, 1, 1), masked=True)
        except READ_ERRORS as exc:
            raise unreadable(source.path) from exc
        if np.ma.getmaskarray(values).all():
            return None
        return [float(v) for v in values[:, 0, 0].astype("float64").filled(np.nan)]

    def statistics(self, source: SourceInfo, bands: Sequence[int]) -> tuple[BandStatistics, ...]:
        """Percentiles from the coarsest overview: cheap, and enough for a display stretch."""
        level = len(source.overview_factors) - 1
        ds = self._open_for_read(source, level)
        scale = max(1, int(max(ds.width, ds.height) / 1024))
        shape = (max(1, ds.height // scale), max(1, ds.width // scale))
        stats = []
        for b in bands:
            try:
                values = ds.read(b, out_shape=shape, masked=True)
            except READ_ERRORS as exc:
                raise unreadable(source.path) from exc
            data = values.compressed()
            data = data[np.isfinite(data)] if data.dtype.kind == "f" else data
            if data.size == 0:
                stats.append(BandStatistics(0.0, 1.0, 0.0, 1.0))
                continue
            low, high = np.percentile(data, [2, 98])
            stats.append(BandStatistics(float(data.min()), float(data.max()), float(low), float(high)))
        return tuple(stats)
