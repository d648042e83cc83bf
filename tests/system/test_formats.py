"""Output formats, transparency, background, stretch of 16-bit and float data, masks, legends."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rasterio
from PIL import Image

from ogcserver.app import core_of
from tests.support import rasters
from tests.support.reference import decode, default_stretch, params

X0, Y0 = rasters.ORIGIN
NATIVE = f"{X0},{Y0 - 2000},{X0 + 2000},{Y0}"  # rows/cols 0-200 of every test raster


def get(client, **kw):
    query = {**params(CRS="EPSG:32632", BBOX=NATIVE, WIDTH=200, HEIGHT=200), **kw}
    r = client.get("/wms", query_string=query)
    assert r.status_code == 200, r.data[:300]
    return r


def test_png_24_and_32_bit(client):
    opaque = Image.open(io.BytesIO(get(client, LAYERS="rgba").data))
    assert opaque.mode == "RGB"
    transparent = Image.open(io.BytesIO(get(client, LAYERS="rgba", TRANSPARENT="TRUE").data))
    assert transparent.mode == "RGBA"
    alpha = np.asarray(transparent)[..., 3]
    assert (alpha[:, :50] == 0).all() and (alpha[:, 50:] == 255).all()  # the file's alpha band


def test_bgcolor_fills_where_there_is_no_data(client):
    img = decode(get(client, LAYERS="rgba", BGCOLOR="0x336699").data)
    assert (img[:, :50] == [0x33, 0x66, 0x99]).all()


def test_internal_mask_is_honoured(client):
    img = decode(get(client, LAYERS="masked", TRANSPARENT="TRUE").data)
    assert (img[150:, :, 3] == 0).all() and (img[:150, :, 3] == 255).all()


def test_paletted_png8(client, data_dir):
    body = get(client, LAYERS="parent", FORMAT="image/png; mode=8bit").data
    img = Image.open(io.BytesIO(body))
    assert img.mode == "P"
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        source = np.moveaxis(src.read()[:, :200, :200], 0, 2).astype(int)
    error = np.abs(np.asarray(img.convert("RGB")).astype(int) - source)
    assert error.mean() < 12  # 256 colours for a noisy texture


def test_jpeg_is_the_source_pixels_at_the_configured_quality(client, data_dir, settings):
    r = get(client, LAYERS="parent", FORMAT="image/jpeg")
    assert r.mimetype == "image/jpeg"
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        source = np.moveaxis(src.read()[:, :200, :200], 0, 2)
    reference = io.BytesIO()
    Image.fromarray(source).save(reference, format="JPEG", quality=settings.rendering.jpeg_quality)
    np.testing.assert_array_equal(decode(r.data), decode(reference.getvalue()))


def test_geotiff_is_georeferenced(client):
    r = get(client, LAYERS="rgba", FORMAT="image/tiff", TRANSPARENT="TRUE")
    assert r.mimetype == "image/tiff"
    with rasterio.MemoryFile(r.data) as mem, mem.open() as ds:
        assert ds.crs.to_epsg() == 32632 and ds.count == 4
        assert ds.bounds == pytest.approx((X0, Y0 - 2000, X0 + 2000, Y0))


def test_uint16_defaultdefault_stretch(client, app, data_dir):
    """16-bit bands 3,2,1 stretched between the layer's 2nd and 98th percentiles."""
    layer = next(lr for lr in core_of(app).engine.catalog.layers() if lr.info.name == "ms16")
    stats = layer.info.statistics
    with rasterio.open(data_dir / "ms16.tif") as src:
        data = src.read()[:, :200, :200]
        valid = src.read(1)[:200, :200] != 0
        everything = src.read(masked=True)
    # statistics come from the data: extremes and 2nd/98th percentiles of the valid pixels, per band
    for i, band in enumerate((3, 2, 1)):
        values = everything[band - 1].compressed()
        p2, p98 = np.percentile(values, [2, 98])
        assert (stats[i].minimum, stats[i].maximum) == (values.min(), values.max())
        assert (stats[i].low, stats[i].high) == pytest.approx((p2, p98), rel=1e-9)
    img = decode(get(client, LAYERS="ms16", TRANSPARENT="TRUE").data)
    for i, band in enumerate((3, 2, 1)):
        expected = default_stretch(data[band - 1], stats[i].low, stats[i].high)
        np.testing.assert_array_equal(img[..., i][valid], expected[valid])
    assert (img[..., 3][~valid] == 0).all()


def test_float_dem_grey_with_nodata_hole(client, app, data_dir):
    layer = next(lr for lr in core_of(app).engine.catalog.layers() if lr.info.name == "dem")
    s = layer.info.statistics[0]
    with rasterio.open(data_dir / "dem.tif") as src:
        dem = src.read(1)[:200, :200]
    img = decode(get(client, LAYERS="dem", TRANSPARENT="TRUE").data)
    hole = dem == -9999
    assert (img[..., 3][hole] == 0).all() and (img[..., 3][~hole] == 255).all()
    np.testing.assert_array_equal(img[..., 0][~hole], default_stretch(dem, s.low, s.high)[~hole])
    assert (img[..., 0] == img[..., 1]).all()


def test_several_layers_composited_in_order(client):
    """LAYERS draws bottom first: rgba's transparent strip shows the parent below it."""
    parent = decode(get(client, LAYERS="parent").data)
    rgba = decode(get(client, LAYERS="rgba").data)
    both = decode(get(client, LAYERS="parent,rgba").data)
    np.testing.assert_array_equal(both[:, :50], parent[:, :50])
    np.testing.assert_array_equal(both[:, 50:], rgba[:, 50:])


def test_legends(client):
    for layer, expected in (("parent", (66, 140)), ("dem", (140, 120))):
        r = client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetLegendGraphic", "LAYER": layer,
                                             "FORMAT": "image/png", "VERSION": "1.3.0"})
        assert r.status_code == 200 and r.mimetype == "image/png"
        img = decode(r.data)
        assert img.shape[:2] == expected and img[..., 3].max() == 255
