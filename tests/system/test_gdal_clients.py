"""Debian's GDAL command line tools as clients of a live server: the WMS, WMTS and WCS drivers, for
layers in a geographic north-first CRS (EPSG:4326), a projected east-first one (UTM) and a
projected north-first one (EPSG:3035). Each layer must open with its CRS and extent, and its
pixels must lie where gdalwarp puts the source's."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import rasterio
import requests
from rasterio.warp import transform_bounds

from tests.conftest import serving
from tests.support.clients import Grid, agreement, gdal, needs_gdal, read_tif, warp_reference
from tests.support.rasters import CLIENT_LAYERS

pytestmark = needs_gdal
LAYERS = list(CLIENT_LAYERS)


def source_grid(path) -> Grid:
    with rasterio.open(path) as src:
        return Grid(f"EPSG:{src.crs.to_epsg()}", src.transform, src.width, src.height)


def bounds_in(path, crs: str) -> tuple[float, float, float, float]:
    with rasterio.open(path) as src:
        return transform_bounds(src.crs, crs, *src.bounds)


def assert_same_grid(got: Grid, want: Grid, tolerance: float = 0.5) -> None:
    """Same CRS and size; corners within ``tolerance`` pixels."""
    assert (got.crs, got.width, got.height) == (want.crs, want.width, want.height)
    t, u = got.transform, want.transform
    assert abs(t.a - u.a) * got.width <= tolerance * abs(u.a) and abs(t.e - u.e) * got.height <= tolerance * abs(u.e)
    assert abs(t.c - u.c) <= tolerance * abs(u.a) and abs(t.f - u.f) <= tolerance * abs(u.e)


def wms_subdatasets(url: str, version: str, cache) -> dict[str, str]:
    """The layers GDAL's WMS driver finds in the capabilities: description -> dataset name."""
    info = gdal("gdalinfo", f"WMS:{url}/wms?SERVICE=WMS&VERSION={version}&REQUEST=GetCapabilities", cache=cache)
    names = dict(re.findall(r"SUBDATASET_(\d+)_NAME=(.*)", info))
    descriptions = dict(re.findall(r"SUBDATASET_(\d+)_DESC=(.*)", info))
    return {descriptions[k]: names[k] for k in names}


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
@pytest.mark.parametrize("layer", LAYERS)
def test_gdal_wms_opens_the_capabilities_layer_on_the_source_grid(client_server, client_layers, layer, version, tmp_path):
    """The dataset GDAL makes of the capabilities' layer has the layer's CRS and bounds (in the
    version's axis order), and reading it at the source's size gives back the source's pixels."""
    source = client_layers[layer]
    want = source_grid(source)
    name = wms_subdatasets(client_server, version, tmp_path)[layer]
    west, south, east, north = want.bounds
    axes = (south, west, north, east) if version == "1.3.0" and want.crs in ("EPSG:4326", "EPSG:3035") else want.bounds
    crs_key = "CRS" if version == "1.3.0" else "SRS"
    assert re.search(f"[?&]{crs_key}=([^&]+)", name).group(1) == want.crs
    bbox = [float(v) for v in re.search("[?&]BBOX=([^&]+)", name).group(1).split(",")]
    assert bbox == pytest.approx(axes, abs=1e-9)
    out = tmp_path / "wms.tif"
    gdal("gdal_translate", "-q", "-outsize", str(want.width), str(want.height), name + "&FORMAT=image/png", str(out),
         cache=tmp_path)
    picture, grid = read_tif(out)
    assert_same_grid(grid, want, tolerance=1e-6)
    with rasterio.open(source) as src:
        np.testing.assert_array_equal(picture[:3], src.read())


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:4326"])
@pytest.mark.parametrize("layer", LAYERS)
def test_gdal_wms_reads_the_layer_in_other_crs(client_server, client_layers, layer, crs, version, tmp_path):
    """The driver asks for maps on its own grid of blocks and decimates them to the size asked:
    every pixel must come from the right place, within one source pixel, but not all from the
    same source pixel as gdalwarp's."""
    source = client_layers[layer]
    west, south, east, north = bounds_in(source, crs)
    if version == "1.3.0" and crs == "EPSG:4326":
        key, bbox = "CRS", (south, west, north, east)
    else:
        key, bbox = ("CRS" if version == "1.3.0" else "SRS"), (west, south, east, north)
    url = (f"WMS:{client_server}/wms?SERVICE=WMS&VERSION={version}&REQUEST=GetMap&LAYERS={layer}&{key}={crs}"
           f"&BBOX={','.join(map(repr, bbox))}&FORMAT=image/png&TRANSPARENT=TRUE")
    width = 240
    height = round(width * (north - south) / (east - west))
    out = tmp_path / "wms.tif"
    gdal("gdal_translate", "-q", "-outsize", str(width), str(height), url, str(out), cache=tmp_path)
    picture, grid = read_tif(out)
    assert_same_grid(grid, Grid.of_extent(crs, (west, south, east, north), width, height), tolerance=1e-6)
    found = agreement(picture, warp_reference(source, grid, tmp_path))
    assert found.placed(spread=1) and found.exact > 0.8, found


