"""A configured folder mosaic holding a file of another data type: the file is left out of every
read and named once in the log, and the layer answers as the files of its own kind draw it
(before, a WCS GetCoverage over a float file among byte tiles failed with a 500)."""

from __future__ import annotations

import logging

import numpy as np
import rasterio
import yaml
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from ogcserver.app import create_app
from ogcserver.settings import load_settings


def _raster(path, count: int, dtype: str, west: float, value: float) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=count, dtype=dtype, crs="EPSG:4326",
                       transform=from_origin(west, 10, 0.1, 0.1), nodata=0) as ds:
        ds.write(np.full((count, 64, 64), value, dtype=dtype))


def _coverage_of_folder(tmp_path, folder, caplog):
    """A server of one layer ``m`` over the folder (built while warnings are recorded) and its whole
    WCS 2.0.1 GeoTIFF coverage."""
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")},
                                      "services": [{"name": "s", "layers": [{"name": "m", "source": str(folder)}]}]}))
    with caplog.at_level(logging.WARNING):
        client = create_app(load_settings(config)).test_client()
        response = client.get("/wcs", query_string={"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                                     "COVERAGEID": "m", "FORMAT": "image/tiff"})
    return client, response


def test_a_file_of_another_data_type_is_left_out_and_named(tmp_path, caplog):
    folder = tmp_path / "tiles"
    folder.mkdir()
    _raster(folder / "a.tif", 1, "uint8", 0.0, 7)
    _raster(folder / "b.tif", 1, "float32", 6.4, 300.5)
    _client, response = _coverage_of_folder(tmp_path, folder, caplog)
    assert response.status_code == 200, response.data[:300]
    with MemoryFile(response.data) as memfile, memfile.open() as ds:
        assert ds.dtypes[0] == "uint8"
        values = ds.read(1, masked=True)
        west = ds.transform * (0, 0)
    columns = np.arange(values.shape[1]) * 0.1 + west[0] + 0.05
    assert (values[:, columns < 6.4] == 7).all()  # a.tif as it is
    assert values[:, columns > 6.4].mask.all()  # b.tif nowhere, not cast into bytes
    named = [r for r in caplog.records if "data type or band count is not the layer's" in r.getMessage()]
    assert len(named) == 1 and "b.tif (1 band(s) of float32)" in named[0].items


def test_a_scene_of_other_bands_is_left_out_and_named(tmp_path, caplog):
    folder = tmp_path / "scenes"
    folder.mkdir()
    for band in ("B2", "B3", "B4", "B5"):  # the first scene by name: four bands
        _raster(folder / f"LC08_A_SR_{band}.tif", 1, "uint16", 0.0, 1000)
    for band in ("B2", "B3", "B4"):  # delivered without B5: three bands of the same data type
        _raster(folder / f"LC08_B_SR_{band}.tif", 1, "uint16", 6.4, 2000)
    client, response = _coverage_of_folder(tmp_path, folder, caplog)
    with caplog.at_level(logging.WARNING):
        picture = client.get("/wms", query_string={
            "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "m", "STYLES": "", "CRS": "CRS:84",
            "BBOX": "0,3.6,12.8,10", "WIDTH": "128", "HEIGHT": "64", "FORMAT": "image/png"})
    assert response.status_code == 200, response.data[:300]
    assert picture.status_code == 200 and picture.mimetype == "image/png", picture.data[:300]
    with MemoryFile(response.data) as memfile, memfile.open() as ds:
        assert ds.count == 4
        values = ds.read(masked=True)
        west = ds.transform * (0, 0)
    columns = np.arange(values.shape[2]) * 0.1 + west[0] + 0.05
    assert (values[:, :, columns < 6.4] == 1000).all()
    assert values[:, :, columns > 6.4].mask.all()  # the three-band scene nowhere
    named = [r for r in caplog.records if "band count is not the layer's" in r.getMessage()]
    assert len(named) == 1 and named[0].items == ["LC08_B_SR_{B2,B3,B4}.tif (3 band(s) of uint16)"]
