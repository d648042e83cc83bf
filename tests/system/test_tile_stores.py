"""MBTiles and GeoPackage tile stores: the same tiles as the directory store, readable by GDAL."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from ogcserver.app import core_of, create_app
from ogcserver.settings import load_settings
from tests.conftest import write_config
from tests.support.reference import decode
from tests.support.tiles import tile_at


@pytest.mark.parametrize("store, ext", [("mbtiles", "mbtiles"), ("geopackage", "gpkg")])
def test_single_file_store(data_dir, tmp_path, client, store, ext):
    config = write_config(data_dir, tmp_path / "c.yaml")
    config.write_text(config.read_text() + f"cache:\n  store: {store}\n")
    single = create_app(load_settings(config)).test_client()
    x, y = tile_at(15)
    url = f"/tiles/parent/WebMercatorQuad/15/{x}/{y}.png"
    first = single.get(url)
    assert first.status_code == 200 and first.headers["X-Cache"] == "MISS"
    again = single.get(url)
    assert again.headers["X-Cache"] == "HIT" and again.data == first.data
    np.testing.assert_array_equal(decode(again.data), decode(client.get(url).data))  # as the directory store
    files = list((tmp_path / "state" / "tiles" / "parent").rglob(f"*.{ext}"))
    assert len(files) == 1
    with rasterio.open(files[0]) as ds:  # GDAL reads the file as a tiled raster
        assert ds.count >= 3 and ds.width > 0
    stats = core_of(single.application).tiles.store.stats()
    assert stats["parent"]["tiles"] >= 16  # the whole metatile was stored