def finest_zoom(url: str, layer: str, tms: str) -> int:
    return requests.get(f"{url}/tiles/{layer}/{tms}/tilejson.json", timeout=10).json()["maxzoom"]


# the CRS of each set as the GDAL driver names it, and as a GeoTIFF stores it; None: the layer's own
TILE_MATRIX_SETS = {"WebMercatorQuad": ("EPSG:3857", "EPSG:3857"), "WorldCRS84Quad": ("OGC:CRS84", "EPSG:4326"),
                    "native": (None, None)}


@pytest.mark.parametrize("tms", list(TILE_MATRIX_SETS))
@pytest.mark.parametrize("layer", LAYERS)
def test_gdal_wmts_reads_every_tile_matrix_set(client_server, client_layers, layer, tms, tmp_path):
    """GDAL's WMTS driver opens the layer in each advertised set (the finest zoom TileJSON names),
    in the set's CRS and with the layer's extent, and the tiles it reads show the source where
    gdalwarp puts it."""
    source = client_layers[layer]
    native = source_grid(source)
    tms_id = f"{layer}_native" if tms == "native" else tms
    crs, stored = (c or native.crs for c in TILE_MATRIX_SETS[tms])
    zoom = finest_zoom(client_server, layer, tms_id)
    name = (f"WMTS:{client_server}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities,layer={layer},"
            f"tilematrixset={tms_id},zoom_level={zoom}")
    info = json.loads(gdal("gdalinfo", "-json", name, cache=tmp_path))
    authority, code = crs.split(":")
    assert re.search(rf'ID\["{authority}","?{code}"?\]\]$', info["coordinateSystem"]["wkt"])
    west, south, east, north = bounds_in(source, stored)
    corners = info["cornerCoordinates"]
    pixel = info["geoTransform"][1]  # the layer's extent, widened to the zoom's pixels (gdalinfo rounds)
    assert [*corners["upperLeft"], *corners["lowerRight"]] == pytest.approx([west, north, east, south], abs=1.001 * pixel)
    out = tmp_path / "wmts.tif"
    gdal("gdal_translate", "-q", "-projwin", *map(repr, (west, north, east, south)), name, str(out), cache=tmp_path)
    picture, grid = read_tif(out)
    assert grid.crs == stored
    found = agreement(picture, warp_reference(source, grid, tmp_path))
    assert found.placed(spread=1) and found.exact > 0.8, found


@pytest.mark.parametrize("version", ["1.0.0", "1.1.1", "2.0.1"])
@pytest.mark.parametrize("layer", LAYERS)
def test_gdal_wcs_reads_the_native_grid_and_a_window_bit_exact(client_server, client_layers, layer, version, tmp_path):
    """GDAL's WCS driver sees the native grid (size, CRS, corners within half a pixel); the whole
    coverage and a window of it come back as the source's values."""
    source = client_layers[layer]
    want = source_grid(source)
    name = f"WCS:{client_server}/wcs?version={version}&coverage={layer}"
    cache = ["-oo", f"CACHE={tmp_path / 'wcs-cache'}"]
    whole, window = tmp_path / "whole.tif", tmp_path / "window.tif"
    gdal("gdal_translate", "-q", *cache, name, str(whole))
    picture, grid = read_tif(whole)
    assert_same_grid(grid, want)
    with rasterio.open(source) as src:
        data = src.read()
    np.testing.assert_array_equal(picture, data)
    gdal("gdal_translate", "-q", *cache, "-srcwin", "40", "30", "120", "90", name, str(window))
    picture, grid = read_tif(window)
    np.testing.assert_array_equal(picture, data[:, 30:120, 40:160])
    assert_same_grid(grid, Grid(want.crs, want.transform @ want.transform.translation(40, 30), 120, 90))


# -- the shared real-world rasters, served with no configuration -----------------------------------

SHARED_SOURCES = ("global-relief-4326/world.rgb.tif", "dem-srtm-hgt/N10W110.hgt.zip",
                  "landsat8-antimeridian-utm/cog_dateline.tif", "sentinel1-gcps/cog_gcps.tif")


@pytest.fixture(scope="module")
def shared_server(shared_data, tmp_path_factory):
    """``ogcserver serve`` on some of the shared rasters, a layer each named after its file."""
    folder = tmp_path_factory.mktemp("shared-clients")
    with serving([*(str(shared_data / s) for s in SHARED_SOURCES), "--data-dir", str(folder / "state")], folder) as (url, _):
        yield url


