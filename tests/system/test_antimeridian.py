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
from lxml import etree

from ogcserver.app import core_of, create_app
from ogcserver.core import seed, tiling
from ogcserver.model.geo import BBox, transform_bbox
from ogcserver.settings import load_settings
from tests.support import rasters
from tests.support.reference import decode, exact_nearest, opacity, params
from tests.support.wcs import params as wcs_params
from tests.support.wcs import read_coverage

K = "{http://www.opengis.net/kml/2.2}"
WMS = "{http://www.opengis.net/wms}"
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"
EDGE = 0.01  # see test_pixel_truth: a source pixel edge this close to a centre may go either way


def _app(folder, layers):
    config = folder / "antimeridian.yaml"
    config.write_text(yaml.safe_dump({
        "crs": ["EPSG:4326", "EPSG:3857", "EPSG:3832"],
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
    reader = core_of(generated[0]).engine.reader
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
    catalog = core_of(app).engine.catalog
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


# -- documents start at the data -----------------------------------------------------------------
def test_tilejson_centre_is_on_the_data(generated):
    """MapLibre clamps an east edge beyond 180 and shows nothing for west > east: the bounds take
    every longitude (with the data's latitudes) and the centre is on the scene."""
    doc = generated[0].test_client().get("/tiles/dateline/WebMercatorQuad/tilejson.json").get_json()
    west, south, east, north = doc["bounds"]
    assert (west, east) == (-180.0, 180.0) and 51.1 < south < north < 51.5
    lon, lat, zoom = doc["center"]
    assert (179.5 < lon <= 180 or -180 <= lon < -179.5) and south < lat < north and zoom > 5


def test_viewer_starts_at_the_data(generated):
    """The viewer's box is the scene's (its east edge past 180), not the whole world."""
    layers = generated[0].test_client().get("/viewer/layers.json").get_json()["layers"]
    west, south, east, north = next(layer["bounds"] for layer in layers if layer["name"] == "dateline")
    assert 178.9 < west < 179.1 and 180.7 < east < 180.8 and 51.1 < south < north < 51.5


def test_kml_superoverlay_starts_with_tiles_on_both_sides(generated):
    client = generated[0].test_client()
    doc = etree.fromstring(client.get("/kml/dateline.kml").data)
    links = [e.text.rsplit("/kml/dateline/", 1)[1] for e in doc.iter(K + "href")]
    tiles = [tuple(int(v) for v in link[:-4].split("/")) for link in links]
    zooms = {z for z, _, _ in tiles}
    assert len(zooms) == 1 and zooms.pop() >= 5 and len(tiles) <= 4
    tms = tiling.well_known("WorldCRS84Quad")
    boxes = [tms.tile_bbox(*t) for t in tiles]
    assert any(b.maxx == 180.0 for b in boxes) and any(b.minx == -180.0 for b in boxes)
    for link in links:  # each start tile draws and is part of the layer
        assert client.get(f"/kml/dateline/{link}").status_code == 200


def test_kml_overlay_of_a_view_across_180(generated):
    """GetMap as KML for a view across 180: the LatLonBox's east edge lies beyond 180 (as KML
    allows for overlays over it), and the image it links shows the scene."""
    client = generated[0].test_client()
    crs, box = STRADDLING_3832
    r = client.get("/wms", query_string=params(LAYERS="dateline", CRS=crs, BBOX=_bbox_param(crs, box), WIDTH=200,
                                                HEIGHT=100, FORMAT="application/vnd.google-earth.kml+xml"))
    doc = etree.fromstring(r.data)
    lat_lon = next(doc.iter(K + "LatLonBox"))
    assert 179.7 < float(lat_lon.findtext(K + "west")) < 180 < float(lat_lon.findtext(K + "east")) < 180.3
    href = next(doc.iter(K + "href")).text.replace("http://localhost", "")
    assert (opacity(decode(client.get(href).data)) > 0).mean() > 0.5


def test_capabilities_extents(generated):
    """WMS and WMTS lon/lat boxes take every longitude (their readers take west < east) with the
    scene's latitudes; the BoundingBox in the Pacific-centred EPSG:3832 is the scene's, across 180."""
    client = generated[0].test_client()
    wms = etree.fromstring(client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").data)
    layer = next(e for e in wms.iter(WMS + "Layer") if e.findtext(WMS + "Name") == "dateline")
    geo = layer.find(WMS + "EX_GeographicBoundingBox")
    assert float(geo.findtext(WMS + "westBoundLongitude")) == -180.0
    assert float(geo.findtext(WMS + "eastBoundLongitude")) == 180.0
    assert 51.1 < float(geo.findtext(WMS + "southBoundLatitude")) < float(geo.findtext(WMS + "northBoundLatitude")) < 51.5
    boxes = {b.get("CRS"): b for b in layer.findall(WMS + "BoundingBox")}
    pacific = boxes["EPSG:3832"]
    assert 3200000 < float(pacific.get("minx")) < 3339585 < float(pacific.get("maxx")) < 3450000  # 180 E: x = 3339585
    wmts = etree.fromstring(client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities").data)
    box = next(e.find(OWS + "WGS84BoundingBox") for e in wmts.iter(WMTS + "Layer")
               if e.findtext(OWS + "Identifier") == "dateline")
    lower, upper = box.findtext(OWS + "LowerCorner"), box.findtext(OWS + "UpperCorner")
    assert lower.split()[0] == "-180" and upper.split()[0] == "180"


def test_catalog_boxes_are_written_as_geojson_wants(generated):
    """STAC and GeoJSON (RFC 7946, 5.2) write a box across 180 with west > east."""
    client = generated[0].test_client()
    west, _, east, _ = client.get("/catalog/pacific/items/dateline").get_json()["bbox"]
    assert 178.9 < west < 179.1 and -179.3 < east < -179.2
    found = client.get("/catalog/pacific/items?bbox=-179.9,51,-179.5,51.5").get_json()["features"]
    assert [f["id"] for f in found] == ["dateline"]


def test_seeding_walks_only_the_tiles_over_the_scene(generated):
    """Seeding a layer across 180 renders the tiles at both ends of the row, not the whole row;
    a metatile holding both ends (low zooms) is rendered once."""
    info = core_of(generated[0]).engine.catalog.layer("dateline").info
    tms = tiling.well_known("WebMercatorQuad")
    metas = list(seed.plan(tms, info.lonlat_bounds, range(8, 9), 1))
    assert {m.x0 for m in metas} == {0, 255} and len(metas) <= 4
    assert len(list(seed.plan(tms, info.lonlat_bounds, range(1, 2), 4))) == 1


def test_rewriting_the_crossing_scene_drops_its_tiles_on_both_sides_only(tmp_path):
    """The tile cache drops the tiles under the changed scene, on both sides of 180, and keeps
    the others in its latitudes (the whole band of longitudes used to go)."""
    import morecantile

    dateline, _ = rasters.antimeridian_pair(tmp_path / "pacific")
    client = _app(tmp_path, [{"name": "pacific", "source": str(tmp_path / "pacific")}]).test_client()
    quad = morecantile.tms.get("WebMercatorQuad")
    urls = {name: "/tiles/pacific/WebMercatorQuad/10/{}/{}.png".format(*quad.tile(lon, 51.3, 10)[:2])
            for name, lon in (("east", 179.6), ("west", -179.6), ("other", 176.2))}
    before = {name: client.get(url).data for name, url in urls.items()}
    assert all(client.get(url).headers["X-Cache"] == "HIT" for url in urls.values())
    with rasterio.open(dateline, "r+") as ds:
        ds.write(255 - ds.read())
    after = {name: client.get(url) for name, url in urls.items()}
    assert after["east"].headers["X-Cache"] == after["west"].headers["X-Cache"] == "MISS"
    assert after["east"].data != before["east"] and after["west"].data != before["west"]
    assert after["other"].headers["X-Cache"] == "HIT"


# -- the real rasters --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("antimeridian-real")
    app = _app(folder, [
        {"name": "dateline", "source": str(shared_data / "landsat8-antimeridian-utm" / "cog_dateline.tif")},
        {"name": "worldcover", "source": str(shared_data / "worldcover-antimeridian")},
    ])
    return app.test_client()


# cog_dateline.tif covers about 178.0 E to 178.5 W, 50.58 to 52.77 N
REAL_EAST = ("EPSG:4326", (178.8, 51.2, 180.0, 51.8))
REAL_WEST = ("EPSG:4326", (-180.0, 51.2, -178.8, 51.8))
REAL_3832 = ("EPSG:3832", (3280000.0, 6670000.0, 3400000.0, 6730000.0))
REAL_3857 = ("EPSG:3857", (19980000.0, 6670000.0, 20100000.0, 6730000.0))


@pytest.mark.parametrize("view", [REAL_EAST, REAL_WEST, REAL_3832, REAL_3857],
                         ids=["east-side", "west-side", "straddling-3832", "straddling-3857"])
def test_real_scene_values_equal_the_exact_warp(real, shared_data, view):
    """The 16-bit Landsat band across 180: WCS values are the exact nearest-neighbour warp of the
    source on either side and across it, and the map's grey levels follow those values."""
    path = shared_data / "landsat8-antimeridian-utm" / "cog_dateline.tif"
    crs, box = view
    size = (240, 120)
    r = real.get("/wcs", query_string=wcs_params(
        "1.0.0", COVERAGE="dateline", CRS=crs, BBOX=",".join(map(repr, box)), WIDTH=size[0], HEIGHT=size[1],
        FORMAT="GeoTIFF"))
    assert r.status_code == 200, r.data[:300]
    coverage = read_coverage(r.data)
    ref, valid, edge = exact_nearest(path, box, crs, size, bands=(1,), with_edges=True)
    sure = edge > EDGE
    assert valid[sure].mean() > 0.9
    np.testing.assert_array_equal(coverage.data[0][valid & sure], ref[0][valid & sure])
    img = getmap(real, LAYERS="dateline", CRS=crs, BBOX=_bbox_param(crs, box), WIDTH=size[0], HEIGHT=size[1])
    values, grey = ref[0][valid & sure], img[..., 0][valid & sure]
    order = np.argsort(values, kind="stable")
    assert (np.diff(grey[order].astype(int)) >= 0).all()  # the stretch keeps the order of values
    assert len(np.unique(grey)) > 3  # a picture, not a flat fill (the scene is mostly bright snow and cloud)


# N66E177 ends exactly on 180 E, 66 to 69 N
WORLDCOVER_VIEWS = [
    ("EPSG:4326", (178.0, 66.5, 180.0, 68.5)),
    ("EPSG:3857", (19700000.0, 10000000.0, 20300000.0, 10300000.0)),  # past 180: the preview's first view
    ("EPSG:3832", (3100000.0, 10000000.0, 3500000.0, 10300000.0)),
]


@pytest.mark.parametrize("view", WORLDCOVER_VIEWS, ids=["4326", "3857-past-180", "3832-across-180"])
def test_worldcover_at_180_in_its_colours(real, shared_data, view):
    """The classified tile ending on 180: each pixel in its colour-table colour, from the exact
    warp; a Web Mercator view reaching past 180 (as a preview centred on the tile does) is drawn."""
    path = next((shared_data / "worldcover-antimeridian").glob("*.tif"))
    crs, box = view
    size = (240, 120)
    img = getmap(real, LAYERS="worldcover", CRS=crs, BBOX=_bbox_param(crs, box), WIDTH=size[0], HEIGHT=size[1])
    ref, valid, edge = exact_nearest(path, box, crs, size, bands=(1,), with_edges=True)
    with rasterio.open(path) as src:
        cmap = src.colormap(1)
    lut = np.array([cmap.get(i, (0, 0, 0, 0)) for i in range(256)], dtype=np.uint8)
    sure = edge > EDGE
    assert valid[sure].mean() > 0.2
    np.testing.assert_array_equal((opacity(img) > 0)[sure], valid[sure])
    np.testing.assert_array_equal(img[..., :3][valid & sure], lut[ref[0]][..., :3][valid & sure])
