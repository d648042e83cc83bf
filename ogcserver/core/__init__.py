"""The shared core: catalog selection, mosaic, styling and encoding for every protocol."""
