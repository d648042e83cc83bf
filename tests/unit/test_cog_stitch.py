"""The product COG is stitched from the chunks' compressed tiles: valid by GDAL's own COG
validator, the chunks' bytes copied as they are, any layout (masks, nodata, several bands,
BigTIFF), and parts that do not fit refused instead of written."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from ogcserver.core.analysis.compute import ProductBands
from ogcserver.model.image import Grid
from ogcserver.storage import cog_stitch, products
from ogcserver.storage.tiff_layout import read_layout

VALIDATOR = "osgeo_utils.samples.validate_cloud_optimized_geotiff"  # shipped with Debian's GDAL (python3-gdal)


def _product(tmp_path, width: int, height: int, form: ProductBands, chunk: int = 1024, chunk_level: int = 1,
             product_level: int = 1):
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:height, 0:width]
    smooth = (np.sin(x / 41.0) * np.cos(y / 29.0) + 1) * 100
    values = np.stack([smooth + b * 10 + rng.integers(0, 5, (height, width)) for b in range(form.count)])
    values = values.astype(form.dtype)
    valid = rng.random((height, width)) > 0.1
    valid[:, :300] = False  # a stretch of nothing, as off a source's edge
    grid = Grid("EPSG:32632", from_origin(500000, 5200000, 10, 10), width, height)
    levels = products.overview_levels(width, height)
    folder = products.ProductFolder(tmp_path, "p", product_level)
    folder.start({"digest": "d"})
    windows = {f"r{r}c{c}": (r, min(r + chunk, height), c, min(c + chunk, width))
               for r in range(0, height, chunk) for c in range(0, width, chunk)}
    for name, (r0, r1, c0, c1) in windows.items():
        sub = Grid(grid.crs, grid.transform @ rasterio.Affine.translation(c0, r0), c1 - c0, r1 - r0)
        products.write_chunk(folder.chunk_path(name), sub, values[:, r0:r1, c0:c1], valid[r0:r1, c0:c1],
                             form.dtype, form.count, form.nodata, levels, chunk_level)
    path = products.assemble_cog(folder, grid, windows, form)
    return path, folder, grid, values, valid


def _validate(path) -> str:
    done = subprocess.run(["/usr/bin/python3", "-m", VALIDATOR, "--full-check=yes", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize(("width", "height", "form"), [
    (2600, 1800, ProductBands("uint8", ("shade",), None)),  # an internal mask, partial edge chunks
    (2048, 2048, ProductBands("float32", ("a", "b"), float("nan"))),  # two bands, NaN nodata
    (1500, 2100, ProductBands("uint16", ("r", "g", "b"), None)),  # three bands with a mask
])
def test_the_stitched_product_is_a_valid_cog_with_the_chunks_values(tmp_path, width, height, form):
    path, _, grid, values, valid = _product(tmp_path, width, height, form)
    assert "is a valid cloud optimized GeoTIFF" in _validate(path)
    with rasterio.open(path) as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert (cog.width, cog.height, cog.count, cog.dtypes[0]) == (width, height, form.count, form.dtype)
        assert cog.transform == grid.transform and cog.descriptions == form.names
        assert cog.overviews(1) == products.overview_factors(products.overview_levels(width, height))
        data = cog.read()
        if form.nodata is None:
            assert np.array_equal(cog.read_masks(1) > 0, valid)
            assert np.array_equal(data[:, valid], values[:, valid])
        else:
            assert np.isnan(data[:, ~valid]).all()
            assert np.array_equal(data[:, valid], values[:, valid])


def test_the_products_tiles_are_the_chunks_bytes(tmp_path):
    """Chunks encoded at DEFLATE level 9 for a product at level 1: a product re-encoded would
    hold other bytes; a stitched one holds the chunks' own at the levels made of chunk tiles."""
    form = ProductBands("uint8", ("v",), None)
    path, folder, *_ = _product(tmp_path, 2048, 2048, form, chunk_level=9, product_level=1)
    with open(path, "rb") as f:
        layout = read_layout(f)
        levels = cog_stitch.image_levels(layout)
        product_tiles = {}
        for k in (0, 1):
            image = levels[k][0]
            for index in range(image.tiles_across * image.tiles_down):
                f.seek(image.offsets.values[index])
                product_tiles[(k, index % image.tiles_across, index // image.tiles_across)] = \
                    f.read(image.byte_counts.values[index])
    with open(folder.chunk_path("r1024c1024"), "rb") as f:  # at tile column 2, row 2 of the full resolution
        chunk_levels = cog_stitch.image_levels(read_layout(f))
        for k, (col, row) in ((0, (2, 2)), (1, (1, 1))):
            image = chunk_levels[k][0]
            f.seek(image.offsets.values[0])
            assert f.read(image.byte_counts.values[0]) == product_tiles[(k, col, row)], k


def test_a_product_past_the_classic_tiff_limit_is_a_bigtiff(tmp_path, monkeypatch):
    monkeypatch.setattr(products, "CLASSIC_TIFF_BYTES", 0)  # as if its tiles held more than 4 GiB
    form = ProductBands("int16", ("v",), -32768.0)
    path, _, _, values, valid = _product(tmp_path, 1600, 1100, form)
    with open(path, "rb") as f:
        assert read_layout(f).big
    _validate(path)
    with rasterio.open(path) as cog:
        assert np.array_equal(cog.read(1)[valid], values[0][valid])


def test_parts_encoded_unlike_the_product_are_refused(tmp_path):
    form = ProductBands("uint8", ("v",), None)
    path, folder, grid, values, valid = _product(tmp_path, 1024, 1024, form)
    odd = tmp_path / "odd.tif"
    profile = {"driver": "GTiff", "width": 1024, "height": 1024, "count": 1, "dtype": "uint8", "tiled": True,
               "blockxsize": 512, "blockysize": 512, "compress": "lzw"}
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(odd, "w", **profile) as out:
        out.write(values)
        out.write_mask(np.full((1024, 1024), 255, np.uint8))
    skeleton = tmp_path / "skeleton.tif"
    with rasterio.open(path) as cog:
        rasterio.shutil.copy(cog, skeleton, driver="COG", compress="DEFLATE", predictor="STANDARD", overviews="NONE",
                             blocksize=512, sparse_ok=True)
    with pytest.raises(cog_stitch.StitchError, match="encoded or tiled unlike"):
        cog_stitch.stitch_cog(skeleton, [[cog_stitch.Part(odd, 0, 0, 0)]], tmp_path / "out.tif")
    assert not (tmp_path / "out.tif").exists() and not list(tmp_path.glob(".tmp-*"))
