"""Output formats the renderer can encode, and the encoded result."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ImageFormat(enum.Enum):
    PNG = "image/png"
    PNG8 = "image/png; mode=8bit"
    JPEG = "image/jpeg"
    GEOTIFF = "image/tiff"

    @property
    def supports_alpha(self) -> bool:
        return self in (ImageFormat.PNG, ImageFormat.PNG8, ImageFormat.GEOTIFF)

    @property
    def content_type(self) -> str:
        return "image/png" if self is ImageFormat.PNG8 else self.value


class Resampling(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    CUBIC = "cubic"
    AVERAGE = "average"
    LANCZOS = "lanczos"


@dataclass(frozen=True)
class EncodedImage:
    body: bytes
    content_type: str
    skipped: int = 0  # unreadable mosaic items left out of the picture
