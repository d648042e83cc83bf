"""OWSLib against the real server (gunicorn, 2 workers, subprocess): what QGIS-like clients do."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import requests
from owslib.util import ServiceException
from owslib.wms import WebMapService

from tests.support import rasters
from tests.support.reference import decode


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_owslib_reads_capabilities(live_server, version):
    wms = WebMapService(live_server + "/wms", version=version)
    assert wms.identification.title == "Test server"
    assert list(wms.contents) == ["parent", "mosaic", "dem", "ms16", "rgba", "masked", "newest", "oldest"]
    dem = wms["dem"]
    assert dem.boundingBoxWGS84[0] == pytest.approx(9.0, abs=0.1)
    assert "EPSG:3857" in dem.crsOptions and "EPSG:32632" in dem.crsOptions
    assert "default" in dem.styles
    ops = {op.name for op in wms.operations}
    assert {"GetCapabilities", "GetMap", "GetFeatureInfo"} <= ops
    assert "image/png" in wms.getOperationByName("GetMap").formatOptions


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_owslib_getmap_matches_source(live_server, data_dir, version):
    wms = WebMapService(live_server + "/wms", version=version)
    x0, y0 = rasters.ORIGIN
    bbox = (x0 + 1000, y0 - 3000, x0 + 4000, y0 - 1000)
    img = wms.getmap(layers=["mosaic"], styles=[""], srs="EPSG:32632", bbox=bbox, size=(300, 200), format="image/png")
    pixels = decode(img.read())
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        np.testing.assert_array_equal(np.moveaxis(pixels, 2, 0), src.read()[:, 100:300, 100:400])


def test_owslib_getmap_error_raises_service_exception(live_server):
    wms = WebMapService(live_server + "/wms", version="1.3.0")
    with pytest.raises(ServiceException):
        wms.getmap(layers=["mosaic"], styles=[""], srs="EPSG:32632", bbox=(0, 0, 1, 1), size=(100000, 10), format="image/png")


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_owslib_feature_info(live_server, data_dir, version):
    wms = WebMapService(live_server + "/wms", version=version)
    x0, y0 = rasters.ORIGIN
    bbox = (x0, y0 - 3000, x0 + 3000, y0)  # 300 x 300 source pixels shown at 100 x 100
    response = wms.getfeatureinfo(
        layers=["dem"], query_layers=["dem"], srs="EPSG:32632", bbox=bbox, size=(100, 100),
        format="image/png", xy=(40, 70), info_format="application/json",
    )
    data = json.loads(response.read())
    hit = data["layers"][0]["features"][0]
    with rasterio.open(data_dir / "dem.tif") as src:
        expected = float(src.read(1)[70 * 3 + 1, 40 * 3 + 1])  # pixel centre (121.5, 211.5) source px
    assert hit["values"]["elevation"] == pytest.approx(expected)
    assert hit["item"] == "dem.tif"


def test_mosaic_feature_info_names_the_top_item(live_server):
    """Where two dated items overlap, the newest answers, with its acquisition time."""
    x0, y0 = rasters.ORIGIN
    bbox = f"{x0 + 1500},{y0 - 1900},{x0 + 1900},{y0 - 1500}"
    q = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetFeatureInfo", "LAYERS": "newest", "QUERY_LAYERS": "newest",
         "STYLES": "", "CRS": "EPSG:32632", "BBOX": bbox, "WIDTH": 10, "HEIGHT": 10, "I": 5, "J": 5,
         "INFO_FORMAT": "application/json", "FEATURE_COUNT": 5}
    hits = requests.get(live_server + "/wms", params=q, timeout=10).json()["layers"][0]["features"]
    assert [h["item"] for h in hits] == ["new.tif", "old.tif"]
    assert hits[0]["values"]["red"] == 200 and hits[0]["acquired"].startswith("2022-01-01")
    for fmt in ("text/plain", "text/xml", "text/html"):
        r = requests.get(live_server + "/wms", params=dict(q, INFO_FORMAT=fmt), timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(fmt) and b"new.tif" in r.content


def test_landing_health_metrics_preview(live_server):
    page = requests.get(live_server + "/", timeout=10)
    assert page.status_code == 200 and "/services/demo/wms" in page.text and "/preview/mosaic" in page.text
    assert requests.get(live_server + "/healthz", timeout=10).json() == {"status": "ok", "layers": 8}
    preview = requests.get(live_server + "/preview/mosaic", timeout=10)
    assert preview.status_code == 200 and "viewer.js" in preview.text and "leaflet.js" in preview.text
    assert requests.get(live_server + "/static/viewer.js", timeout=10).status_code == 200
    assert requests.get(live_server + "/preview/nothing", timeout=10).status_code == 404
    metrics = requests.get(live_server + "/metrics", timeout=10).text
    assert "ogcserver_requests_total" in metrics


def test_gdal_wms_client_reads_a_map(live_server, data_dir):
    """GDAL's own WMS driver, as QGIS uses it, reads the map through a GDAL_WMS description."""
    x0, y0 = rasters.ORIGIN
    xml = f"""<GDAL_WMS><Service name="WMS"><Version>1.1.1</Version>
      <ServerUrl>{live_server}/wms?</ServerUrl><SRS>EPSG:32632</SRS><ImageFormat>image/png</ImageFormat>
      <Layers>parent</Layers><Styles></Styles></Service>
      <DataWindow><UpperLeftX>{x0}</UpperLeftX><UpperLeftY>{y0}</UpperLeftY>
      <LowerRightX>{x0 + 2560}</LowerRightX><LowerRightY>{y0 - 2560}</LowerRightY>
      <SizeX>256</SizeX><SizeY>256</SizeY></DataWindow><BandsCount>3</BandsCount>
      <BlockSizeX>256</BlockSizeX><BlockSizeY>256</BlockSizeY></GDAL_WMS>"""
    with rasterio.Env(GDAL_HTTP_UNSAFESSL="YES", GDAL_DEFAULT_WMS_CACHE_PATH="/tmp/ogcserver-test-gdalwms"):
        with rasterio.open(xml) as ds:
            got = ds.read()
    with rasterio.open(data_dir / "parent" / "parent.tif") as src:
        np.testing.assert_array_equal(got, src.read()[:, :256, :256])


def test_owslib_sees_processing_templates_and_uses_them(live_server):
    wms = WebMapService(live_server + "/wms", version="1.3.0")
    # one band: its processing templates, and a colour scale per ramp
    assert {s for s in wms["dem"].styles if not s.startswith("default-scalar.")} == {"default", "shade"}
    assert "default-scalar.viridis" in wms["dem"].styles
    assert wms["dem"].styles["shade"]["title"] == "Hillshade"
    x0, y0 = rasters.ORIGIN
    args = dict(layers=["dem"], srs="EPSG:32632", bbox=(x0, y0 - 2000, x0 + 2000, y0), size=(100, 100), format="image/png")
    shaded = decode(wms.getmap(styles=["shade"], **args).read())
    plain = decode(wms.getmap(styles=[""], **args).read())
    assert shaded.shape == plain.shape and not np.array_equal(shaded, plain)
