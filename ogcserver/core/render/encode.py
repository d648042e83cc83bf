"""Encode rendered pictures as PNG (24/32 bit or paletted), JPEG or GeoTIFF."""

from __future__ import annotations

import io
import zlib

import numpy as np
import rasterio
from PIL import Image
from rasterio.io import MemoryFile

from ogcserver.core.config import Rendering
from ogcserver.core.render.png import encode_png
from ogcserver.core.render.style import flatten, without_alpha
from ogcserver.model.budget import check_deadline
from ogcserver.model.formats import EncodedImage, ImageFormat
from ogcserver.model.image import RGBAImage
from ogcserver.model.timing import phase

ZLIB_STRATEGY = {
    "huffman": zlib.Z_HUFFMAN_ONLY,
    "rle": zlib.Z_RLE,
    "filtered": zlib.Z_FILTERED,
    "default": zlib.Z_DEFAULT_STRATEGY,
}


def encode(
    image: RGBAImage,
    fmt: ImageFormat,
    transparent: bool,
    background: tuple[int, int, int],
    options: Rendering,
) -> EncodedImage:
    check_deadline()
    with phase("encode"):
        return _encode(image, fmt, transparent, background, options)


def _encode(
    image: RGBAImage, fmt: ImageFormat, transparent: bool, background: tuple[int, int, int], options: Rendering,
) -> EncodedImage:
    keep_alpha = transparent and fmt.supports_alpha
    pixels = image.pixels
    if keep_alpha:
        if pixels.shape[2] == 4 and pixels[..., 3].min() == 255:
            pixels = without_alpha(pixels)  # fully opaque: a 24-bit image is smaller and faster
    else:
        pixels = flatten(image, background)
    if fmt is ImageFormat.GEOTIFF:
        return EncodedImage(_geotiff(pixels, image), fmt.content_type)
    strategy = ZLIB_STRATEGY[options.png_strategy]
    if fmt is ImageFormat.PNG:
        return EncodedImage(encode_png(pixels, options.png_compression, strategy), fmt.content_type)
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    buffer = io.BytesIO()
    if fmt is ImageFormat.JPEG:
        picture.save(buffer, format="JPEG", quality=options.jpeg_quality)
    else:  # PNG8: a palette of 256 colours, which Pillow's quantizer chooses
        picture.quantize(256, method=Image.Quantize.FASTOCTREE).save(
            buffer, format="PNG", compress_level=options.png_compression, compress_type=strategy)
    return EncodedImage(buffer.getvalue(), fmt.content_type)


def _geotiff(pixels: np.ndarray, image: RGBAImage) -> bytes:
    count = pixels.shape[2]
    profile = {
        "driver": "GTiff",
        "width": pixels.shape[1],
        "height": pixels.shape[0],
        "count": count,
        "dtype": "uint8",
        "crs": rasterio.crs.CRS.from_user_input(image.grid.crs),
        "transform": image.grid.transform,
        "compress": "deflate",
        "photometric": "RGB",
    }
    if count == 4:
        profile["alpha"] = "YES"
    with MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(np.moveaxis(pixels, 2, 0))
        return memfile.read()
