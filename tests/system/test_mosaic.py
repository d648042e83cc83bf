"""Folder mosaics: order, index refresh while running, only intersecting items read, limits."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from rasterio.transform import from_origin

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.conftest import write_config
from tests.support import rasters
from tests.support.reference import decode, params

X0, Y0 = rasters.ORIGIN
OVERLAP = f"{X0 + 1000},{Y0 - 2000},{X0 + 2000},{Y0 - 1000}"  # where old.tif and new.tif overlap


def pixel(client, layer, bbox=OVERLAP, service="ordered", **kw):
    query = params(LAYERS=layer, CRS="EPSG:32632", BBOX=bbox, WIDTH=10, HEIGHT=10)
    r = client.get(f"/services/{service}/wms", query_string={**query, **kw})
    assert r.status_code == 200, r.data[:300]
    return decode(r.data)


def test_newest_on_top_by_default_and_oldest_when_configured(client):
    assert (pixel(client, "newest")[..., :3] == 200).all()
    assert (pixel(client, "oldest")[..., :3] == 100).all()


@pytest.fixture()
def live_folder(data_dir, tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    shutil.copy(data_dir / "order" / "old.tif", folder / "old.tif")
    config = write_config(data_dir, tmp_path / "c.yaml")
    text = config.read_text().replace(str(data_dir / "order"), str(folder))
    config.write_text(text)
    return folder, create_app(load_settings(config)).test_client()


def test_index_follows_files_added_changed_and_removed(live_folder, data_dir):
    folder, client = live_folder
    assert (pixel(client, "newest")[..., :3] == 100).all()
    shutil.copy(data_dir / "order" / "new.tif", folder / "new.tif")
    assert (pixel(client, "newest")[..., :3] == 200).all()  # seen without a restart
    t = from_origin(X0 + 1000, Y0 - 1000, rasters.RES, rasters.RES)
    rasters.write(folder / "new.tif", np.full((3, 200, 200), 50, np.uint8), t,
                  tags={"ACQUISITIONDATETIME": "2023-01-01T00:00:00Z"})
    assert (pixel(client, "newest")[..., :3] == 50).all()  # a rewritten file is re-read
    (folder / "new.tif").unlink()
    assert (pixel(client, "newest")[..., :3] == 100).all()
    (folder / "old.tif").write_bytes(b"not a raster any more")
    r = client.get("/services/ordered/wms", query_string=params(LAYERS="newest", CRS="EPSG:32632", BBOX=OVERLAP,
                                                                   WIDTH=10, HEIGHT=10))
    assert r.status_code == 400 and b"LayerNotDefined" in r.data  # nothing readable left


class CountingReader:
    def __init__(self, inner):
        self.inner, self.reads = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read(self, source, grid, bands, resampling):
        self.reads.append(source.path.rsplit("/", 1)[-1])
        return self.inner.read(source, grid, bands, resampling)


def test_only_intersecting_items_are_read_and_covered_items_skipped(app, monkeypatch):
    from ogcserver.core import read as read_module

    counting = {}

    original = read_module.mosaic

    def spy(reader, items, grid, bands, resampling, *rule):
        wrapped = CountingReader(reader)
        counting["reader"] = wrapped
        return original(wrapped, items, grid, bands, resampling, *rule)

    monkeypatch.setattr(read_module, "mosaic", spy)
    client = app.test_client()
    # inside tile_0 only (rows 0-200, cols 0-250)
    pixel(client, "mosaic", bbox=f"{X0},{Y0 - 2000},{X0 + 2500},{Y0}", service="demo")
    assert counting["reader"].reads == ["tile_0.tif"]
    # inside the four-way overlap the newest tile covers everything: one read
    c = f"{X0 + 2850},{Y0 - 2550},{X0 + 3150},{Y0 - 2450}"
    pixel(client, "mosaic", bbox=c, service="demo")
    assert counting["reader"].reads == ["tile_3.tif"]
    # across the whole mosaic every tile contributes, newest first
    pixel(client, "mosaic", bbox=f"{X0},{Y0 - 5000},{X0 + 6000},{Y0}", service="demo")
    assert counting["reader"].reads == ["tile_3.tif", "tile_2.tif", "tile_1.tif", "tile_0.tif"]


def test_max_items_limit(data_dir, tmp_path):
    config = write_config(data_dir, tmp_path / "c.yaml")
    text = config.read_text().replace("limits:\n    max_width: 2048", "limits:\n    max_items: 1")
    config.write_text(text)
    client = create_app(load_settings(config)).test_client()
    # a map past the item cap draws the items' footprints instead of reading them
    bbox = f"{X0 - 500},{Y0 - 3500},{X0 + 3500},{Y0 + 500}"
    r = client.get("/services/ordered/wms", query_string=params(LAYERS="newest", CRS="EPSG:32632", BBOX=bbox,
                                                                   WIDTH=40, HEIGHT=40, TRANSPARENT="TRUE"))
    assert r.status_code == 200
    img = decode(r.data)
    outline = (img[..., 0] == 230) & (img[..., 1] == 110) & (img[..., 3] == 255)
    assert outline.any() and not ((img[..., 0] == 200) & (img[..., 3] == 255)).any()
    assert img[0, 0, 3] == 0 and img[20, 20, 3] > 0  # outside every item: clear; inside: tinted
    # values cannot be drawn: a point query past the cap still says so
    info = client.get("/services/ordered/wms", query_string=params(
        REQUEST="GetFeatureInfo", LAYERS="newest", QUERY_LAYERS="newest", CRS="EPSG:32632", BBOX=OVERLAP,
        WIDTH=10, HEIGHT=10, I=5, J=5))
    assert info.status_code == 400 and b"zoom in" in info.data


def test_items_in_different_crs_join_the_mosaic(data_dir, tmp_path):
    """A folder mixing UTM and lon/lat rasters is still one layer covering both."""
    import rasterio
    from rasterio.warp import calculate_default_transform, reproject

    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(data_dir / "order" / "old.tif", folder / "utm.tif")
    with rasterio.open(data_dir / "order" / "new.tif") as src:
        transform, w, h = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height, *src.bounds)
        out = np.zeros((3, h, w), np.uint8)
        reproject(src.read(), out, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                  dst_crs="EPSG:4326")
    rasters.write(folder / "geo.tif", out, transform, crs="EPSG:4326", nodata=0,
                  tags={"ACQUISITIONDATETIME": "2022-01-01T00:00:00Z"})
    config = write_config(data_dir, tmp_path / "c.yaml")
    config.write_text(config.read_text().replace(str(data_dir / "order"), str(folder)))
    client = create_app(load_settings(config)).test_client()
    img = pixel(client, "newest", bbox=f"{X0},{Y0 - 3000},{X0 + 3000},{Y0}", TRANSPARENT="TRUE", WIDTH=30, HEIGHT=30)
    assert (img[..., 3] == 255).mean() > 0.5
    assert {100, 200} <= set(np.unique(img[..., 0][img[..., 3] == 255]).tolist())
