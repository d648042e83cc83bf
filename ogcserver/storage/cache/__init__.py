"""Tile cache stores behind one narrow interface (see ``ogcserver.storage.interfaces.TileStore``)."""
