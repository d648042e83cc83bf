"""``analysis.deflate_level`` reaches the product COG: a lower level trades file size for time."""

from __future__ import annotations

import numpy as np
import rasterio
from rasterio.transform import from_origin

from ogcserver.core.analysis.compute import ProductBands
from ogcserver.model.image import Grid
from ogcserver.storage import products

FORM = ProductBands("uint8", ("v",), None)


def _assembled(root, level: int) -> int:
    grid = Grid("EPSG:32632", from_origin(500000, 5200000, 10, 10), 1024, 1024)
    folder = products.ProductFolder(root, "p", deflate_level=level)
    folder.start({"digest": "d"})
    y, x = np.mgrid[0:1024, 0:1024]
    values = ((np.sin(x / 37.0) * np.cos(y / 23.0) + 1) * 120 + (x * y) % 7).astype(np.uint8)[None]
    products.write_chunk(folder.chunk_path("r0c0"), grid, values, np.ones((1024, 1024), bool), "uint8", 1, None,
                         products.overview_levels(1024, 1024), deflate_level=level)
    path = products.assemble_cog(folder, grid, {"r0c0": (0, 1024, 0, 1024)}, FORM)
    with rasterio.open(path) as out:
        assert (out.read() == values).all()
        assert out.compression.name == "deflate"
    return path.stat().st_size


def test_the_deflate_level_reaches_the_product(tmp_path):
    fast, small = _assembled(tmp_path / "fast", 1), _assembled(tmp_path / "small", 9)
    assert fast > small * 1.02
