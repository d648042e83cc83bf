"""Sources are data, never instructions: what a file must be before GDAL opens it for publishing."""

from __future__ import annotations

import os
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp

from ogcserver.model.errors import SourceRefused
from ogcserver.model.labels import unique_names
from ogcserver.storage.readers import rasterio_reader
from ogcserver.storage.readers.gdal_options import SAFETY, apply_gdal_options
from ogcserver.storage.readers.rasterio_reader import RasterioReader, band_names
from ogcserver.storage.readers.vetting import SourceRules, default_roots
from tests.support.hostile_files import SECRET, canary, good_tiff, raw_band_vrt, simple_vrt, write_hostile_folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The hostile folder and the canary its network VRT points at (open for the whole module)."""
    with canary() as (port, seen):
        root = tmp_path_factory.mktemp("hostile")
        yield root, write_hostile_folder(root / "files", port), seen


def refusal(reader: RasterioReader, path) -> str:
    with pytest.raises(SourceRefused) as caught:
        reader.describe(str(path))
    return caught.value.reason


EXPECTED = {
    "raw_vrt": "its content is VRT, not the GeoTIFF its extension '.tif' says",
    "curl_vrt": "its content is VRT, not the GeoTIFF",
    "terapixel": "1000000 x 1000000 pixels; at most 262144 a side",
    "declared": "an uncompressed file of 35.4 KiB declares 61.0 MiB of pixels",
    "bomb": "a block of 16384 x 16384 pixels (256.0 MiB) must be decoded whole",
    "bands": "65535 bands; at most 1024",
    "zero_pixel": "no usable geotransform",
    "nan_pixel": "no usable geotransform (pixel size nan x nan",
    "truncated": "lies past the end of the file",
    "bad_offsets": "block 0,0 of band 1 lies past the end of the file",
    "bad_counts": "block 0,0 of band 1 lies past the end of the file",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_hostile_file_is_refused_with_its_reason(hostile, name):
    root, files, seen = hostile
    reader = RasterioReader(rules=SourceRules(allow_vrt=True, roots=(str(root),)))
    assert EXPECTED[name] in refusal(reader, files[name])
    assert seen == []


def test_each_limit_is_configurable(hostile):
    root, files, _ = hostile
    loose = SourceRules(max_side=2**31, max_bands=65535, max_block_bytes=2**30, max_uncompressed_ratio=1e9,
                        overviews_required_above=None)
    reader = RasterioReader(rules=loose)
    assert "declares 931.3 GiB of pixels" in refusal(reader, files["terapixel"])  # the next check down still holds
    for name in ("declared", "bomb", "bands"):
        assert reader.describe(str(files[name])).width >= 1
    wide = root / "wide.tif"
    with rasterio.open(wide, "w", driver="GTiff", width=9000, height=16, count=1, dtype="uint8", crs="EPSG:4326",
                       transform=rasterio.transform.from_origin(0, 10, 0.001, 0.001), tiled=True,
                       compress="deflate") as dst:
        dst.write(np.ones((1, 16, 9000), np.uint8))
    assert reader.describe(str(wide)).width == 9000
    assert "9000 x 16 pixels without overviews (add them with gdaladdo); overviews are required above 8192" in refusal(
        RasterioReader(rules=SourceRules(overviews_required_above=8192)), wide)


def test_the_format_comes_from_the_content_and_must_match_the_extension(tmp_path):
    reader = RasterioReader()
    png = tmp_path / "picture.tif"
    with rasterio.open(png, "w", driver="PNG", width=4, height=4, count=1, dtype="uint8") as dst:
        dst.write(np.ones((1, 4, 4), np.uint8))
    assert refusal(reader, png) == "its content is PNG, not the GeoTIFF its extension '.tif' says"
    text = tmp_path / "notes.tif"
    text.write_bytes(SECRET)
    assert "not a format ogcserver recognises" in refusal(reader, text)
    cdf = tmp_path / "air.nc"
    cdf.write_bytes(b"CDF\x01" + bytes(60))
    assert refusal(reader, cdf) == "netCDF: a multidimensional source, published per variable, not as one raster"
    assert "not a raster extension" in refusal(reader, tmp_path / "a.exe")
    for path in ("/vsicurl/http://127.0.0.1:9/a.tif", "http://127.0.0.1:9/a.tif", "/vsizip//vsicurl/x.zip/a.tif",
                 "NETCDF:a.nc:air", "MEM:::DATAPOINTER=0x1,PIXELS=1,LINES=1"):
        assert "sources are local files" in refusal(reader, path)
        with pytest.raises(SourceRefused):
            reader.vet(path)
    good = good_tiff(tmp_path / "good.TIF")
    assert reader.describe(str(good)).width == 64  # extensions compare without case
    vrt = tmp_path / "plain.vrt"
    vrt.write_text(simple_vrt(str(good)))
    assert "VRT sources are not enabled (settings: sources.allow_vrt, or ogcserver serve --allow-vrt)" in refusal(reader, vrt)


def test_vrt_sources_are_plain_local_files_inside_the_roots(tmp_path):
    data = tmp_path / "data"
    good = good_tiff(data / "good.tif")
    reader = RasterioReader(rules=SourceRules(allow_vrt=True, roots=(str(data),)))

    def vrt(name: str, text: str):
        path = data / name
        path.write_text(text)
        return path

    assert reader.describe(str(vrt("ok.vrt", simple_vrt("good.tif", relative=True)))).width == 64
    outside = good_tiff(tmp_path / "elsewhere" / "other.tif")
    cases = {
        "outside.vrt": (simple_vrt(str(outside)), "lies outside the data roots"),
        "dotdot.vrt": (simple_vrt("../elsewhere/other.tif", relative=True), "lies outside the data roots"),
        "raw.vrt": (raw_band_vrt(str(good)), "VRTRawRasterBand (raw bytes of another file) is not accepted"),
        "curl.vrt": (simple_vrt("/vsicurl/http://127.0.0.1:9/a.tif"), "is not a local file"),
        "s3.vrt": (simple_vrt("/vsis3/bucket/a.tif"), "is not a local file"),
        "http.vrt": (simple_vrt("http://127.0.0.1:9/a.tif"), "is not a local file"),
        "string.vrt": (simple_vrt("vrt://good.tif?bands=1"), "is not a local file"),
        "text.vrt": (simple_vrt(str(data / "secret.txt")), "'.txt' is not a raster extension"),
        "function.vrt": (simple_vrt("good.tif", relative=True, extra="<PixelFunctionType>inv</PixelFunctionType>"),
                         "pixel functions are not accepted"),
        "derived.vrt": (simple_vrt("good.tif", relative=True).replace(
            'band="1">', 'band="1" subClass="VRTDerivedRasterBand">'), "pixel functions are not accepted"),
        "warped.vrt": (simple_vrt("good.tif", relative=True).replace(
            "<VRTDataset ", '<VRTDataset subClass="VRTWarpedDataset" '), "VRT subclass 'VRTWarpedDataset'"),
        "entity.vrt": ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + simple_vrt("&e;"),
                       "a VRT with a DOCTYPE is not accepted"),
        "crs_url.vrt": (simple_vrt("good.tif", relative=True).replace(
            "<SRS>EPSG:4326</SRS>", "<SRS>http://127.0.0.1:9/crs</SRS>"), "a CRS given as a URL"),
        "broken.vrt": ("<VRTDataset><unclosed>", "not well-formed XML"),
    }
    (data / "secret.txt").write_bytes(SECRET)
    for name, (text, reason) in cases.items():
        assert reason in refusal(reader, vrt(name, text)), name
    # nested: a VRT on a VRT on a raw band, and a loop
    vrt("inner.vrt", raw_band_vrt(str(data / "secret.txt")))
    assert "source 'inner.vrt': VRTRawRasterBand" in refusal(reader, vrt("outer.vrt", simple_vrt("inner.vrt", relative=True)))
    vrt("b.vrt", simple_vrt("a.vrt", relative=True))
    assert "names itself" in refusal(reader, vrt("a.vrt", simple_vrt("b.vrt", relative=True)))


def test_a_vrt_layer_may_name_the_files_beside_it_by_default(tmp_path):
    data = tmp_path / "data"
    good_tiff(data / "good.tif")
    vrt = data / "beside.vrt"
    vrt.write_text(simple_vrt("good.tif", relative=True))
    elsewhere = good_tiff(tmp_path / "elsewhere" / "other.tif")
    assert default_roots([vrt, elsewhere]) == (str(data.resolve()), str(elsewhere.resolve()))
    reader = RasterioReader(rules=SourceRules(allow_vrt=True, roots=default_roots([vrt])))
    assert reader.describe(str(vrt)).width == 64
    outside = data / "outside.vrt"
    outside.write_text(simple_vrt(str(tmp_path / "elsewhere" / "other.tif")))
    assert "lies outside the data roots" in refusal(reader, outside)


def test_a_file_changed_into_a_hostile_one_is_refused_when_opened(tmp_path, caplog):
    """Checked again at every open: a file that passed registration and was then replaced (same
    size and time, so no re-registration) is refused before GDAL follows it anywhere."""
    data = tmp_path / "data"
    good_tiff(data / "good.tif")
    plain = data / "view.vrt"
    plain.write_text(simple_vrt("good.tif", relative=True))
    reader = RasterioReader(rules=SourceRules(allow_vrt=True, roots=(str(data),)))
    info = reader.describe(str(plain))
    with canary() as (port, seen):
        hostile = simple_vrt(f"/vsicurl/http://127.0.0.1:{port}/a.tif", relative=False)
        plain.write_text(hostile)
        with pytest.raises(SourceRefused):
            reader.pool.get(info.path)
        with pytest.raises(SourceRefused):
            reader.pool.get(info.path)
        assert seen == []
    assert [r.reason for r in caplog.records if r.getMessage() == "source refused"] == [(
        f"source '/vsicurl/http://127.0.0.1:{port}/a.tif' is not a local file: network, virtual file system and "
        "GDAL connection paths are not accepted")]  # logged once per process


def test_gdal_safety_options_keep_gdal_off_the_network(monkeypatch):
    """Behind the checks: even a path handed to GDAL directly connects nowhere."""
    for key in [*SAFETY, "GDAL_VRT_PYTHON_TRUSTED_MODULES"]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GDAL_VRT_PYTHON_TRUSTED_MODULES", "os")
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "3")
    apply_gdal_options()
    assert os.environ["GDAL_VRT_ENABLE_PYTHON"] == "NO" and "GDAL_VRT_PYTHON_TRUSTED_MODULES" not in os.environ
    assert os.environ["GDAL_HTTP_TIMEOUT"] == "3"  # tuning: the operator's value
    with canary() as (port, seen):
        monkeypatch.setenv("AWS_S3_ENDPOINT", f"127.0.0.1:{port}")
        monkeypatch.setenv("AWS_HTTPS", "NO")
        monkeypatch.setenv("AWS_NO_SIGN_REQUEST", "YES")
        for url in (f"/vsicurl/http://127.0.0.1:{port}/a.tif", f"http://127.0.0.1:{port}/a.tif", "/vsis3/bucket/a.tif",
                    f"/vsizip//vsicurl/http://127.0.0.1:{port}/a.zip/a.tif"):
            with pytest.raises(rasterio.errors.RasterioIOError):
                rasterio.open(url)
        assert seen == []


def test_every_entry_point_sets_the_options(monkeypatch, tmp_path):
    from ogcserver.app import create_app
    from ogcserver.cli import main
    from ogcserver.settings import settings_from_paths

    good = good_tiff(tmp_path / "good.tif")
    for entry in (lambda: create_app(settings_from_paths([good], {"data_dir": str(tmp_path / "s")})),
                  lambda: main(["validate-config", str(tmp_path / "missing.yaml")])):
        monkeypatch.delenv("CPL_VSIL_CURL_ALLOWED_FILENAME", raising=False)
        entry()
        assert os.environ["CPL_VSIL_CURL_ALLOWED_FILENAME"] == SAFETY["CPL_VSIL_CURL_ALLOWED_FILENAME"]


class Counted(str):
    """A band description that counts how often it is compared."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        Counted.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_band_names_take_linear_time():
    """65,535 bands: each name is compared a bounded number of times, not with every earlier one."""
    n = 65_535
    names = [Counted(f"b{i % 3}") if i % 2 else Counted(f"d{i}") for i in range(n)]
    Counted.comparisons = 0
    labels = unique_names(names)
    assert Counted.comparisons < 4 * n
    assert len(set(labels)) == n and labels[:4] == ("d0", "b1", "d2", "b0")
    assert labels[5] == "b2" and labels[7] == "b1_8"  # a repeated name takes its position
    ds = SimpleNamespace(descriptions=names, colorinterp=[ColorInterp.gray] * n)
    Counted.comparisons = 0
    assert band_names(ds) == labels and Counted.comparisons < 4 * n


