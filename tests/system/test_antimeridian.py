"""Rasters across the antimeridian: indexed as the narrow box over 180 (not every longitude),
read by views on either side of it and by views straddling it, never by views elsewhere; their
pixels against the exact reference in EPSG:4326, EPSG:3857 and the Pacific-centred EPSG:3832.

A generated pair of scenes covers this in every checkout; the real Landsat scene across 180 and
the ESA WorldCover tile ending on it (the shared data folder) run where they are present.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import yaml

from ogcserver.app import create_app
from ogcserver.model.geo import BBox, transform_bbox
from ogcserver.settings import load_settings
from tests.support import rasters
from tests.support.reference import decode, exact_nearest, opacity, params
from tests.support.wcs import params as wcs_params
from tests.support.wcs import read_coverage

EDGE = 0.01  # see test_pixel_truth: a source pixel edge this close to a centre may go either way


def _app(folder, layers):
    config = folder / "antimeridian.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "services": [{"name": "pacific", "layers": layers}],
    }))
    return create_app(load_settings(config))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("antimeridian")
    dateline, west = rasters.antimeridian_pair(folder / "pacific")
    app = _app(folder, [
        {"name": "pacific", "source": str(folder / "pacific")},
        {"name": "dateline", "source": str(dateline)},
    ])
    return app, dateline, west


@pytest.fixture()
def reads(generated, monkeypatch):
    """The names of the files the server reads pixels from, in order."""
    reader = generated[0].extensions["ogcserver"].reader
    names: list[str] = []
    read = reader.read

    def counting(source, *args, **kwargs):
        names.append(source.path.rsplit("/", 1)[-1])
        return read(source, *args, **kwargs)

    monkeypatch.setattr(reader, "read", counting)
    return names


def getmap(client, **kw) -> np.ndarray:
    response = client.get("/wms", query_string=params(TRANSPARENT="TRUE", **kw))
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "image/png", response.data[:500]
    return decode(response.data)


def _in(crs: str, west: float, south: float, east: float, north: float) -> tuple[float, float, float, float]:
    """A lon/lat box (east beyond 180 where it crosses) in another CRS, as x/y bounds."""
    return transform_bbox(BBox(west, south, east, north, "EPSG:4326"), crs).as_tuple()


# views around the generated scene (about 179.0 E to 179.26 W, 51.12 to 51.43 N), x/y order
EAST_SIDE = ("EPSG:4326", (179.5, 51.1, 180.0, 51.45))
WEST_SIDE = ("EPSG:4326", (-180.0, 51.1, -179.5, 51.45))
STRADDLING_3832 = ("EPSG:3832", (3320000.0, 6645000.0, 3360000.0, 6665000.0))  # 180 E is x = 3339585
STRADDLING_3857 = ("EPSG:3857", (20017000.0, 6645000.0, 20057000.0, 6665000.0))  # x beyond 20037508 is past 180
WEST_ITEM = ("EPSG:4326", (176.0, 51.2, 176.5, 51.4))
FAR = ("EPSG:4326", (10.0, 51.1, 10.5, 51.45))
FAR_3832 = ("EPSG:3832", (-1000000.0, 6640000.0, -900000.0, 6690000.0))


def _bbox_param(crs: str, box: tuple[float, ...]) -> str:
    """WMS 1.3.0 BBOX: EPSG:4326 is lat,lon."""
    if crs == "EPSG:4326":
        box = (box[1], box[0], box[3], box[2])
    return ",".join(repr(v) for v in box)


def test_crossing_item_is_indexed_as_the_box_over_180(generated):
    """The index box of the item crossing 180 is its own 2-degree box, not every longitude."""
    app = generated[0]
    catalog = app.extensions["ogcserver"].catalog
    items = {i.name: i for i in catalog.store.items("pacific")}
    box = items["dateline.tif"].lonlat_bounds
    assert 178.9 < box.minx < 179.1 and 180.7 < box.maxx < 180.8 and box.width < 2
    assert items["west.tif"].lonlat_bounds.maxx < 177
    layer = catalog.layer("pacific").info.lonlat_bounds
    assert 175.6 < layer.minx < 175.8 and 180.7 < layer.maxx < 180.8  # both items, across 180


@pytest.mark.parametrize("view, read", [
    (EAST_SIDE, ["dateline.tif"]),
    (WEST_SIDE, ["dateline.tif"]),
    (STRADDLING_3832, ["dateline.tif"]),
    (STRADDLING_3857, ["dateline.tif"]),
    (WEST_ITEM, ["west.tif"]),
    (FAR, []),
    (FAR_3832, []),
], ids=["east-side", "west-side", "straddling-3832", "straddling-3857", "west-item", "far", "far-3832"])
def test_views_read_exactly_the_items_under_them(generated, reads, view, read):
    crs, box = view
    img = getmap(generated[0].test_client(), LAYERS="pacific", CRS=crs, BBOX=_bbox_param(crs, box),
                 WIDTH=200, HEIGHT=100)
    assert reads == read
    assert (opacity(img) > 0).any() == bool(read)


@pytest.mark.parametrize("view", [EAST_SIDE, WEST_SIDE, STRADDLING_3832, STRADDLING_3857],
                         ids=["east-side", "west-side", "straddling-3832", "straddling-3857"])
def test_crossing_scene_pixels_equal_the_exact_warp(generated, view):
    app, dateline, _ = generated
    crs, box = view
    img = getmap(app.test_client(), LAYERS="dateline", CRS=crs, BBOX=_bbox_param(crs, box), WIDTH=240, HEIGHT=120)
    ref, valid, edge = exact_nearest(dateline, box, crs, (240, 120), with_edges=True)
    assert valid.mean() > 0.3
    sure = edge > EDGE
    np.testing.assert_array_equal((opacity(img) > 0)[sure], valid[sure])
    got = np.moveaxis(img[..., :3], 2, 0)
    np.testing.assert_array_equal(got[:, valid & sure], ref[:, valid & sure])
