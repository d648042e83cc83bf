"""The GeoTIFF encoding extension of WCS 2.0 (OGC 12-100r1): compression, predictor, tiling."""

from __future__ import annotations

from ogcserver.model.coverage import Compression, GeoTiffOptions
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.kvp import whole_number

COMPRESSIONS = {
    "none": Compression.NONE, "packbits": Compression.PACKBITS, "lzw": Compression.LZW,
    "deflate": Compression.DEFLATE, "jpeg": Compression.JPEG,
}
PREDICTORS = {"none": 1, "horizontal": 2, "floatingpoint": 3}
NAMES = ("compression", "jpeg_quality", "predictor", "interleave", "tiling", "tileheight", "tilewidth")


def _tile_side(raw: str, name: str) -> int:
    value = whole_number(raw)
    if value is None or value < 16 or value % 16:
        raise OwsError("TilingInvalid", f"{name} must be a positive multiple of 16", f"geotiff:{name}", status=404)
    return value


def geotiff_options(values: dict[str, str]) -> GeoTiffOptions:
    """Options from the parameters by their extension names (``compression``, ...)."""
    for name in values:
        if name not in NAMES:
            locator = f"geotiff:{name[:30]}"
            raise OwsError("InvalidParameterValue", f"{locator} is not a GeoTIFF encoding parameter", locator)
    options: dict = {}
    if "compression" in values:
        raw = values["compression"].strip()
        if raw.lower() == "huffman":
            raise OwsError("CompressionNotSupported", "Huffman compression is for 1-bit images", "geotiff:compression",
                           status=404)
        if raw.lower() not in COMPRESSIONS:
            message = f"compression '{raw[:20]}' is not one of None, PackBits, LZW, Deflate, JPEG"
            raise OwsError("CompressionInvalid", message, "geotiff:compression", status=404)
        options["compression"] = COMPRESSIONS[raw.lower()]
    if "jpeg_quality" in values:
        quality = whole_number(values["jpeg_quality"])
        if quality is None or not 1 <= quality <= 100:
            raise OwsError("JpegQualityInvalid", "jpeg_quality must be 1 to 100", "geotiff:jpeg_quality", status=404)
        options["jpeg_quality"] = quality
    if "predictor" in values:
        raw = values["predictor"].strip().lower()
        if raw not in PREDICTORS:
            message = "predictor must be None, Horizontal or FloatingPoint"
            raise OwsError("PredictorInvalid", message, "geotiff:predictor", status=404)
        options["predictor"] = PREDICTORS[raw]
    if "interleave" in values:
        raw = values["interleave"].strip().lower()
        if raw not in ("pixel", "band"):
            raise OwsError("InterleavingInvalid", "interleave must be Pixel or Band", "geotiff:interleave", status=404)
        options["band_interleaved"] = raw == "band"
    if "tiling" in values:
        raw = values["tiling"].strip().lower()
        if raw not in ("true", "false"):
            raise OwsError("TilingInvalid", "tiling must be true or false", "geotiff:tiling", status=404)
        options["tiled"] = raw == "true"
    if "tilewidth" in values or "tileheight" in values:
        if options.get("tiled") is False:
            raise OwsError("TilingInvalid", "tile sizes need tiling=true", "geotiff:tiling", status=404)
        width = _tile_side(values.get("tilewidth", "512"), "tilewidth")
        height = _tile_side(values.get("tileheight", "512"), "tileheight")
        options.update(tiled=True, block=(width, height))
    return GeoTiffOptions(**options)