def test_wcs_field_names_take_linear_time():
    from ogcserver.ows.wcs.common import band_index, field_names

    n = 65_535
    info = SimpleNamespace(name="many", band_names=tuple(Counted("same") for _ in range(n)))
    layer = SimpleNamespace(info=info)
    Counted.comparisons = 0
    names = field_names(layer)
    for token in ("same", "same_65535", "7"):
        band_index(layer, token, "RANGESUBSET")
    assert Counted.comparisons < 4 * n
    assert names[0] == "same" and names[-1] == "same_65535"
    assert band_index(layer, "same_65535", "RANGESUBSET") == n


def test_pool_and_describe_use_one_driver(tmp_path):
    """A GeoTIFF is opened by the GeoTIFF driver alone, so no other driver gets to interpret it."""
    good = good_tiff(tmp_path / "good.tif")
    shutil.copy(good, tmp_path / "copy.jp2")
    reader = RasterioReader()
    assert "its content is GeoTIFF, not the JPEG 2000" in refusal(reader, tmp_path / "copy.jp2")
    assert rasterio_reader.open_checked(str(good)).driver == "GTiff"


def test_the_sources_settings(tmp_path):
    from ogcserver.composition import raster_reader
    from ogcserver.settings import ConfigError, load_settings

    good = good_tiff(tmp_path / "data" / "good.tif")
    config = tmp_path / "c.yaml"
    config.write_text(f"sources: {{allow_vrt: true, roots: [data, /elsewhere], max_bands: 4}}\n"
                      f"services: [{{name: s, layers: [{{name: g, source: {good}}}]}}]\n")
    rules = raster_reader(load_settings(config)).rules
    assert rules.allow_vrt and rules.roots == (str(tmp_path / "data"), "/elsewhere") and rules.max_bands == 4
    config.write_text(f"services: [{{name: s, layers: [{{name: g, source: {good}}}]}}]\n")
    rules = raster_reader(load_settings(config)).rules  # by default VRTs are off, and the roots are the layers' sources
    assert not rules.allow_vrt and rules.roots == (str(good),) and rules.max_bands == 1024
    config.write_text(f"sources: {{max_bands: 0, allow_vrt: maybe}}\nservices: [{{name: s, layers: [{{name: g, source: {good}}}]}}]\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "sources.max_bands" in str(caught.value) and "sources.allow_vrt" in str(caught.value)


def test_a_vrt_georeferenced_by_rpcs_is_refused_while_vrts_are_off(tmp_path):
    """RPCs are read (georeferencing.py), so the VRT rules alone refuse such a VRT."""
    from ogcserver.storage.readers.vetting import check_source

    source = str(good_tiff(tmp_path / "scene.tif"))
    rpc = '<Metadata domain="RPC"><MDI key="LINE_OFF">1</MDI></Metadata>'
    without_transform = simple_vrt(source).replace("<GeoTransform>10, 0.001, 0, 50, 0, -0.001</GeoTransform>", rpc)
    (tmp_path / "rpc.vrt").write_text(without_transform)
    (tmp_path / "plain.vrt").write_text(simple_vrt(source))
    (tmp_path / "both.vrt").write_text(simple_vrt(source).replace("<SRS>", rpc + "<SRS>"))
    reasons = {}
    for name in ("rpc", "plain", "both"):
        with pytest.raises(SourceRefused) as refused:
            check_source(str(tmp_path / f"{name}.vrt"), SourceRules())
        reasons[name] = refused.value.reason
    assert set(reasons.values()) == {"VRT sources are not enabled (settings: sources.allow_vrt, or ogcserver serve --allow-vrt)"}