def test_gdal_wmts_opens_a_global_layer_at_its_native_zoom(shared_server, shared_data, tmp_path):
    """A layer whose centre is the origin lies on a tile edge at every zoom: the TileJSON's maxzoom
    is still the first zoom as fine as the data (WebMercatorQuad's zoom 1 for 0.703 deg pixels),
    not the set's last (GDAL would open a picture of 10^18 pixels), and GDAL's WMTS driver reads
    the world at it where gdalwarp puts it."""
    source = shared_data / SHARED_SOURCES[0]
    zoom = finest_zoom(shared_server, "world_rgb", "WebMercatorQuad")
    assert zoom == 1
    name = (f"WMTS:{shared_server}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities,layer=world_rgb,"
            f"tilematrixset=WebMercatorQuad,zoom_level={zoom}")
    info = json.loads(gdal("gdalinfo", "-json", name, cache=tmp_path))
    assert info["size"][0] == 512 and info["geoTransform"][1] == pytest.approx(2 * 20037508.342789244 / 512)
    out = tmp_path / "wmts.tif"
    gdal("gdal_translate", "-q", name, str(out), cache=tmp_path)
    picture, grid = read_tif(out)
    reference = warp_reference(source, grid, tmp_path)
    both = (picture[3] > 0) & (reference[3] > 0)
    assert both.mean() > 0.95 and (picture[:3, both] == reference[:3, both]).all(axis=0).mean() > 0.9


# layer name: how GDAL opens its source (pixel-is-point rasters are shifted half a pixel by GDAL)
SHARED_GRIDS = {"world_rgb": "global-relief-4326/world.rgb.tif", "N10W110_hgt": "/vsizip/{}/dem-srtm-hgt/N10W110.hgt.zip/N10W110.hgt",
                "cog_dateline": "landsat8-antimeridian-utm/cog_dateline.tif"}


@pytest.mark.parametrize("version", ["1.0.0", "1.1.1", "2.0.1"])
@pytest.mark.parametrize("layer", list(SHARED_GRIDS))
def test_gdal_wcs_reads_shared_rasters_on_their_own_grid(shared_server, shared_data, layer, version, tmp_path):
    """Real rasters with a georeferencing GDAL adjusts (pixel-is-point SRTM in a zip, a
    pixel-is-point UTM scene across the antimeridian) and a global one: GDAL's WCS driver sees
    the grid GDAL reads the file on, and a window of it holds the file's values."""
    rel = SHARED_GRIDS[layer]
    source = rel.format(shared_data) if rel.startswith("/vsizip/") else str(shared_data / rel)
    name = f"WCS:{shared_server}/wcs?version={version}&coverage={layer}"
    out = tmp_path / "window.tif"
    gdal("gdal_translate", "-q", "-oo", f"CACHE={tmp_path / 'wcs-cache'}", "-srcwin", "40", "30", "120", "90", name, str(out))
    picture, grid = read_tif(out)
    with rasterio.open(source) as src:
        want = Grid(f"EPSG:{src.crs.to_epsg()}", src.transform @ src.transform.translation(40, 30), 120, 90)
        data = src.read(window=((30, 120), (40, 160)))
    assert_same_grid(grid, want, tolerance=1e-6)
    np.testing.assert_array_equal(picture, data)


@pytest.mark.parametrize("version", ["1.0.0", "2.0.1"])
def test_gdal_wcs_reads_a_gcp_scene_as_gdalwarp_rectifies_it(shared_server, shared_data, version, tmp_path):
    """A scene placed by GCPs only is a coverage on the grid GDAL's warper suggests for it (in
    the GCPs' CRS), with the values gdalwarp puts there. (Around the scene the server's GeoTIFF
    has a mask, as the scene has no nodata value; GDAL's WCS driver does not pass masks on.)"""
    name = f"WCS:{shared_server}/wcs?version={version}&coverage=cog_gcps"
    out = tmp_path / "whole.tif"
    gdal("gdal_translate", "-q", "-oo", f"CACHE={tmp_path / 'wcs-cache'}", name, str(out))
    picture, grid = read_tif(out)
    assert grid.crs == "EPSG:4326" and picture.shape == (1, 1071, 1417)
    reference = tmp_path / "reference.tif"
    gdal("gdalwarp", "-q", "-r", "near", "-et", "0", "-dstalpha", "-t_srs", grid.crs, "-te", *map(repr, grid.bounds),
         "-ts", str(grid.width), str(grid.height), str(shared_data / "sentinel1-gcps" / "cog_gcps.tif"), str(reference))
    with rasterio.open(reference) as ref:
        want, inside = ref.read(1), ref.read(2) > 0
    assert 0.6 < inside.mean() < 0.8
    np.testing.assert_array_equal(picture[0][inside], want[inside])
