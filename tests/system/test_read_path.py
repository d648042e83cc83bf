"""One view asked through every protocol is one read: WMS GetMap, WMTS GetTile, KML's GetMap
(KMZ) and WCS GetCoverage call the core's read primitive with equal requests and get the same
pixels back."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import yaml

from ogcserver.app import core_of, create_app
from ogcserver.core import tiling
from ogcserver.core.read import ReadRequest
from ogcserver.settings import load_settings
from tests.support.reference import decode
from tests.support.tiles import tile_at
from tests.support.wcs import read_coverage

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
Z = 15


@pytest.fixture()
def recorded(data_dir, tmp_path):
    """A client of a server publishing the 3-band test image (nearest resampling, no tile cache,
    so a tile is read alone), and the list of requests its read primitive is called with."""
    config = {"server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0},
              "rendering": {"default_resampling": "nearest"},
              "services": [{"name": "s", "layers": [
                  {"name": "parent", "source": str(data_dir / "parent" / "parent.tif"), "cache": False}]}]}
    path = tmp_path / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    app = create_app(load_settings(path))
    views = core_of(app).engine.views
    calls: list[ReadRequest] = []
    read_view = views.read_view

    def recording(request: ReadRequest):
        calls.append(request)
        return read_view(request)

    views.read_view = recording
    return app.test_client(), calls


def _rgb(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bands, rows, cols) values and where the picture is opaque."""
    valid = image[..., 3] == 255 if image.shape[2] == 4 else np.ones(image.shape[:2], bool)
    return np.moveaxis(image[..., :3], 2, 0), valid


def test_every_protocol_reads_a_view_through_one_equal_request(recorded):
    client, calls = recorded
    x, y = tile_at(Z, tms_id="WorldCRS84Quad")
    box = tiling.well_known("WorldCRS84Quad").tile_bbox(Z, x, y)
    bbox = f"{box.minx!r},{box.miny!r},{box.maxx!r},{box.maxy!r}"
    getmap = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "parent", "STYLES": "",
              "CRS": "CRS:84", "BBOX": bbox, "WIDTH": 256, "HEIGHT": 256}

    answers = {}
    r = client.get("/wms", query_string={**getmap, "FORMAT": "image/png"})
    answers["wms"] = _rgb(decode(r.data))
    r = client.get(f"/tiles/parent/WorldCRS84Quad/{Z}/{x}/{y}.png")
    answers["wmts"] = _rgb(decode(r.data))
    r = client.get("/wms", query_string={**getmap, "FORMAT": "application/vnd.google-earth.kmz"})
    with zipfile.ZipFile(io.BytesIO(r.data)) as kmz:
        answers["kml"] = _rgb(decode(kmz.read("overlay.png")))
    r = client.get("/wcs", query_string={
        "SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": "parent",
        "SUBSETTINGCRS": CRS84, "OUTPUTCRS": CRS84, "SUBSET": [f"Long({box.minx!r},{box.maxx!r})",
                                                                f"Lat({box.miny!r},{box.maxy!r})"],
        "SCALESIZE": "Long(256),Lat(256)", "FORMAT": "image/tiff"})
    assert r.status_code == 200, r.data[:300]
    coverage = read_coverage(r.data)
    answers["wcs"] = coverage.data, coverage.mask

    assert len(calls) == 4
    wms, wmts, kml, wcs = calls
    assert wms == wmts == kml
    assert not wms.exact and wcs.exact  # a coverage's values never come from a mosaic overview
    assert replace(wcs, exact=False) == wms  # and in everything else it is the same read
    assert wms.grid.width == 256 and wms.grid.crs == "EPSG:4326" and wms.bands == (1, 2, 3)

    values, valid = answers["wms"]
    assert valid.mean() > 0.9  # the tile lies over the image
    for name, (other, other_valid) in answers.items():
        assert (other_valid == valid).all(), name
        assert (other[:, valid] == values[:, valid]).all(), name


