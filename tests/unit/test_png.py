"""The PNG writer: every channel layout decodes, by Pillow and by GDAL, to exactly the pixels written."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
import rasterio
from PIL import Image

from ogcserver.core.render.png import encode_png

MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def picture(channels: int, shape=(37, 53)) -> np.ndarray:
    """Noise plus smooth ramps: rows that differ from the row above by every amount, wrapping included."""
    rng = np.random.default_rng(channels)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    smooth = (rows * 7 + cols * 3)[..., None] + np.arange(channels) * 60
    return np.where(rng.random((*shape, channels)) < 0.3, rng.integers(0, 256, (*shape, channels)), smooth % 256
                    ).astype(np.uint8)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("strategy", [zlib.Z_RLE, zlib.Z_HUFFMAN_ONLY, zlib.Z_DEFAULT_STRATEGY])
def test_pillow_decodes_exactly_what_was_written(channels, strategy):
    pixels = picture(channels)
    image = Image.open(io.BytesIO(encode_png(pixels, 1, strategy)))
    image.load()  # checks every chunk's CRC and the zlib stream
    assert image.mode == MODES[channels] and image.size == (53, 37)
    decoded = np.asarray(image)
    np.testing.assert_array_equal(decoded.reshape(pixels.shape), pixels)


def test_gdal_reads_the_bands(tmp_path):
    pixels = picture(4)
    path = tmp_path / "t.png"
    path.write_bytes(encode_png(pixels, 6, zlib.Z_DEFAULT_STRATEGY))
    with rasterio.open(path) as ds:
        assert ds.driver == "PNG" and ds.count == 4
        np.testing.assert_array_equal(ds.read(), np.moveaxis(pixels, 2, 0))


def test_a_two_dimensional_array_is_grey_and_a_sliced_array_is_copied_right():
    grey = picture(1)[..., 0]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(grey, 1, zlib.Z_RLE)))), grey)
    rgb = picture(4)[::2, 1::3, :3]  # not contiguous
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(rgb, 1, zlib.Z_RLE)))), rgb)


def test_a_uniform_tile_is_tiny():
    assert len(encode_png(np.zeros((256, 256, 4), np.uint8), 9, zlib.Z_DEFAULT_STRATEGY)) < 1024  # of 262 KiB raw


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.uint16), np.zeros((4, 4, 5), np.uint8),
                                 np.zeros((0, 4, 3), np.uint8)])
def test_what_png_cannot_hold_is_refused(bad):
    with pytest.raises(ValueError):
        encode_png(bad, 1, zlib.Z_RLE)
