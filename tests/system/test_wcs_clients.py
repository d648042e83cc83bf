"""Real WCS clients against the real server (gunicorn, 2 workers): OWSLib and GDAL's WCS driver."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import requests
from owslib.util import ServiceException
from owslib.wcs import WebCoverageService

from tests.support import rasters
from tests.support.wcs import multipart, read_coverage

X0, Y0 = rasters.ORIGIN


@pytest.fixture(scope="module")
def dem(data_dir):
    with rasterio.open(data_dir / "dem.tif") as src:
        return src.read(), src.transform


def test_owslib_100_describes_and_fetches(live_server, dem):
    data, t = dem
    wcs = WebCoverageService(live_server + "/wcs", version="1.0.0")
    assert wcs.identification.title == "Test server"
    assert list(wcs.contents) == ["parent", "mosaic", "dem", "ms16", "rgba", "masked", "newest", "oldest"]
    cov = wcs["dem"]
    assert cov.boundingBoxWGS84[0] == pytest.approx(9.0, abs=0.01)
    assert cov.supportedFormats == ["GeoTIFF"] and cov.supportedCRS[0].getcode() == "EPSG:32632"
    assert [float(v) for v in cov.grid.origin] == [t.c + t.a / 2, t.f + t.e / 2]
    assert cov.grid.highlimits == ["299", "299"]
    response = wcs.getCoverage(identifier="dem", bbox=(X0 + 500, Y0 - 2000, X0 + 1500, Y0 - 1000), crs="EPSG:32632",
                               width=100, height=100, format="GeoTIFF")
    got = read_coverage(response.read())
    assert got.data.tobytes() == data[:, 100:200, 50:150].tobytes() and got.transform == t * t.translation(50, 100)


def test_owslib_111_fetches_multipart(live_server, dem):
    """OWSLib's 1.1.1 class reads the namespace of 1.1.1 drafts (wcs/1.1.1), not the official
    schemas' wcs/1.1, so its coverage list stays empty; service metadata and GetCoverage work."""
    data, t = dem
    wcs = WebCoverageService(live_server + "/wcs", version="1.1.1")
    assert wcs.identification.title == "Test server"
    assert {op.name for op in wcs.operations} == {"GetCapabilities", "DescribeCoverage", "GetCoverage"}
    response = wcs.getCoverage(identifier="dem", format="image/tiff",
                               bbox=(X0 + 505, Y0 - 1995, X0 + 1495, Y0 - 1005, "urn:ogc:def:crs:EPSG::32632"))
    parts = multipart(response.info()["Content-Type"], response.read())
    got = read_coverage(parts[1][1])
    assert got.data.tobytes() == data[:, 100:200, 50:150].tobytes() and got.transform == t * t.translation(50, 100)


def test_owslib_201_describes_and_fetches(live_server, dem):
    data, t = dem
    wcs = WebCoverageService(live_server + "/wcs", version="2.0.1")
    assert "dem" in wcs.contents
    grid = wcs["dem"].grid
    assert grid.axislabels == ["i", "j"] and [[float(v) for v in o] for o in grid.offsetvectors] == [[t.a, 0], [0, t.e]]
    assert wcs["dem"].boundingboxes[0]["bbox"] == (X0, Y0 - 3000, X0 + 3000, Y0)
    response = wcs.getCoverage(identifier="dem", format="image/tiff",
                               subsets=[("E", X0 + 500, X0 + 1500), ("N", Y0 - 2000, Y0 - 1000)])
    got = read_coverage(response.read())
    assert got.data.tobytes() == data[:, 100:200, 50:150].tobytes() and got.transform == t * t.translation(50, 100)
    with pytest.raises(requests.HTTPError) as failure:  # OWSLib turns 404 answers into HTTP errors
        wcs.getCoverage(identifier="dem", format="image/tiff", subsets=[("Lat", 1, 2)])
    assert failure.value.response.status_code == 404 and b"InvalidAxisLabel" in failure.value.response.content
    with pytest.raises(ServiceException):  # and 400 answers into service exceptions
        wcs.getCoverage(identifier="dem", format="image/gif")


@pytest.mark.parametrize("version", ["1.0.0", "1.1.1", "2.0.1"])
def test_gdal_wcs_driver_reads_a_window(live_server, dem, version, tmp_path):
    """GDAL's WCS driver (as QGIS uses it) builds the dataset from DescribeCoverage and reads a window."""
    data, t = dem
    with rasterio.Env(GDAL_HTTP_TIMEOUT=20):
        with rasterio.open(f"WCS:{live_server}/wcs?version={version}&coverage=dem", cache=str(tmp_path)) as ds:
            assert (ds.width, ds.height, ds.count, ds.dtypes[0]) == (300, 300, 1, "float32")
            assert ds.transform == t and ds.crs.to_epsg() == 32632
            window = ds.read(window=((120, 170), (40, 100)))
    np.testing.assert_array_equal(window, data[:, 120:170, 40:100])
