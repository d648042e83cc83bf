"""Rasters placed by GCPs alone (a Sentinel-1 GRD, and a generated scene), served as Debian's
``gdalwarp`` maps them: the GCP polynomial it fits by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from lxml import etree
from rasterio.control import GroundControlPoint
from rasterio.enums import Resampling

from ogcserver.app import core_of, create_app
from ogcserver.settings import settings_from_paths
from tests.conftest import SHARED
from tests.support.clients import Grid, gdal, needs_gdal, warp_reference
from tests.support.reference import decode, default_stretch, params
from tests.support.wcs import params as wcs_params
from tests.support.wcs import read_coverage

WMS = "http://www.opengis.net/wms"
# Debian's GDAL and the server's differ in version; a nearest pick whose source pixel edge lies
# within rounding of an output pixel centre may go either way (as in test_pixel_truth.py).
AT_MOST_DIFFERENT = 0.01
GCP_SHAPE = (300, 400)  # rows, cols of the generated scene


def write_scene(path: Path, shape: tuple[int, int], place: Callable[[Any], None], overviews: list[int]) -> Path:
    """A 3-band uint8 tiled GeoTIFF of a sharp-edged texture, placed on the Earth by ``place``
    (which sets its GCPs or RPCs), with overviews."""
    rows, cols = shape
    r, c = np.mgrid[0:rows, 0:cols]
    bands = np.stack([(c * 7 + r * 3) % 251 + 1, (r * 5 + c // 3) % 251 + 1, ((r // 4) * (c // 4)) % 251 + 1]).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=3, dtype="uint8",
                       tiled=True, blockxsize=128, blockysize=128, compress="deflate") as ds:
        place(ds)
        ds.write(bands)
        ds.build_overviews(overviews, Resampling.nearest)
    return path


def gcp_scene(path: Path) -> Path:
    """The texture placed by 16 GCPs alone (rotated, slightly curved), with overviews."""
    rows, cols = GCP_SHAPE
    gcps = []
    for i, row in enumerate(np.linspace(0, rows, 4)):
        for j, col in enumerate(np.linspace(0, cols, 4)):
            lon = 10.0 + col * 0.005 + row * 0.0015 + (col / cols) ** 2 * 0.02
            lat = 46.5 - row * 0.004 + col * 0.001
            gcps.append(GroundControlPoint(row=row, col=col, x=lon, y=lat, id=f"{i}{j}"))

    def place(ds: Any) -> None:
        ds.gcps = (gcps, rasterio.crs.CRS.from_epsg(4326))

    write_scene(path, GCP_SHAPE, place, [2, 4])
    with rasterio.open(path) as ds:
        assert ds.transform.is_identity and len(ds.gcps[0]) == 16 and ds.overviews(1) == [2, 4]
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return gcp_scene(tmp_path_factory.mktemp("gcps") / "scene.tif")


@pytest.fixture(scope="module")
def app(generated, tmp_path_factory):
    paths = [generated]
    shared = SHARED / "data"
    if (shared / "README.md").exists():
        paths.append(shared / "sentinel1-gcps" / "cog_gcps.tif")
    settings = settings_from_paths(paths, {"data_dir": str(tmp_path_factory.mktemp("state"))})
    return create_app(settings)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def gdalwarp_extent(source: Path, workdir: Path, *options: str) -> tuple[tuple[float, float, float, float], int, int]:
    """The extent and size ``gdalwarp`` gives the file without a target grid."""
    out = workdir / f"{source.stem}-default.tif"
    gdal("gdalwarp", "-q", "-overwrite", *options, str(source), str(out))
    with rasterio.open(out) as ds:
        return tuple(ds.bounds), ds.width, ds.height


def getmap(client, layer: str, grid: Grid, **extra: str) -> np.ndarray:
    """The GetMap picture as (bands, rows, cols) with alpha last (WMS 1.3.0, x/y order in CRS:84
    terms: EPSG:4326 is asked with CRS:84 so the bbox is lon/lat)."""
    crs = "CRS:84" if grid.crs == "EPSG:4326" else grid.crs
    r = client.get("/wms", query_string=params(LAYERS=layer, CRS=crs, BBOX=",".join(map(repr, grid.bounds)),
                                               WIDTH=grid.width, HEIGHT=grid.height, TRANSPARENT="TRUE", **extra))
    assert r.status_code == 200 and r.mimetype == "image/png", r.data[:300]
    img = decode(r.data)
    if img.shape[2] == 3:
        img = np.concatenate([img, np.full((*img.shape[:2], 1), 255, np.uint8)], axis=2)
    return np.moveaxis(img, 2, 0)


def assert_same_map(got: np.ndarray, want: np.ndarray) -> None:
    """Same data area and, where both have data, the same values but for pixel-edge ties."""
    valid_got, valid_want = got[-1] > 0, want[-1] > 0
    assert valid_want.mean() > 0.2, "the reference grid holds too little data to compare"
    assert (valid_got != valid_want).mean() < AT_MOST_DIFFERENT, (valid_got != valid_want).mean()
    both = valid_got & valid_want
    differ = (got[:-1, both] != want[:-1, both]).any(axis=0)
    assert differ.mean() < AT_MOST_DIFFERENT, differ.mean()


def layer_statistics(app, name: str):
    return next(lr for lr in core_of(app).engine.catalog.layers() if lr.info.name == name).info.statistics[0]


# -- GCPs -------------------------------------------------------------------------------------------
def gdalwarp_grid(source: Path, workdir: Path, crs: str, zoom: float) -> Grid:
    """Most of the raster's extent as ``gdalwarp`` maps it to ``crs``, at ``zoom`` times its resolution."""
    (minx, miny, maxx, maxy), width, height = gdalwarp_extent(source, workdir, "-t_srs", crs)
    dx, dy = (maxx - minx) * 0.15, (maxy - miny) * 0.15
    return Grid.of_extent(crs, (minx + dx, miny + dy, maxx - dx, maxy - dy),
                          max(8, round(width * 0.7 * zoom)), max(8, round(height * 0.7 * zoom)))


