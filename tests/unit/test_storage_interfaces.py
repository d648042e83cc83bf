"""Every storage implementation offers every method of the interface the core calls it through,
with the same parameters, so the core never needs to probe what a store or reader can do."""

from __future__ import annotations

import inspect

import pytest

from ogcserver.storage import interfaces
from ogcserver.storage.cache.directory import DirectoryStore
from ogcserver.storage.cache.s3_store import S3TileStore
from ogcserver.storage.cache.sqlite_stores import SqliteTileStore
from ogcserver.storage.catalogs.postgis import PostgisCatalog
from ogcserver.storage.catalogs.sqlite import SqliteCatalog
from ogcserver.storage.readers.rasterio_reader import RasterioReader
from ogcserver.storage.writers import GeoTiffWriter

IMPLEMENTATIONS = [
    (interfaces.RasterReader, RasterioReader),
    (interfaces.RasterWriter, GeoTiffWriter),
    (interfaces.CatalogStore, SqliteCatalog),
    (interfaces.CatalogStore, PostgisCatalog),
    (interfaces.TileStore, DirectoryStore),
    (interfaces.TileStore, SqliteTileStore),
    (interfaces.TileStore, S3TileStore),
]


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(protocol).items()
            if inspect.isfunction(member) and not name.startswith("_")}


def _parameters(signature: inspect.Signature) -> list[str]:
    return [p.name for p in signature.parameters.values()]


@pytest.mark.parametrize(("protocol", "implementation"), IMPLEMENTATIONS,
                         ids=[f"{i.__name__}-{p.__name__}" for p, i in IMPLEMENTATIONS])
def test_implementation_offers_the_whole_interface(protocol, implementation):
    for name, declared in _methods(protocol).items():
        method = getattr(implementation, name, None)
        assert callable(method), f"{implementation.__name__} lacks {protocol.__name__}.{name}"
        assert _parameters(inspect.signature(method)) == _parameters(declared), name


def test_the_core_reaches_stores_only_through_their_interfaces():
    """What the core used to probe for is declared: quota sweeps and dropping stale handles."""
    assert "enforce_quota" in _methods(interfaces.TileStore)
    assert "forget_handles" in _methods(interfaces.RasterReader)
