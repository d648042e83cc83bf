"""ogcserver: an image service server for WMS, WCS, WMTS and KML clients."""

import sys

__version__ = "0.1.0"


def _rasterio_without_boto3() -> None:
    """Import rasterio with boto3 hidden. rasterio's session module imports boto3 whenever it is
    installed, only to build sessions for ``s3://`` paths; ogcserver reads buckets through GDAL's
    ``/vsis3/`` with its own options (storage/readers/remote.py) and imports boto3 itself where it
    writes to one. Hidden, every server worker starts about 18 MiB smaller (66 against 48 MiB
    after ``import rasterio``)."""
    if "rasterio" in sys.modules or "boto3" in sys.modules:
        return
    sys.modules["boto3"] = None  # type: ignore[assignment]  # makes "import boto3" raise ImportError
    try:
        import rasterio.session  # noqa: F401
    finally:
        del sys.modules["boto3"]


_rasterio_without_boto3()
