"""A GeoTIFF placed by RPCs alone, served as Debian's ``gdalwarp -rpc`` maps it at the height the
RPCs are centred on (HEIGHT_OFF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rasterio
from rasterio.rpc import RPC

from ogcserver.app import create_app
from ogcserver.settings import settings_from_paths
from tests.support.clients import Grid, gdal, needs_gdal
from tests.system.test_gcps import WMS, assert_same_map, capabilities_layer, getmap, write_scene

SHAPE = (300, 400)  # rows, cols
HEIGHT_OFF = 500.0


def rpc_scene(path: Path) -> Path:
    """The texture placed by RPCs (skewed, slightly curved, height-dependent) and no geotransform,
    with a 1/2 overview."""
    rows, cols = SHAPE
    # RPC00B terms: 1, L, P, H, LP, LH, PH, L2, P2, H2, ...
    line, samp, den = [0.0] * 20, [0.0] * 20, [1.0] + [0.0] * 19
    line[1], line[2], line[3], line[8] = 0.1, -1.0, 0.05, 0.02
    samp[1], samp[2], samp[3], samp[7] = 1.0, 0.15, -0.04, 0.03
    rpcs = RPC(height_off=HEIGHT_OFF, height_scale=500, lat_off=46.0, lat_scale=0.3, line_den_coeff=den,
               line_num_coeff=line, line_off=rows / 2, line_scale=rows / 2, long_off=10.5, long_scale=0.5,
               samp_den_coeff=den, samp_num_coeff=samp, samp_off=cols / 2, samp_scale=cols / 2)

    def place(ds: Any) -> None:
        ds.rpcs = rpcs

    write_scene(path, SHAPE, place, [2])
    with rasterio.open(path) as ds:
        assert ds.transform.is_identity and ds.rpcs is not None and not ds.gcps[0]
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    return rpc_scene(tmp_path_factory.mktemp("rpcs") / "scene.tif")


@pytest.fixture(scope="module")
def client(scene, tmp_path_factory):
    settings = settings_from_paths([scene], {"data_dir": str(tmp_path_factory.mktemp("state"))})
    return create_app(settings).test_client()


def gdalwarp_rpc(source: Path, workdir: Path, *options: str) -> Path:
    out = workdir / "rpc-reference.tif"
    gdal("gdalwarp", "-q", "-overwrite", "-rpc", "-to", f"RPC_HEIGHT={HEIGHT_OFF:g}", "-r", "near", "-et", "0",
         *options, str(source), str(out))
    return out


def grid_over(source: Path, workdir: Path, crs: str, zoom: float) -> Grid:
    with rasterio.open(gdalwarp_rpc(source, workdir, "-t_srs", crs)) as ds:
        (minx, miny, maxx, maxy), width, height = ds.bounds, ds.width, ds.height
    dx, dy = (maxx - minx) * 0.15, (maxy - miny) * 0.15
    return Grid.of_extent(crs, (minx + dx, miny + dy, maxx - dx, maxy - dy),
                          max(8, round(width * 0.7 * zoom)), max(8, round(height * 0.7 * zoom)))


@needs_gdal
@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857"])
def test_getmap_equals_gdalwarp_rpc(client, scene, tmp_path, crs):
    grid = grid_over(scene, tmp_path, crs, 1.0)
    with rasterio.open(gdalwarp_rpc(scene, tmp_path, "-dstalpha", "-ovr", "NONE", "-t_srs", grid.crs,
                                    "-te", *map(repr, grid.bounds), "-ts", str(grid.width), str(grid.height))) as ds:
        want = ds.read()
    assert_same_map(getmap(client, "scene", grid), want)


@needs_gdal
def test_bbox_is_gdalwarps_extent(client, scene, tmp_path):
    with rasterio.open(gdalwarp_rpc(scene, tmp_path)) as ds:
        want, pixel = ds.bounds, max(ds.res)
    box = capabilities_layer(client, "scene").find(f"{{{WMS}}}BoundingBox[@CRS='CRS:84']")
    got = [float(box.get(k)) for k in ("minx", "miny", "maxx", "maxy")]
    assert got == pytest.approx(list(want), abs=pixel)