def test_a_chain_sees_nothing_outside_the_granted_area(data_dir, tmp_path):
    """Two sources equal inside a granted area and different outside it give the same processed
    pictures: a neighbourhood function at the area's edge and a stretch fitted to the view's
    values are computed from what the grant shows only."""
    import rasterio
    from pyproj import Transformer

    from tests.support import rasters
    from tests.support.reference import params

    east_of = 9.013  # the area: west of this longitude
    source = data_dir / "parent" / "parent.tif"
    changed = tmp_path / "changed.tif"
    with rasterio.open(source) as src:
        data, profile, transform = src.read(), src.profile, src.transform
        rows, cols = np.mgrid[0:src.height, 0:src.width]
        xs, ys = transform * (cols + 0.5, rows + 0.5)
        lon, _ = Transformer.from_crs(src.crs.to_wkt(), "EPSG:4326", always_xy=True).transform(xs, ys)
    outside = lon >= east_of
    assert 0.1 < outside.mean() < 0.9
    data[:, outside] = 255 - data[:, outside]
    with rasterio.open(changed, "w", **profile) as dst:
        dst.write(data)
    area = {"type": "Polygon", "coordinates": [[[0, 0], [east_of, 0], [east_of, 89], [0, 89], [0, 0]]]}
    config = {
        "server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0},
        "processing": [{"name": "shade", "bands": [1], "chain": [{"function": "hillshade"}]},
                       {"name": "stretched", "chain": [{"function": "stretch", "method": "minmax"}]}],
        "services": [{"name": "s", "layers": [
            {"name": "original", "source": str(source), "styles": ["shade", "stretched"]},
            {"name": "changed", "source": str(changed), "styles": ["shade", "stretched"]}]}],
        "access": {"grants": [{"to": "anonymous", "service": "s", "layers": ["original", "changed"],
                               "actions": ["discover", "view"], "area": area}]},
    }
    path = tmp_path / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    client = create_app(load_settings(path)).test_client()
    x0, y0 = rasters.ORIGIN
    box = f"{x0},{y0 - 2000},{x0 + 2000},{y0}"
    for style in ("", "shade", "stretched"):
        pictures = []
        for layer in ("original", "changed"):
            r = client.get("/wms", query_string=params(LAYERS=layer, STYLES=style, CRS="EPSG:32632", BBOX=box,
                                                      WIDTH=200, HEIGHT=200, TRANSPARENT="TRUE"))
            assert r.status_code == 200, r.data[:300]
            pictures.append(decode(r.data))
        shown = pictures[0][..., 3] > 0
        assert 0.1 < shown.mean() < 0.9, style  # the area crosses the view
        assert (pictures[0] == pictures[1]).all(), style


def test_a_tile_the_store_did_not_keep_is_answered_all_the_same(data_dir, tmp_path):
    """A cache that drops what it is given (an object store out of reach, a quota sweep at once)
    still gives the caller the tile, rendered for the request."""
    config = {"server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0},
              "services": [{"name": "s", "layers": [{"name": "parent", "source": str(data_dir / "parent" / "parent.tif")}]}]}
    path = tmp_path / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    app = create_app(load_settings(path))
    client = app.test_client()
    x, y = tile_at(Z)
    kept = client.get(f"/tiles/parent/WebMercatorQuad/{Z}/{x}/{y}.png")
    assert kept.status_code == 200
    store = core_of(app).tiles.store
    store.put = store.put_empty = lambda *args: None  # from now on nothing is kept
    x2, y2 = tile_at(Z, dx=2500, dy=2500)
    assert (x2 // 4, y2 // 4) != (x // 4, y // 4)  # another metatile: rendered now, and not kept
    dropped = client.get(f"/tiles/parent/WebMercatorQuad/{Z}/{x2}/{y2}.png")
    assert dropped.status_code == 200, dropped.data[:300]
    assert decode(dropped.data)[..., :3].any()
