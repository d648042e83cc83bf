"""One raster reader for every source: GDAL (rasterio) for rasters, xarray for netCDF, HDF5 and
Zarr variables, chosen by the source's path, so the core sees a single ``RasterReader``.

The xarray reader is made on first use: xarray, pandas, dask and HDF5 weigh about 50 MiB in
every worker process, which a server of plain rasters never needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import BinaryIO

from ogcserver.model.catalog import BandStatistics, SourceInfo
from ogcserver.model.dimensions import Slice
from ogcserver.model.errors import SourceUnavailable
from ogcserver.model.formats import Resampling
from ogcserver.model.image import Grid, Raster
from ogcserver.model.object_urls import is_object_url
from ogcserver.model.reduction import StepReduction
from ogcserver.storage.interfaces import RasterReader
from ogcserver.storage.readers.multidim_vetting import is_multidim
from ogcserver.storage.readers.rasterio_reader import DatasetPool, RasterioReader
from ogcserver.storage.readers.vetting import SourceRules, check_object_url
from ogcserver.storage.s3 import Clients, open_object


class SourceReader:
    """Routes each call to the reader of the source's format."""

    def __init__(self, rasters: RasterioReader, make_cubes: Callable[[], RasterReader],
                 objects: Clients | None = None) -> None:
        self.rasters = rasters
        self.objects = objects  # the object store's client, when buckets are configured
        self._make_cubes = make_cubes
        self._cubes: RasterReader | None = None

    @property
    def cubes(self) -> RasterReader:
        """The reader of multidimensional sources, made when the first one is met."""
        if self._cubes is None:
            self._cubes = self._make_cubes()
        return self._cubes

    @property
    def rules(self) -> SourceRules:
        return self.rasters.rules

    @property
    def pool(self) -> DatasetPool:
        """The GDAL handles of this process."""
        return self.rasters.pool

    def close_all(self) -> None:
        """Close every handle, GDAL's and HDF5's, e.g. in a parent process before it forks workers."""
        self.rasters.pool.close_all()
        if self._cubes is not None:
            self._cubes.forget_handles()

    def _for(self, path: str) -> RasterReader:
        return self.cubes if is_multidim(path) else self.rasters

    def describe(self, path: str, own: bool = False, variable: str = "") -> SourceInfo:
        return self._for(path).describe(path, own, variable)

    def vet(self, path: str) -> None:
        self._for(path).vet(path)

    def read(self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling) -> Raster | None:
        return self._for(source.path).read(source, grid, bands, resampling)

    def reduce(self, source: SourceInfo, grid: Grid, bands: Sequence[int], resampling: Resampling,
               reduction: StepReduction) -> Raster | None:
        return self._for(source.path).reduce(source, grid, bands, resampling, reduction)

    def sample(self, source: SourceInfo, x: float, y: float, crs: str) -> list[float] | None:
        return self._for(source.path).sample(source, x, y, crs)

    def series(self, source: SourceInfo, x: float, y: float, crs: str, steps: Sequence[Slice]) -> list[float] | None:
        return self._for(source.path).series(source, x, y, crs, steps)

    def statistics(self, source: SourceInfo, bands: Sequence[int]) -> tuple[BandStatistics, ...]:
        return self._for(source.path).statistics(source, bands)

    def release(self) -> None:
        self.rasters.release()
        if self._cubes is not None:
            self._cubes.release()

    def original(self, source: SourceInfo) -> tuple[BinaryIO, int]:
        """The source's own bytes; an object is streamed from its bucket, as GDAL's /vsis3/ reads
        ranges, not whole files."""
        if not is_object_url(source.path):
            return self._for(source.path).original(source)
        check_object_url(source.path, self.rules)
        name = source.path.rsplit("/", 1)[-1]
        if self.objects is None:
            raise SourceUnavailable(f"source '{name}' cannot be read: no object store is configured")
        try:
            return open_object(self.objects, source.path)
        except OSError:
            raise SourceUnavailable(f"source '{name}' cannot be read") from None

    def footprint(self, source: SourceInfo) -> dict | None:
        return self._for(source.path).footprint(source)

    def forget_handles(self) -> None:
        self.rasters.forget_handles()
        if self._cubes is not None:
            self._cubes.forget_handles()
