"""Memory a request will hold, estimated before anything is read (see ``limits.max_request_bytes``).

Counted: each mosaic item's part as the reader returns it (its bands, in the source dtype, plus
a validity band), the mosaic's accumulators, the raster functions' float32 intermediates and,
for maps, the RGBA picture and its encoded copy. The input window at the chosen overview and the
largest block to inflate are checked by the reader per item, against what is left.
"""

from __future__ import annotations

import numpy as np

from ogcserver.model.mosaic import Operator

FUNCTION_COPIES = 3  # a function holds its input as float32, its output and a temporary of one band stack
PICTURE_BYTES = 8    # per output pixel: the RGBA picture and the flattened (or filtered) copy encoded


def raster_bytes(pixels: int, count: int, dtype: str) -> int:
    """Bytes of ``count`` bands of ``pixels`` values of ``dtype``."""
    return pixels * count * np.dtype(dtype).itemsize


def mosaic_bytes(pixels: int, bands: int, dtype: str, operator: Operator, processed: bool) -> int:
    """One item's part and the accumulators of the operator; with a chain, its intermediates."""
    part = raster_bytes(pixels, bands + 1, dtype) + pixels  # values with the alpha the warper adds; validity
    combining = operator in (Operator.MEAN, Operator.BLEND)
    accumulator = raster_bytes(pixels, bands, "float64" if combining else dtype) + pixels * (1 + 8)
    chain = raster_bytes(pixels, max(bands, 4), "float32") * FUNCTION_COPIES if processed else 0
    return part + accumulator + chain


def picture_bytes(pixels: int) -> int:
    return pixels * PICTURE_BYTES
