"""A netCDF coverage over steps is written strip by strip: the memory it takes does not grow with a
band's size (an 8192 x 8192 float32 WCS 2.0 GetCoverage as application/netcdf grew a worker by
about 800 MiB when each band was read whole), and the values are the GeoTIFF's."""

from __future__ import annotations

import tracemalloc

import numpy as np
import rasterio
import xarray as xr
from affine import Affine

from ogcserver.model.coverage import EncodedCoverage
from ogcserver.model.dimensions import Dimension, Slice
from ogcserver.storage import cube_encoder
from ogcserver.storage.cube_encoder import NetcdfEncoder

SIDE = 2048  # a band of 16 MiB in float32: four strips


def test_a_cube_is_written_in_strips_of_bounded_memory_with_the_geotiffs_values(tmp_path):
    values = np.random.default_rng(7).random((2, SIDE, SIDE), dtype=np.float32)
    source = tmp_path / "coverage.tif"
    with rasterio.open(source, "w", driver="GTiff", width=SIDE, height=SIDE, count=2, dtype="float32",
                       crs="EPSG:4326", transform=Affine(0.01, 0, 0, 0, -0.01, 10), nodata=-1.0) as out:
        out.write(values)
    time = Dimension("time", "time", "ISO8601", ("2001-02-29T00:00:00Z", "2001-02-30T00:00:00Z"), calendar="360_day")
    steps = [Slice((("time", 0),)), Slice((("time", 1),))]
    coverage = EncodedCoverage("image/tiff", source.stat().st_size, "coverage.tif", file=open(source, "rb"))
    NetcdfEncoder().encode(coverage, (time,), steps, "ta", "K")  # xarray and its writers imported, caches filled

    tracemalloc.start()
    try:
        coverage = EncodedCoverage("image/tiff", source.stat().st_size, "coverage.tif", file=open(source, "rb"))
        encoded = NetcdfEncoder().encode(coverage, (time,), steps, "ta", "K")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    band = SIDE * SIDE * 4
    assert 3 * cube_encoder.STRIP_BYTES < band  # so a band read whole cannot pass
    assert peak < 3 * cube_encoder.STRIP_BYTES, f"peak {peak >> 20} MiB for bands of {band >> 20} MiB"

    written = tmp_path / "coverage.nc"
    written.write_bytes(encoded.read())
    with xr.open_dataset(written, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as cube:
        assert cube["ta"].shape == (2, SIDE, SIDE)
        np.testing.assert_array_equal(cube["ta"].values, values)
        assert [str(t)[:10] for t in cube["time"].values] == ["2001-02-29", "2001-02-30"]
