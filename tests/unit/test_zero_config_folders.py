"""Zero configuration on folders: one mosaic for rasters of one kind, a layer per subfolder and
file for a folder of unlike datasets (never one mosaic drawing them all as one picture), and the
folder's raster format found when it holds no GeoTIFF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from ogcserver.settings import settings_from_paths
from ogcserver.storage.catalogs.files import list_source_files


def _raster(path: Path, count: int, dtype: str, driver: str = "GTiff") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver=driver, width=8, height=8, count=count, dtype=dtype, crs="EPSG:4326",
                       transform=from_origin(0, 8, 1, 1)) as ds:
        ds.write(np.ones((count, 8, 8), dtype=dtype))


def _layers(path: Path) -> dict[str, tuple[str, str]]:
    return {layer.name: (Path(str(layer.source)).relative_to(path.parent).as_posix(), layer.pattern)
            for layer in settings_from_paths([path]).services[0].layers}


def test_a_folder_of_unlike_datasets_is_a_layer_per_subfolder_and_file(tmp_path):
    data = tmp_path / "imagery"
    _raster(data / "dem" / "dem.tif", 1, "float32")
    _raster(data / "ortho" / "2020" / "a.tif", 3, "uint8")
    _raster(data / "ortho" / "2021" / "b.tif", 3, "uint8")
    _raster(data / "scene.tif", 4, "uint16")
    assert _layers(data) == {"dem": ("imagery/dem", "*.tif"), "ortho": ("imagery/ortho", "*.tif"),
                             "scene": ("imagery/scene.tif", "*.tif")}


def test_unlike_rasters_in_a_subfolder_are_split_again(tmp_path):
    data = tmp_path / "imagery"
    _raster(data / "dem" / "dem.tif", 1, "float32")
    _raster(data / "mixed" / "rgb.tif", 3, "uint8")
    _raster(data / "mixed" / "grey.tif", 1, "uint8")
    assert set(_layers(data)) == {"dem", "grey", "rgb"}


def test_a_folder_of_one_kind_in_subfolders_stays_one_mosaic(tmp_path):
    data = tmp_path / "ortho"
    for year in ("2020", "2021", "2022"):
        _raster(data / year / f"tile_{year}.tif", 3, "uint8")
    assert _layers(data) == {"ortho": ("ortho", "*.tif")}


def test_a_folder_without_geotiffs_takes_its_raster_format(tmp_path):
    data = tmp_path / "erdas"
    _raster(data / "a.img", 1, "int16", driver="HFA")
    _raster(data / "b.img", 1, "int16", driver="HFA")
    assert _layers(data) == {"erdas": ("erdas", "*.img")}


def test_a_scenes_band_files_beside_other_rasters_are_one_layer(tmp_path):
    data = tmp_path / "imagery"
    _raster(data / "dem" / "dem.tif", 1, "float32")
    for band in ("B2", "B3", "B4"):
        _raster(data / f"LC08_L2SP_008059_20191201_SR_{band}.TIF", 1, "uint16")
    _raster(data / "LC08_L2SP_008059_20191201_ST_B10.TIF", 1, "uint16")  # another product of the scene
    _raster(data / "rgb.tif", 3, "uint8")
    layers = {layer.name: layer for layer in settings_from_paths([data]).services[0].layers}
    assert set(layers) == {"dem", "LC08_L2SP_008059_20191201_SR", "LC08_L2SP_008059_20191201_ST_B10", "rgb"}
    scene = layers["LC08_L2SP_008059_20191201_SR"]
    [(path, _mtime, _size)] = list_source_files(scene.source, scene.pattern, band_files=scene.band_files)
    assert path == f"bands:{data}/LC08_L2SP_008059_20191201_SR_{{B2,B3,B4}}.TIF"
