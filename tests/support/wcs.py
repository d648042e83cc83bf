"""Decode WCS answers independently of ogcserver: GeoTIFFs with rasterio, multipart with email."""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP

import numpy as np
from affine import Affine
from rasterio.io import MemoryFile

WCS20 = "http://www.opengis.net/wcs/2.0"
OWS20 = "http://www.opengis.net/ows/2.0"
OWS11 = "http://www.opengis.net/ows/1.1"
OGC = "http://www.opengis.net/ogc"


@dataclass
class Coverage:
    data: np.ndarray
    mask: np.ndarray       # GDAL's dataset mask: True where valid
    transform: Affine
    crs: str
    nodata: float | None
    dtype: str
    profile: dict
    descriptions: tuple[str | None, ...]
    structure: dict[str, str]  # GDAL's IMAGE_STRUCTURE metadata: COMPRESSION, PREDICTOR, ...


def read_coverage(body: bytes) -> Coverage:
    with MemoryFile(body) as memfile, memfile.open() as ds:
        return Coverage(
            ds.read(), ds.dataset_mask() > 0, ds.transform, ds.crs.to_string() if ds.crs else "",
            ds.nodata, ds.dtypes[0], dict(ds.profile), ds.descriptions, ds.tags(ns="IMAGE_STRUCTURE"),
        )


def multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart/related body: (headers, content)."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    assert message.is_multipart()
    return [(dict(part.items()), part.get_payload(decode=True)) for part in message.iter_parts()]


def params(version: str, **kw: object) -> dict[str, str]:
    base = {"SERVICE": "WCS", "VERSION": version, "REQUEST": "GetCoverage"}
    base.update({k.upper(): str(v) for k, v in kw.items()})
    return base
