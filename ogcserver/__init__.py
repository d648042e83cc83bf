"""ogcserver: an image service server for WMS, WCS, WMTS and KML clients."""

__version__ = "0.1.0"
