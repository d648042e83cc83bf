"""Storage: raster readers, catalog stores and (later) tile cache stores, below the core."""
