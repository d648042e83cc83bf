"""Plain values shared by every layer: geometry, rasters, formats, catalog records, errors."""
