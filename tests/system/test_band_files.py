"""A Landsat 8 scene delivered as a file per band (USGS Collection 2: ``..._SR_B2.TIF`` to ``B5`` and
the ``_MTL.txt``), served as a new user does and through a configuration: one 4-band layer drawn
in natural colour, its four bands through WCS and GetFeatureInfo, NDVI over B5 and B4, and the
scene's time from the MTL. The shared files are copied: tests never write into the shared data."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from owslib.wcs import WebCoverageService
from PIL import Image

from ogcserver.app import core_of, create_app
from ogcserver.cli import main
from ogcserver.composition import catalog_store
from ogcserver.settings import load_settings, settings_from_paths
from tests.conftest import serving
from tests.support.clients import gdal, needs_gdal, read_tif
from tests.support.wcs import read_coverage

SCENE = "LC08_L2SP_008059_20191201_20200825_02_T1"
BANDS = ("B2", "B3", "B4", "B5")


@pytest.fixture(scope="module")
def scene(shared_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scenes") / "landsat8"
    shutil.copytree(shared_data / "landsat8-sr-16bit", folder)
    return folder


@pytest.fixture(scope="module")
def bands(scene) -> dict[str, np.ndarray]:
    out = {}
    for band in BANDS:
        with rasterio.open(scene / f"{SCENE}_SR_{band}.TIF") as ds:
            out[band] = ds.read(1)
            out["bounds"], out["transform"] = ds.bounds, ds.transform
    return out


def _client(settings):
    app = create_app(settings)
    core_of(app).engine.catalog.refresh(force=True)
    return app.test_client()


@pytest.fixture(scope="module")
def zero_config(scene, tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    return _client(settings_from_paths([scene], {"data_dir": str(state)}))


def _bbox(bands) -> str:
    b = bands["bounds"]
    return f"{b.left},{b.bottom},{b.right},{b.top}"


def test_one_layer_of_four_named_bands_at_the_scenes_time(zero_config):
    caps = zero_config.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").data.decode()
    assert re.findall(r"<Layer[^>]*>\s*<Name>([^<]+)</Name>", caps) == ["landsat8"]
    assert re.search(r'<Dimension name="time"[^>]*>2019-12-01T15:13:51Z</Dimension>', caps), caps
    described = zero_config.get("/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=DescribeCoverage&COVERAGEID=landsat8")
    assert re.findall(r'<swe:field name="([^"]+)"', described.data.decode()) == list(BANDS)
    assert re.findall(r"<swe:description>([^<]+)</swe:description>", described.data.decode()) == [
        f"{b}: stored values; value * 2.75e-05 + -0.2 is the physical value (scale and offset)" for b in BANDS]


def test_the_default_picture_is_natural_colour(zero_config, bands):
    r = zero_config.get(f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=landsat8&STYLES=&CRS=EPSG:32618"
                        f"&BBOX={_bbox(bands)}&WIDTH=512&HEIGHT=512&FORMAT=image/png&TRANSPARENT=TRUE")
    assert r.status_code == 200, r.data[:300]
    picture = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA")).astype(np.float64)
    valid = bands["B2"] > 0
    np.testing.assert_array_equal(picture[..., 3] > 0, valid)
    for channel, band in enumerate(("B4", "B3", "B2")):  # red, green, blue
        shown = picture[..., channel][valid]
        assert np.corrcoef(shown, bands[band][valid])[0, 1] > 0.99, band
        assert shown.std() > 20  # stretched over the 16-bit range the scene uses, not black
    assert np.corrcoef(picture[..., 0][valid], bands["B2"][valid])[0, 1] < np.corrcoef(
        picture[..., 0][valid], bands["B4"][valid])[0, 1]


def test_wcs_gives_the_four_files_and_feature_info_their_four_values(zero_config, bands):
    r = zero_config.get("/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=landsat8&FORMAT=image/tiff")
    assert r.status_code == 200, r.data[:300]
    with rasterio.open(io.BytesIO(r.data)) as coverage:
        assert coverage.descriptions == BANDS and coverage.transform == bands["transform"]
        assert coverage.scales == (2.75e-05,) * 4 and coverage.offsets == (-0.2,) * 4  # GDAL unscales with them
        for i, band in enumerate(BANDS, start=1):
            np.testing.assert_array_equal(coverage.read(i), bands[band])
    info = zero_config.get(f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=landsat8"
                           f"&QUERY_LAYERS=landsat8&STYLES=&CRS=EPSG:32618&BBOX={_bbox(bands)}&WIDTH=512&HEIGHT=512"
                           "&I=100&J=200&INFO_FORMAT=application/json")
    [feature] = json.loads(info.data)["layers"][0]["features"]
    assert feature["values"] == {band: int(bands[band][200, 100]) for band in BANDS}
    # the MTL's surface reflectance factors: reflectance = value * 2.75e-05 - 0.2
    assert (feature["scale"], feature["offset"]) == (dict.fromkeys(BANDS, 2.75e-05), dict.fromkeys(BANDS, -0.2))
    assert feature["acquired"].startswith("2019-12-01T15:13:51")


@pytest.fixture(scope="module")
def configured(scene, tmp_path_factory):
    folder = tmp_path_factory.mktemp("configured")
    config = folder / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")},
        "processing": [{"name": "ndvi_values", "chain": [{"function": "normalized_difference", "a": 4, "b": 3}]}],
        "services": [{"name": "s", "layers": [
            {"name": "scene", "source": str(scene), "styles": ["ndvi_values"]},
            {"name": "nir_red", "source": str(scene), "band_files": ["B5", "B4"]},
            {"name": "files", "source": str(scene), "band_files": "off"},
        ]}],
    }))
    return _client(load_settings(config))


def test_band_math_addresses_the_bands(configured, bands):
    query = {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "FORMAT": "image/tiff"}
    r = configured.get("/wcs", query_string={**query, "COVERAGEID": "scene", "PROCESSING": "ndvi_values"})
    assert r.status_code == 200, r.data[:300]
    ndvi = read_coverage(r.data)
    nir, red = bands["B5"].astype(np.float64), bands["B4"].astype(np.float64)
    valid = (nir > 0) & (red > 0)
    np.testing.assert_allclose(ndvi.data[0][valid], ((nir - red) / (nir + red))[valid], atol=1e-6)


def test_the_publisher_chooses_the_bands_and_their_order_or_none(configured, bands):
    query = {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "FORMAT": "image/tiff"}
    with rasterio.open(io.BytesIO(configured.get("/wcs", query_string={**query, "COVERAGEID": "nir_red"}).data)) as c:
        assert c.descriptions == ("B5", "B4")
        np.testing.assert_array_equal(c.read(1), bands["B5"])
    with rasterio.open(io.BytesIO(configured.get("/wcs", query_string={**query, "COVERAGEID": "files"}).data)) as c:
        assert c.count == 1  # four one-band items of one mosaic, as before band files were recognised


@pytest.fixture(scope="module")
def live(scene, tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    with serving([str(scene), "--data-dir", str(folder / "state")], folder, workers=1) as (url, _):
        yield url


@needs_gdal
def test_gdal_and_owslib_read_the_four_bands(live, bands, tmp_path):
    out = tmp_path / "gdal.tif"
    gdal("gdal_translate", "-q", "-oo", f"CACHE={tmp_path / 'cache'}", f"WCS:{live}/wcs?version=2.0.1&coverage=landsat8",
         str(out))
    picture, _grid = read_tif(out)
    np.testing.assert_array_equal(picture, np.stack([bands[b] for b in BANDS]))
    coverage = WebCoverageService(f"{live}/wcs", version="2.0.1").getCoverage(identifier="landsat8", format="image/tiff")
    with rasterio.open(io.BytesIO(coverage.read())) as c:
        assert c.descriptions == BANDS
        np.testing.assert_array_equal(c.read(), picture)


def _catalog_config(folder: Path) -> Path:
    config = folder / "catalog.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(folder / "state")}, "services": [
        {"name": "s", "allow_download": True, "layers": [{"name": "added", "collection": "added"}]}]}))
    return config


@pytest.mark.parametrize("named", ["folder", "files"])
def test_catalog_add_makes_one_item_per_scene(scene, tmp_path, named):
    config = _catalog_config(tmp_path)
    paths = [str(scene)] if named == "folder" else [str(p) for p in sorted(scene.glob("*.TIF"))]  # a shell's *.TIF
    assert main(["catalog", "add", "added", *paths, "-c", str(config)]) == 0
    [item] = catalog_store(load_settings(config)).items("added")
    assert item.key == f"{SCENE}_SR"
    assert (item.source.count, item.source.band_names) == (4, BANDS)
    assert item.acquired.isoformat().startswith("2019-12-01T15:13:51")


def test_catalog_add_can_keep_band_files_apart(scene, tmp_path):
    config = _catalog_config(tmp_path)
    assert main(["catalog", "add", "added", str(scene), "--band-files", "off", "-c", str(config)]) == 0
    items = catalog_store(load_settings(config)).items("added")
    assert sorted(i.key for i in items) == [f"{SCENE}_SR_{band}" for band in BANDS]
    assert main(["catalog", "add", "added", str(scene), "--band-files", "B5,../B4", "-c", str(config)]) == 2


def test_catalog_add_of_a_stac_item_of_band_assets_adds_the_asset_named(scene, tmp_path, bands):
    config = _catalog_config(tmp_path)
    b = bands["bounds"]
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "scene", "bbox": [0, 0, 1, 1], "geometry": None,
            "properties": {"datetime": "2019-12-01T15:13:51Z"}, "links": [],
            "assets": {band: {"href": str(scene / f"{SCENE}_SR_{band}.TIF"), "type": "image/tiff; application=geotiff",
                              "roles": ["data"]} for band in BANDS}}
    stac = tmp_path / "item.json"
    stac.write_text(json.dumps(item))
    assert main(["catalog", "add", "added", "--stac", str(stac), "--asset", "B4", "-c", str(config)]) == 0
    [added] = catalog_store(load_settings(config)).items("added")
    assert (added.key, added.source.path, added.source.count) == ("scene", str(scene / f"{SCENE}_SR_B4.TIF"), 1)
    assert added.source.bounds.minx == b.left


def test_the_original_of_a_scene_is_a_zip_of_its_files_and_mtl(scene, tmp_path):
    config = _catalog_config(tmp_path)
    assert main(["catalog", "add", "added", str(scene), "-c", str(config)]) == 0
    client = _client(load_settings(config))
    own = f"/catalog/added/items/{SCENE}_SR"
    [enclosure] = [link for link in client.get(own).get_json()["links"] if link["rel"] == "enclosure"]
    assert enclosure["type"] == "application/zip"
    r = client.get(f"{own}/download")
    assert r.status_code == 200, r.data[:300]
    assert r.mimetype == "application/zip" and f'filename="{SCENE}_SR.zip"' in r.headers["Content-Disposition"]
    assert int(r.headers["Content-Length"]) == len(r.data)
    with zipfile.ZipFile(io.BytesIO(r.data)) as zipped:
        names = zipped.namelist()
        assert names == [f"{SCENE}_SR_{band}.TIF" for band in BANDS] + [f"{SCENE}_MTL.txt"]
        for name in names:
            assert zipped.read(name) == (scene / name).read_bytes()
