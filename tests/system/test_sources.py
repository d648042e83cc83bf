"""Source kinds: JPEG2000, VRT, int16; limits that protect the server (render time)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support import rasters
from tests.support.reference import decode, default_stretch, params

X0, Y0 = rasters.ORIGIN


def serve(tmp_path, layers, sources=None, **limits):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(tmp_path / "state")},
        "limits": limits,
        "sources": sources or {},
        "services": [{"name": "s", "layers": layers}],
    }))
    return create_app(load_settings(config)).test_client()


def native_view(client, layer, size=100):
    q = params(LAYERS=layer, CRS="EPSG:32632", BBOX=f"{X0},{Y0 - size * 10},{X0 + size * 10},{Y0}",
               WIDTH=size, HEIGHT=size)
    r = client.get("/wms", query_string=q)
    return r


def test_jpeg2000_vrt_and_int16_sources(tmp_path):
    data = rasters.texture((100, 100), 3, seed=9)
    t = from_origin(X0, Y0, 10, 10)
    with rasterio.open(tmp_path / "img.jp2", "w", driver="JP2OpenJPEG", width=100, height=100, count=3,
                       dtype="uint8", crs=rasters.UTM, transform=t, QUALITY=100, REVERSIBLE="YES") as dst:
        dst.write(data)
    tif = rasters.write(tmp_path / "img.tif", data, t)
    (tmp_path / "img.vrt").write_text(f"""<VRTDataset rasterXSize="100" rasterYSize="100">
  <SRS>{rasters.UTM}</SRS><GeoTransform>{X0}, 10, 0, {Y0}, 0, -10</GeoTransform>
  {''.join(f'<VRTRasterBand dataType="Byte" band="{b}"><SimpleSource><SourceFilename relativeToVRT="1">{tif.name}</SourceFilename><SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>' for b in (1, 2, 3))}
</VRTDataset>""")
    signed = (rasters.texture((100, 100), 1, seed=10, dtype="float32", scale=2000) - 1000).astype("int16")
    rasters.write(tmp_path / "int16.tif", signed, t, nodata=-32768)
    client = serve(tmp_path, [
        {"name": "jp2", "source": str(tmp_path / "img.jp2")},
        {"name": "vrt", "source": str(tmp_path / "img.vrt")},
        {"name": "int16", "source": str(tmp_path / "int16.tif")},
    ], sources={"allow_vrt": True, "roots": [str(tmp_path)]})
    for layer in ("jp2", "vrt"):
        r = native_view(client, layer)
        assert r.status_code == 200, r.data[:300]
        np.testing.assert_array_equal(np.moveaxis(decode(r.data), 2, 0), data)  # lossless JPEG2000
    r = native_view(client, "int16")
    grey = decode(r.data)[..., 0]
    # the default stretch maps numpy's 2nd and 98th percentiles of the values to 0 and 255
    low, high = np.percentile(signed[0], [2, 98])
    stats = client.application.extensions["ogcserver"].catalog.layer("int16").info.statistics[0]
    assert (stats.low, stats.high) == pytest.approx((low, high), rel=1e-9)
    np.testing.assert_array_equal(grey, default_stretch(signed[0], low, high))
    # strictly increasing and full range: 0 and 255 are reached, and every level in between is used
    assert set(np.unique(grey).tolist()) == set(range(256))
    order = np.argsort(signed[0].ravel(), kind="stable")
    assert np.all(np.diff(grey.ravel()[order].astype(int)) >= 0)
    q = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetFeatureInfo", "LAYERS": "int16", "QUERY_LAYERS": "int16",
         "STYLES": "", "CRS": "EPSG:32632", "BBOX": f"{X0},{Y0 - 1000},{X0 + 1000},{Y0}", "WIDTH": 100, "HEIGHT": 100,
         "I": 7, "J": 3, "INFO_FORMAT": "application/json"}
    hit = client.get("/wms", query_string=q).get_json()["layers"][0]["features"][0]
    assert hit["values"]["band_1"] == int(signed[0, 3, 7])


def test_render_timeout_answers_503_not_500(tmp_path, data_dir):
    client = serve(tmp_path, [{"name": "m", "source": str(data_dir / "tiles")}], render_timeout=1e-9)
    r = native_view(client, "m")
    assert r.status_code == 503 and b"NoApplicableCode" in r.data and b"time limit" in r.data


def test_corrupt_file_in_a_mosaic_is_skipped(tmp_path, data_dir, caplog):
    """A file that breaks after indexing (same size and time) is left out of the picture."""
    import os
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(data_dir / "tiles", folder)
    layers = [{"name": "m", "source": str(folder)}]
    assert native_view(serve(tmp_path, layers), "m").status_code == 200
    path = folder / "tile_0.tif"
    stat = path.stat()
    with open(path, "r+b") as f:
        f.seek(stat.st_size // 2)
        f.write(b"\0" * (stat.st_size - stat.st_size // 2))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    client = serve(tmp_path, layers)  # a new process would open the broken file
    r = client.get("/wms", query_string=params(LAYERS="m", CRS="EPSG:32632", BBOX=f"{X0},{Y0 - 5000},{X0 + 6000},{Y0}",
                                                 WIDTH=60, HEIGHT=50, TRANSPARENT="TRUE"))
    assert r.status_code == 200
    img = decode(r.data)
    assert "source skipped" in caplog.text
    assert (img[..., 3] == 255).mean() > 0.5  # the other three tiles are drawn
