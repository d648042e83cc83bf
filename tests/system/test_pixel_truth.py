"""GetMap pixels against the source: sliced directly on the native grid, warped by rasterio elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from ogcserver.model.geo import BBox, transform_bbox
from tests.support import rasters
from tests.support.reference import assert_equal_but_at_edges, decode, exact_nearest, params, reference_warp

# ogcserver's warps keep the transform error below 1e-3 output pixel (rendering.warp_error);
# a source pixel edge that close to an output pixel centre may go either way.
EDGE = 0.01


def getmap(client, **kw) -> np.ndarray:
    response = client.get("/wms", query_string=params(**kw))
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype.startswith("image/")
    return decode(response.data)


def test_native_grid_returns_source_pixels(client, data_dir):
    """A request aligned with the source grid returns the source pixels themselves."""
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        source = src.read()
    x0, y0 = rasters.ORIGIN
    # rows 40..240, cols 60..360 of the source
    bbox = (x0 + 60 * 10, y0 - 240 * 10, x0 + 360 * 10, y0 - 40 * 10)
    img = getmap(client, LAYERS="parent", CRS="EPSG:32632", BBOX=",".join(map(str, bbox)), WIDTH=300, HEIGHT=200)
    assert img.shape == (200, 300, 3)
    np.testing.assert_array_equal(np.moveaxis(img, 2, 0), source[:, 40:240, 60:360])


@pytest.mark.parametrize("layer", ["parent", "mosaic"])
def test_mosaic_across_item_borders_equals_source_native(client, data_dir, layer):
    """The 2x2 mosaic, viewed across all item borders, equals the image it was cut from."""
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        source = src.read()
    x0, y0 = rasters.ORIGIN
    bbox = (x0 + 100 * 10, y0 - 400 * 10, x0 + 500 * 10, y0 - 100 * 10)  # straddles row 250 / col 300
    img = getmap(client, LAYERS=layer, CRS="EPSG:32632", BBOX=",".join(map(str, bbox)), WIDTH=400, HEIGHT=300)
    np.testing.assert_array_equal(np.moveaxis(img, 2, 0), source[:, 100:400, 100:500])


def _bbox_3857(data_dir, shrink=0.2):
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        b = src.bounds
    native = BBox(b.left, b.bottom, b.right, b.top, "EPSG:32632")
    merc = transform_bbox(native, "EPSG:3857")
    dx, dy = merc.width * shrink, merc.height * shrink
    return (merc.minx + dx, merc.miny + dy, merc.maxx - dx, merc.maxy - dy)


@pytest.mark.parametrize("layer", ["parent", "mosaic"])
def test_web_mercator_nearest_is_exact(client, data_dir, layer):
    """Identical to the exact nearest-neighbour warp of the (uncut) source, across item borders."""
    bbox = _bbox_3857(data_dir)
    img = getmap(client, LAYERS=layer, CRS="EPSG:3857", BBOX=",".join(map(str, bbox)),
                 WIDTH=256, HEIGHT=256, TRANSPARENT="TRUE")
    # no gaps at item borders: fully opaque (sent as a 24-bit PNG, the alpha being all 255)
    assert img.shape[2] == 3
    ref, valid, edge = exact_nearest(data_dir / "parent" / "parent.tif", bbox, "EPSG:3857", (256, 256), with_edges=True)
    assert valid.all()
    assert_equal_but_at_edges(np.moveaxis(img, 2, 0), ref, edge, EDGE)


def test_web_mercator_nearest_agrees_with_rasterio_reproject(client, data_dir):
    """rasterio.warp.reproject with GDAL's defaults differs only where its approximate transformer
    (error up to 0.125 output pixel, here about 0.17 source pixel) moves a centre across an edge."""
    bbox = _bbox_3857(data_dir)
    img = getmap(client, LAYERS="mosaic", CRS="EPSG:3857", BBOX=",".join(map(str, bbox)), WIDTH=256, HEIGHT=256)
    ref, _ = reference_warp(data_dir / "parent" / "parent.tif", bbox, "EPSG:3857", (256, 256))
    _, _, edge = exact_nearest(data_dir / "parent" / "parent.tif", bbox, "EPSG:3857", (256, 256), with_edges=True)
    assert_equal_but_at_edges(np.moveaxis(img, 2, 0), ref, edge, 0.2, at_most=0.05)


def test_web_mercator_bilinear_within_tolerance(client, data_dir):
    bbox = _bbox_3857(data_dir)
    img = getmap(client, LAYERS="mosaic", CRS="EPSG:3857", BBOX=",".join(map(str, bbox)),
                 WIDTH=256, HEIGHT=256, RESAMPLING="bilinear")
    ref, _ = reference_warp(data_dir / "parent" / "parent.tif", bbox, "EPSG:3857", (256, 256), "bilinear")
    diff = np.abs(np.moveaxis(img, 2, 0).astype(int) - ref.astype(int))
    # Stated tolerance, on a texture whose neighbouring pixels differ by up to 40% of the range:
    # a mean below half a grey level, 99% within 2 levels, none beyond 8. The differences come from
    # GDAL's approximate transformer in the reference and from the item borders of the mosaic.
    assert diff.mean() < 0.5
    assert np.percentile(diff, 99) <= 2
    assert diff.max() <= 8


def test_epsg4326_axis_orders_agree_with_rasterio(client, data_dir):
    """1.3.0 EPSG:4326 is lat,lon; 1.1.1 EPSG:4326 and 1.3.0 CRS:84 are lon,lat: same picture."""
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        b = src.bounds
    ll = transform_bbox(BBox(b.left, b.bottom, b.right, b.top, "EPSG:32632"), "EPSG:4326")
    box = (ll.minx + ll.width * 0.1, ll.miny + ll.height * 0.1, ll.maxx - ll.width * 0.1, ll.maxy - ll.height * 0.1)
    lonlat = ",".join(map(str, box))
    latlon = ",".join(map(str, (box[1], box[0], box[3], box[2])))
    a = getmap(client, LAYERS="parent", CRS="EPSG:4326", BBOX=latlon, WIDTH=300, HEIGHT=200)
    b_ = getmap(client, LAYERS="parent", VERSION="1.1.1", SRS="EPSG:4326", BBOX=lonlat, WIDTH=300, HEIGHT=200)
    c = getmap(client, LAYERS="parent", CRS="CRS:84", BBOX=lonlat, WIDTH=300, HEIGHT=200)
    ref, _, edge = exact_nearest(data_dir / "parent" / "parent.tif", box, "EPSG:4326", (300, 200), with_edges=True)
    assert_equal_but_at_edges(np.moveaxis(a, 2, 0), ref, edge, EDGE)
    np.testing.assert_array_equal(a, b_)
    np.testing.assert_array_equal(a, c)


def test_data_edge_is_transparent_outside(client, data_dir):
    """A view half outside the data: inside equals rasterio, outside is fully transparent."""
    x0, y0 = rasters.ORIGIN
    bbox = (x0 - 1000, y0 - 2000, x0 + 1000, y0 + 500)
    img = getmap(client, LAYERS="mosaic", CRS="EPSG:32632", BBOX=",".join(map(str, bbox)),
                 WIDTH=200, HEIGHT=250, TRANSPARENT="TRUE")
    assert img.shape[2] == 4
    ref, valid, edge = exact_nearest(data_dir / "parent" / "parent.tif", bbox, "EPSG:32632", (200, 250), with_edges=True)
    np.testing.assert_array_equal(img[..., 3] == 255, valid)
    np.testing.assert_array_equal(np.moveaxis(img[..., :3], 2, 0)[:, valid], ref[:, valid])
    assert (img[..., 3][~valid] == 0).all()


def test_overview_level_matches_rasterio_on_that_overview(client, data_dir):
    """Zoomed out 4x, the mosaic reads the 1/4 overview, and equals rasterio's warp of it."""
    path = data_dir / "tiles" / "tile_0.tif"
    x0, y0 = rasters.ORIGIN
    w, h = 68, 56  # the part of tile_0 (rows 0-224, cols 0-272) that no newer tile covers
    bbox = (x0, y0 - h * 40, x0 + w * 40, y0)
    img = getmap(client, LAYERS="mosaic", CRS="EPSG:32632", BBOX=",".join(map(str, bbox)), WIDTH=w, HEIGHT=h)
    with rasterio.open(path, overview_level=1) as ovr:
        ref = ovr.read()
    np.testing.assert_array_equal(np.moveaxis(img, 2, 0), ref[:, :h, :w])
