"""Raster functions: typed, bounded, chainable operations applied on the fly."""
