"""A scene's band files read as one raster: listed as one source when their grids agree, opened as
one multiband dataset built from the vetted files alone, timed by the scene's MTL."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from ogcserver.model.band_files import BandStack
from ogcserver.model.errors import SourceRefused
from ogcserver.storage.catalogs.files import list_source_files
from ogcserver.storage.readers.band_stack import mtl_scaling
from ogcserver.storage.readers.rasterio_reader import RasterioReader
from ogcserver.storage.readers.vetting import DEFAULT_RULES, check_source

MTL = """GROUP = LANDSAT_METADATA_FILE
  GROUP = IMAGE_ATTRIBUTES
    DATE_ACQUIRED = 2019-12-01
    SCENE_CENTER_TIME = "15:13:51.8610990Z"
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
    REFLECTANCE_MULT_BAND_2 = 2.75e-05
    REFLECTANCE_MULT_BAND_3 = 2.75e-05
    REFLECTANCE_MULT_BAND_4 = 2.75e-05
    REFLECTANCE_ADD_BAND_2 = -0.2
    REFLECTANCE_ADD_BAND_3 = -0.2
    REFLECTANCE_ADD_BAND_4 = -0.2
  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
  GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS
    TEMPERATURE_MULT_BAND_ST_B10 = 0.00341802
    TEMPERATURE_ADD_BAND_ST_B10 = 149.0
  END_GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS
  GROUP = LEVEL1_RADIOMETRIC_RESCALING
    REFLECTANCE_MULT_BAND_2 = 2.0000E-05
    REFLECTANCE_ADD_BAND_2 = -0.100000
  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING
END_GROUP = LANDSAT_METADATA_FILE
"""


def _band(path: Path, value: int, count: int = 1, origin: float = 500_000, dtype: str = "uint16") -> None:
    data = np.full((count, 16, 16), value, dtype)
    data[:, 0, 0] = 0
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=count, dtype=dtype, nodata=0,
                       crs="EPSG:32618", transform=from_origin(origin, 200_000, 30, 30)) as ds:
        ds.write(data)


@pytest.fixture()
def scene(tmp_path) -> Path:
    for n, band in enumerate(("B2", "B3", "B4", "B5"), start=1):
        _band(tmp_path / f"LC08_L2SP_008059_20191201_20200825_02_T1_SR_{band}.TIF", 1000 * n)
    (tmp_path / "LC08_L2SP_008059_20191201_20200825_02_T1_MTL.txt").write_text(MTL)
    return tmp_path


def _paths(folder: Path, band_files: object = "auto") -> list[str]:
    return [p for p, _m, _s in list_source_files(folder, "*.tif", band_files=band_files)]


def test_a_scenes_band_files_are_one_source_stamped_by_all_of_them(scene):
    [(path, mtime, size)] = list_source_files(scene, "*.tif", band_files="auto")
    assert path == f"bands:{scene}/LC08_L2SP_008059_20191201_20200825_02_T1_SR_{{B2,B3,B4,B5}}.TIF"
    files = list(scene.glob("*.TIF"))
    assert mtime == max(f.stat().st_mtime for f in files)
    assert size == sum(f.stat().st_size for f in files)
    assert len(_paths(scene, "off")) == 4


def test_band_files_on_other_grids_or_of_several_bands_stay_files(tmp_path):
    _band(tmp_path / "a_B1.tif", 1)
    _band(tmp_path / "a_B2.tif", 2, origin=500_030)  # shifted by a pixel
    _band(tmp_path / "b_B1.tif", 1)
    _band(tmp_path / "b_B2.tif", 2, count=2)
    _band(tmp_path / "c_B1.tif", 1)
    _band(tmp_path / "c_B2.tif", 2, dtype="int16")
    assert _paths(tmp_path) == sorted(str(p) for p in tmp_path.glob("*.tif"))


def test_the_stack_reads_as_one_raster_with_its_bands_named_and_timed(scene):
    [path] = _paths(scene)
    reader = RasterioReader()
    info = reader.describe(path)
    assert (info.count, info.dtype, info.nodata, info.band_names) == (4, "uint16", 0, ("B2", "B3", "B4", "B5"))
    assert info.acquired == datetime(2019, 12, 1, 15, 13, 51, 861099, tzinfo=UTC)
    with rasterio.open(scene / "LC08_L2SP_008059_20191201_20200825_02_T1_SR_B2.TIF") as first:
        assert (info.bounds.minx, info.bounds.maxy, info.width) == (first.bounds.left, first.bounds.top, 16)
    assert reader.sample(info, 500_045, 199_955, "EPSG:32618") == [1000, 2000, 3000, 4000]
    assert reader.footprint(info) is not None


def test_without_an_mtl_the_name_gives_the_day(scene):
    (scene / "LC08_L2SP_008059_20191201_20200825_02_T1_MTL.txt").unlink()
    [path] = _paths(scene)
    assert RasterioReader().describe(path).acquired == datetime(2019, 12, 1, tzinfo=UTC)


def test_a_stack_names_only_vetted_raster_files(tmp_path):
    (tmp_path / "x_B1.vrt").write_text('<VRTDataset rasterXSize="1" rasterYSize="1"></VRTDataset>')
    (tmp_path / "x_B2.vrt").write_text('<VRTDataset rasterXSize="1" rasterYSize="1"></VRTDataset>')
    stack = f"bands:{tmp_path}/x_{{B1,B2}}.vrt"
    with pytest.raises(SourceRefused) as refused:
        check_source(stack, DEFAULT_RULES)
    assert "VRT sources are not enabled" in refused.value.reason
    with pytest.raises(SourceRefused) as refused:  # not even where VRT files may be published
        check_source(stack, replace(DEFAULT_RULES, allow_vrt=True, roots=(str(tmp_path),)))
    assert "band files are GeoTIFF" in refused.value.reason
    for target, reason in (("/etc/passwd", "not a raster extension"), ("/vsicurl/http://x.org/a.tif", "network")):
        head, name = os.path.split(target)
        with pytest.raises(SourceRefused) as refused:
            check_source(f"bands:{head}/{name}{{B1,B2}}", DEFAULT_RULES)
        assert reason in refused.value.reason


def test_the_mtl_gives_each_band_its_scale_and_offset_and_the_values_stay(scene):
    [path] = _paths(scene)
    info = RasterioReader().describe(path)
    # B5 has no factors in this MTL; B2 takes the surface reflectance ones, listed before Level-1's
    assert info.scales == (2.75e-05, 2.75e-05, 2.75e-05, 1.0) and info.offsets == (-0.2, -0.2, -0.2, 0.0)
    assert RasterioReader().sample(info, 500_045, 199_955, "EPSG:32618") == [1000, 2000, 3000, 4000]


def test_a_surface_temperature_file_takes_the_temperature_factors(scene):
    stack = BandStack(str(scene), "LC08_L2SP_008059_20191201_20200825_02_T1_ST_", ".TIF", ("B10",))
    assert mtl_scaling(stack) == ((0.00341802,), (149.0,))
    (scene / "LC08_L2SP_008059_20191201_20200825_02_T1_MTL.txt").unlink()
    assert mtl_scaling(stack) == ((1.0,), (0.0,))


def test_files_without_scale_or_offset_publish_none(tmp_path):
    _band(tmp_path / "plain.tif", 7)
    info = RasterioReader().describe(str(tmp_path / "plain.tif"))
    assert (info.scales, info.offsets) == ((), ())
    with rasterio.open(tmp_path / "plain.tif", "r+") as ds:
        ds.scales, ds.offsets = (0.01,), (-5.0,)
    info = RasterioReader().describe(str(tmp_path / "plain.tif"))
    assert (info.scales, info.offsets) == ((0.01,), (-5.0,))
