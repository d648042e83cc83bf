"""The COG's overviews come from the chunks' own (built by the workers), and equal those GDAL
builds over the whole product: chunks start on multiples of 512 px, so each overview pixel
averages the same source pixels either way, edges and masks included."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_origin

from ogcserver.core.analysis.compute import ProductBands
from ogcserver.model.image import Grid
from ogcserver.storage import products

CHUNK = 512

FORM = ProductBands("uint8", ("v",), None)


def _windows(width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    return {f"r{r}c{c}": (r, min(r + CHUNK, height), c, min(c + CHUNK, width))
            for r in range(0, height, CHUNK) for c in range(0, width, CHUNK)}


def _product(tmp_path, width: int, height: int, dtype: str, nodata: float | None):
    """A product of ``width`` x ``height`` px assembled from its chunks; its values and validity."""
    rng = np.random.default_rng(7)
    values = rng.integers(0, 250, (1, height, width)).astype(dtype)
    valid = rng.random((height, width)) > 0.2
    valid[:40, :] = False  # a whole band of no data, as off a source's edge
    grid = Grid("EPSG:32632", from_origin(500000, 5200000, 10, 10), width, height)
    levels = products.overview_levels(width, height)
    folder = products.ProductFolder(tmp_path, "p")
    folder.start({"digest": "d"})
    windows = _windows(width, height)
    for name, (r0, r1, c0, c1) in windows.items():
        sub = Grid(grid.crs, grid.transform @ rasterio.Affine.translation(c0, r0), c1 - c0, r1 - r0)
        products.write_chunk(folder.chunk_path(name), sub, values[:, r0:r1, c0:c1], valid[r0:r1, c0:c1],
                             dtype, 1, nodata, levels)
    path = products.assemble_cog(folder, grid, windows, ProductBands(dtype, ("v",), nodata))
    return path, grid, values, valid, levels


def _gdal_overviews(tmp_path, grid: Grid, values: np.ndarray, valid: np.ndarray, nodata: float | None,
                    levels: int):
    """The same product written whole, with overviews GDAL reduces from every pixel."""
    data = values.copy()
    if nodata is not None:
        data[:, ~valid] = nodata
    path = tmp_path / "whole.tif"
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1,
               "dtype": data.dtype.name, "crs": grid.crs, "transform": grid.transform, "nodata": nodata}
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as out:
        out.write(data)
        if nodata is None:
            out.write_mask(valid.astype(np.uint8) * 255)
        out.build_overviews(products.overview_factors(levels), Resampling.average)
    return path


@pytest.mark.parametrize(("width", "height", "dtype", "nodata"), [
    (1300, 700, "uint8", None),  # partial chunks and odd overview edges, an internal mask
    (2048, 1100, "float32", -9999.0),  # nodata instead of a mask
])
def test_overviews_equal_gdals_over_the_whole_product(tmp_path, width, height, dtype, nodata):
    path, grid, values, valid, levels = _product(tmp_path, width, height, dtype, nodata)
    whole = _gdal_overviews(tmp_path, grid, values, valid, nodata, levels)
    with rasterio.open(path) as ours, rasterio.open(whole) as theirs:
        assert ours.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ours.transform == grid.transform and ours.nodata == nodata
        assert ours.overviews(1) == theirs.overviews(1) == products.overview_factors(levels)
        assert (ours.read(1) == np.where(valid, values[0], nodata if nodata is not None else values[0])).all()
        for factor in [1, *products.overview_factors(levels)]:
            shape = (-(-height // factor), -(-width // factor))
            assert np.array_equal(ours.read(1, out_shape=shape), theirs.read(1, out_shape=shape)), factor
            assert np.array_equal(ours.read_masks(1, out_shape=shape), theirs.read_masks(1, out_shape=shape)), factor


def test_the_assembly_takes_the_chunks_overviews_as_they_are(tmp_path):
    """Overview pixels are copied from the chunks, not reduced again from the full resolution."""
    width = height = 1024
    grid = Grid("EPSG:32632", from_origin(500000, 5200000, 10, 10), width, height)
    folder = products.ProductFolder(tmp_path, "p")
    folder.start({"digest": "d"})
    windows = _windows(width, height)
    for name, (r0, r1, c0, c1) in windows.items():
        sub = Grid(grid.crs, grid.transform @ rasterio.Affine.translation(c0, r0), c1 - c0, r1 - r0)
        products.write_chunk(folder.chunk_path(name), sub, np.full((1, r1 - r0, c1 - c0), 10, np.uint8),
                             np.ones((r1 - r0, c1 - c0), bool), "uint8", 1, None, 1)
    with rasterio.open(folder.chunk_path("r0c0"), "r+", OVERVIEW_LEVEL=0) as marked:
        marked.write(np.full((1, 256, 256), 99, np.uint8))  # a mark the full resolution cannot produce
    path = products.assemble_cog(folder, grid, windows, FORM)
    with rasterio.open(path, OVERVIEW_LEVEL=0) as overview:
        level = overview.read(1)
    assert level.shape == (512, 512)
    assert (level[:256, :256] == 99).all() and (level[256:, :] == 10).all()