def overview_reference(source: Path, grid: Grid, workdir: Path, level: str) -> np.ndarray:
    """``warp_reference`` from one overview level of the file (gdalwarp -ovr 0, 1... or NONE)."""
    out = workdir / f"reference-ovr{level}.tif"
    gdal("gdalwarp", "-q", "-overwrite", "-r", "near", "-et", "0", "-dstalpha", "-ovr", level,
         "-t_srs", grid.crs, "-te", *map(repr, grid.bounds), "-ts", str(grid.width), str(grid.height),
         str(source), str(out))
    with rasterio.open(out) as ds:
        return ds.read()


@needs_gdal
@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857"])
def test_generated_gcp_scene_getmap_equals_gdalwarp(client, generated, tmp_path, crs):
    grid = gdalwarp_grid(generated, tmp_path, crs, 1.0)
    assert_same_map(getmap(client, "scene", grid), warp_reference(generated, grid, tmp_path))


@needs_gdal
@pytest.mark.parametrize(("crs", "zoom"), [("EPSG:4326", 0.4), ("EPSG:3857", 0.25)])
def test_generated_gcp_scene_zoomed_out_reads_an_overview(client, generated, tmp_path, crs, zoom):
    """Zoomed out so that the 1/2 overview is the coarsest level still finer than the view on
    both axes (Web Mercator stretches latitudes by 1/cos 46 deg): the map equals gdalwarp of that
    overview, and differs from gdalwarp of the full image."""
    grid = gdalwarp_grid(generated, tmp_path, crs, zoom)
    got = getmap(client, "scene", grid)
    assert_same_map(got, overview_reference(generated, grid, tmp_path, "0"))
    full = overview_reference(generated, grid, tmp_path, "NONE")
    assert (got[:-1] != full[:-1]).any(axis=0).mean() > 0.1


@needs_gdal
def test_generated_gcp_scene_bilinear_is_close_to_gdalwarp(client, generated, tmp_path):
    """Kernels other than nearest go through GDAL's warper (rasterio's reproject), whose placement
    differs from gdalwarp's by a fraction of a pixel: the same area, the typical value the same
    within a step of this sharp-edged texture."""
    grid = gdalwarp_grid(generated, tmp_path, "EPSG:3857", 1.3)
    got = getmap(client, "scene", grid, INTERPOLATION="bilinear").astype(int)
    out = tmp_path / "bilinear.tif"
    gdal("gdalwarp", "-q", "-overwrite", "-r", "bilinear", "-et", "0", "-dstalpha", "-t_srs", grid.crs,
         "-te", *map(repr, grid.bounds), "-ts", str(grid.width), str(grid.height), str(generated), str(out))
    with rasterio.open(out) as ds:
        want = ds.read().astype(int)
    assert ((got[-1] > 0) != (want[-1] > 0)).mean() < AT_MOST_DIFFERENT
    both = (got[-1] > 0) & (want[-1] > 0)
    assert np.median(np.abs(got[:-1, both] - want[:-1, both])) <= 1


@needs_gdal
def test_generated_gcp_scene_bbox_is_gdalwarps_extent(client, generated, tmp_path):
    (minx, miny, maxx, maxy), width, height = gdalwarp_extent(generated, tmp_path)
    layer = capabilities_layer(client, "scene")
    box = layer.find(f"{{{WMS}}}BoundingBox[@CRS='CRS:84']")
    got = [float(box.get(k)) for k in ("minx", "miny", "maxx", "maxy")]
    pixel = ((maxx - minx) / width, (maxy - miny) / height)
    assert got == pytest.approx([minx, miny, maxx, maxy], abs=max(pixel))


@needs_gdal
def test_sentinel1_gcps_getmap_equals_gdalwarp(app, client, shared_data, tmp_path):
    """The real scene (uint16, 210 GCPs), in EPSG:4326 and 3857, stretched as the layer's default
    style stretches the gdalwarp values."""
    source = shared_data / "sentinel1-gcps" / "cog_gcps.tif"
    stats = layer_statistics(app, "cog_gcps")
    for crs in ("EPSG:4326", "EPSG:3857"):
        grid = gdalwarp_grid(source, tmp_path, crs, 1.0)
        got = getmap(client, "cog_gcps", grid)
        ref = warp_reference(source, grid, tmp_path)
        want = np.concatenate([np.repeat(default_stretch(ref[:1], stats.low, stats.high), 3, axis=0), ref[1:]])
        assert_same_map(got, want)


@needs_gdal
def test_sentinel1_gcps_coverage_is_gdalwarps_output(client, shared_data, tmp_path):
    """WCS GetCoverage of the whole layer: the grid and values ``gdalwarp`` writes by default."""
    source = shared_data / "sentinel1-gcps" / "cog_gcps.tif"
    out = tmp_path / "default.tif"
    gdal("gdalwarp", "-q", "-overwrite", "-r", "near", "-et", "0", str(source), str(out))
    with rasterio.open(out) as ds:
        want, transform = ds.read(1), ds.transform
    r = client.get("/wcs", query_string=wcs_params("2.0.1", COVERAGEID="cog_gcps", FORMAT="image/tiff"))
    assert r.status_code == 200, r.data[:500]
    cov = read_coverage(r.data)
    assert cov.data.shape[1:] == want.shape
    assert cov.transform.almost_equals(transform, precision=1e-9)
    # gdalwarp fills what lies outside the scene with 0 (the file has no nodata); the coverage masks it
    assert (want[~cov.mask] == 0).all()
    assert (cov.data[0][cov.mask] != want[cov.mask]).mean() < AT_MOST_DIFFERENT


def test_sentinel1_gcps_point_query(client, shared_data):
    """GetFeatureInfo reads the pixel the inverse GCP transform names."""
    source = shared_data / "sentinel1-gcps" / "cog_gcps.tif"
    with rasterio.open(source) as ds, rasterio.transform.GCPTransformer(ds.gcps[0]) as transformer:
        lon, lat = transformer.xy(400, 600)
        value = int(ds.read(1, window=((400, 401), (600, 601)))[0, 0])
    d = 1e-5
    r = client.get("/wms", query_string=params(
        REQUEST="GetFeatureInfo", LAYERS="cog_gcps", QUERY_LAYERS="cog_gcps", CRS="CRS:84",
        BBOX=f"{lon - d},{lat - d},{lon + d},{lat + d}", WIDTH=3, HEIGHT=3, I=1, J=1, INFO_FORMAT="application/json"))
    assert r.status_code == 200, r.data[:300]
    [layer] = r.get_json()["layers"]
    assert [f["values"]["band_1"] for f in layer["features"]] == [value]


def capabilities_layer(client, name: str):
    r = client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"})
    assert r.status_code == 200
    doc = etree.fromstring(r.data)
    return next(lr for lr in doc.iter(f"{{{WMS}}}Layer") if lr.findtext(f"{{{WMS}}}Name") == name)
