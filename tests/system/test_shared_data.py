"""Real-world rasters (the shared data folder): mosaics, 16-bit, DEMs with NaN, palettes, huge files."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import yaml

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support.reference import decode, default_stretch, exact_nearest, opacity, params


@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    d = shared_data
    folder = tmp_path_factory.mktemp("real")
    layers = [
        {"name": "landsat", "source": str(d / "landsat7-rgb" / "RGB.byte.tif")},
        {"name": "landsat_tiles", "source": str(d / "mosaic-landsat7-tiles")},
        {"name": "l8_overlap", "source": str(d / "mosaic-landsat8-overlap")},
        {"name": "sr_red", "source": str(d / "landsat8-sr-16bit" / "LC08_L2SP_008059_20191201_20200825_02_T1_SR_B4.TIF")},
        {"name": "naip", "source": str(d / "naip-rgbn")},
        {"name": "copdem", "source": str(d / "dem-copernicus")},
        {"name": "swissdem", "source": str(d / "dem-swissalti3d" / "dem.tif")},
        {"name": "worldcover", "source": str(d / "worldcover-2020-2021")},
        {"name": "cdl", "source": str(d / "cdl-tiles")},
        {"name": "dateline", "source": str(d / "landsat8-antimeridian-utm" / "cog_dateline.tif")},
        {"name": "goes", "source": str(d / "goes-geostationary" / "goes.tif")},
        {"name": "gcps", "source": str(d / "sentinel1-gcps")},
    ]
    config = folder / "real.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")},
        "services": [{"name": "real", "layers": layers}],
    }))
    return create_app(load_settings(config)).test_client()


def getmap(client, **kw):
    r = client.get("/wms", query_string={**params(), **kw})
    assert r.status_code == 200, r.data[:400]
    return decode(r.data)


def test_capabilities_list_the_readable_layers(real):
    r = real.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities")
    assert r.status_code == 200
    # with a geostationary image whose corners lie off the globe, and an image placed by GCPs only
    for name in ("landsat", "landsat_tiles", "l8_overlap", "sr_red", "naip", "copdem", "worldcover", "cdl", "dateline",
                 "goes", "gcps"):
        assert f"<Name>{name}</Name>".encode() in r.data


def test_landsat_tiles_mosaic_equals_the_original_scene(real, shared_data):
    """rgb1-4 were cut from RGB.byte.tif: across their borders the mosaic equals the scene."""
    with rasterio.open(shared_data / "landsat7-rgb" / "RGB.byte.tif") as src:
        t = src.transform
        scene = src.read()
    # 300 x 200 native pixels around the 2x2 tile corner (row 318, col 399 of the scene)
    c0, r0 = 250, 220
    bbox = (t.c + c0 * t.a, t.f + (r0 + 200) * t.e, t.c + (c0 + 300) * t.a, t.f + r0 * t.e)
    img = getmap(real, LAYERS="landsat_tiles", CRS="EPSG:32618", BBOX=",".join(map(str, bbox)),
                 WIDTH=300, HEIGHT=200, TRANSPARENT="TRUE")
    data, alpha = np.moveaxis(img[..., :3], 2, 0), img[..., 3]
    ref = scene[:, r0:r0 + 200, c0:c0 + 300]
    valid = (ref != 0).any(axis=0)
    assert valid.mean() > 0.9
    np.testing.assert_array_equal(data[:, valid], ref[:, valid])
    np.testing.assert_array_equal(alpha > 0, valid)


def test_landsat_web_mercator_matches_exact_warp(real, shared_data):
    path = shared_data / "landsat7-rgb" / "RGB.byte.tif"
    bbox = (-8700000.0, 2750000.0, -8600000.0, 2850000.0)
    img = getmap(real, LAYERS="landsat", CRS="EPSG:3857", BBOX=",".join(map(str, bbox)), WIDTH=300, HEIGHT=300,
                 TRANSPARENT="TRUE")
    ref, valid, edge = exact_nearest(path, bbox, "EPSG:3857", (300, 300), with_edges=True)
    differ = (np.moveaxis(img[..., :3], 2, 0) != ref).any(axis=0) & valid & (img[..., 3] == 255)
    assert not (differ & (edge > 0.01)).any()
    np.testing.assert_array_equal(img[..., 3] == 255, valid)


def statistics(client, layer):
    return client.application.extensions["ogcserver"].catalog.layer(layer).info.statistics


def shown(img, refs, stats):
    """The picture's colour bands as ``refs`` would show them: 8-bit as is, others stretched
    between the layer's statistics, one band as grey."""
    if stats and refs.dtype != np.uint8:
        refs = np.stack([default_stretch(band, s.low, s.high) for band, s in zip(refs, stats, strict=True)])
    return np.broadcast_to(refs, (3, *refs.shape[1:])), np.moveaxis(img[..., :3], 2, 0)


def assert_shows_its_sources(img, paths, bbox, crs, bands, stats):
    """Every opaque pixel is the exact nearest source pixel of one of the files (at the overview
    level the view reads), but where a pixel centre lies within 1e-3 pixel of a source pixel edge;
    and every place a file covers is opaque."""
    alpha = opacity(img) == 255
    size = img.shape[1], img.shape[0]
    ok = np.zeros(alpha.shape, bool)
    covered = np.zeros(alpha.shape, bool)
    for path in paths:
        with rasterio.open(path) as src:
            levels = [None, *range(len(src.overviews(1)))]
        best = None
        for level in levels:
            ref, valid, edge = exact_nearest(path, bbox, crs, size, bands, with_edges=True, overview_level=level)
            want, got = shown(img, ref, stats)
            same = (want == got).all(axis=0) & valid & alpha
            if best is None or same.sum() > best[0].sum():
                best = same, valid, edge
        same, valid, edge = best
        ok |= same | (valid & (edge <= 1e-3))
        covered |= valid & (edge > 1e-3)
    assert covered.mean() > 0.2
    assert not (alpha & ~ok).any(), f"{int((alpha & ~ok).sum())} opaque pixels show no source pixel"
    assert alpha[covered].all()


def test_16bit_scene_is_stretched(real, shared_data):
    """The 16-bit scene, each pixel (its own grid), stretched between numpy's 2nd and 98th percentiles."""
    path = shared_data / "landsat8-sr-16bit" / "LC08_L2SP_008059_20191201_20200825_02_T1_SR_B4.TIF"
    with rasterio.open(path) as src:
        b, data = src.bounds, src.read(1, masked=True)
    stats = statistics(real, "sr_red")
    low, high = np.percentile(data.compressed(), [2, 98])
    assert (stats[0].low, stats[0].high) == pytest.approx((low, high), rel=1e-9)
    img = getmap(real, LAYERS="sr_red", CRS="EPSG:32618", BBOX=f"{b.left},{b.bottom},{b.right},{b.top}",
                 WIDTH=data.shape[1], HEIGHT=data.shape[0], TRANSPARENT="TRUE")
    valid = ~np.ma.getmaskarray(data)
    np.testing.assert_array_equal(opacity(img) == 255, valid)
    expected = default_stretch(data.data, low, high)
    for i in range(3):
        np.testing.assert_array_equal(img[..., i][valid], expected[valid])


def test_copernicus_dems_with_nan_nodata_side_by_side(real, shared_data):
    box = "40.46,42.96,40.54,43.04"  # lat,lon in EPSG:4326 (1.3.0): across the seam at 43.0 E
    img = getmap(real, LAYERS="copdem", CRS="EPSG:4326", BBOX=box, WIDTH=200, HEIGHT=200, TRANSPARENT="TRUE")
    assert (opacity(img) == 255).mean() > 0.99  # no gap at the seam between the two DEMs
    q = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetFeatureInfo", "LAYERS": "copdem", "QUERY_LAYERS": "copdem",
         "STYLES": "", "CRS": "EPSG:4326", "BBOX": box, "WIDTH": 200, "HEIGHT": 200, "I": 20, "J": 100,
         "INFO_FORMAT": "application/json"}
    hit = real.get("/wms", query_string=q).get_json()["layers"][0]["features"][0]
    lon, lat = 42.96 + 20.5 * 0.08 / 200, 40.54 - 100.5 * 0.08 / 200
    with rasterio.open(shared_data / "dem-copernicus" / "glo_30_left.tif") as src:
        expected = next(src.sample([(lon, lat)]))[0]
    assert hit["item"] == "glo_30_left.tif" and hit["values"]["band_1"] == pytest.approx(float(expected))


def test_huge_raster_reads_a_small_overview(real, shared_data):
    """A 36000 x 36000 tile seen whole at 256 px reads its 1/64 overview, and equals it."""
    path = shared_data / "worldcover-2020-2021" / "ESA_WorldCover_10m_2021_v200_N00E006_Map.tif"
    with rasterio.open(path) as src:
        levels = src.overviews(1)
    img = getmap(real, LAYERS="worldcover", CRS="CRS:84", BBOX="6,0,9,3", WIDTH=256, HEIGHT=256, TRANSPARENT="TRUE")
    older = next(path.parent.glob("*_2020_*_Map.tif"))
    top, top_valid, edge = exact_nearest(path, (6, 0, 9, 3), "EPSG:4326", (256, 256), bands=(1,), with_edges=True,
                                         overview_level=len(levels) - 1)
    below, below_valid = exact_nearest(older, (6, 0, 9, 3), "EPSG:4326", (256, 256), bands=(1,),
                                       overview_level=len(levels) - 1)
    with rasterio.open(path) as src:
        cmap = src.colormap(1)
    lut = np.array([cmap.get(i, (0, 0, 0, 0)) for i in range(256)], dtype=np.uint8)
    classes = np.where(top_valid, top[0], below[0])  # the newest year on top
    expected = lut[classes]
    valid = top_valid | below_valid
    assert valid.mean() > 0.05 and (edge > 1e-3).all()  # no pixel centre is in doubt
    np.testing.assert_array_equal(img[..., 3] > 0, valid)
    np.testing.assert_array_equal(img[..., :3][valid], expected[..., :3][valid])


def test_classified_rasters_use_their_colour_table(real, shared_data):
    path = shared_data / "cdl-tiles" / "2021_30m_cdls_-106095_1807575_15000.tif"
    with rasterio.open(path) as src:
        b, cmap, data = src.bounds, src.colormap(1), src.read(1)
    bbox = f"{b.left},{b.bottom},{b.right},{b.top}"
    img = getmap(real, LAYERS="cdl", CRS="EPSG:5070", BBOX=bbox, WIDTH=500, HEIGHT=500, TRANSPARENT="TRUE")
    lut = np.array([cmap.get(i, (0, 0, 0, 0)) for i in range(256)], dtype=np.uint8)
    expected = lut[data]
    np.testing.assert_array_equal(img[..., :3], expected[..., :3])


@pytest.mark.parametrize("layer, crs, bbox, files, bands", [
    ("dateline", "EPSG:4326", (177.9, 50.6, 180, 52.8), "landsat8-antimeridian-utm/*.tif", (1,)),
    ("dateline", "EPSG:3857", (19800000, 6550000, 20037508, 6950000), "landsat8-antimeridian-utm/*.tif", (1,)),
    ("l8_overlap", "EPSG:3857", (-8300000, 5650000, -8050000, 5900000), "mosaic-landsat8-overlap/*.tif", (1, 2, 3)),
    ("naip", "EPSG:26910", (665598, 4637618, 671362, 4645098), "naip-rgbn/*.tif", (1, 2, 3)),
])
def test_antimeridian_scene_and_misaligned_overlap_show_their_pixels(real, shared_data, layer, crs, bbox, files,
                                                                     bands):
    axes = (bbox[1], bbox[0], bbox[3], bbox[2]) if crs == "EPSG:4326" else bbox  # lat,lon in 1.3.0
    img = getmap(real, LAYERS=layer, CRS=crs, BBOX=",".join(map(str, axes)), WIDTH=256, HEIGHT=256,
                 TRANSPARENT="TRUE")
    assert_shows_its_sources(img, sorted(shared_data.glob(files)), bbox, crs, bands, statistics(real, layer))


@pytest.mark.parametrize("layer, path", [
    ("swissdem", "dem-swissalti3d/dem.tif"),
    ("sr_red", "landsat8-sr-16bit/LC08_L2SP_008059_20191201_20200825_02_T1_SR_B4.TIF"),
])
def test_wcs_returns_real_rasters_bit_for_bit(real, shared_data, layer, path):
    """WCS 1.0.0 on the source's own grid gives back the source values exactly (float32 DEM, 16-bit scene)."""
    from tests.support.wcs import params as wcs_params
    from tests.support.wcs import read_coverage

    with rasterio.open(shared_data / path) as src:
        b, data, crs = src.bounds, src.read(), src.crs.to_epsg()
        width, height, transform, nodata = src.width, src.height, src.transform, src.nodata
    r = real.get("/wcs", query_string=wcs_params(
        "1.0.0", COVERAGE=layer, CRS=f"EPSG:{crs}", BBOX=f"{b.left},{b.bottom},{b.right},{b.top}",
        WIDTH=width, HEIGHT=height, FORMAT="GeoTIFF"))
    assert r.status_code == 200, r.data[:300]
    coverage = read_coverage(r.data)
    np.testing.assert_array_equal(coverage.data, data)
    assert coverage.transform.almost_equals(transform, precision=1e-9) and coverage.nodata == nodata


def test_real_multi_date_tiles_by_time_and_footprint(real, shared_data):
    """ESA WorldCover 2020 and 2021, the same tile: TIME picks each year's values exactly, no
    TIME stacks the newest on top, and footprints follow the land (most of the tile is nodata)."""
    from tests.support.wcs import params as wcs_params
    from tests.support.wcs import read_coverage

    folder = shared_data / "worldcover-2020-2021"
    paths = {year: next(folder.glob(f"*_{year}_*_Map.tif")) for year in (2020, 2021)}
    with rasterio.open(paths[2020]) as a, rasterio.open(paths[2021]) as b:
        small = [ds.read(1, out_shape=(360, 360)) for ds in (a, b)]
        differs = np.argwhere((small[0] != small[1]) & (small[0] > 0) & (small[1] > 0))
        row, col = (differs[0] * 100).tolist()  # a 1/100 cell of the overview: 100 source pixels
        window = rasterio.windows.Window(col, row, 64, 64)
        truth = {2020: a.read(1, window=window), 2021: b.read(1, window=window)}
        box = rasterio.windows.bounds(window, a.transform)
    assert not np.array_equal(truth[2020], truth[2021])

    def coverage(**extra):
        r = real.get("/wcs", query_string=wcs_params(
            "1.0.0", COVERAGE="worldcover", CRS="EPSG:4326", BBOX=",".join(map(str, box)), WIDTH=64, HEIGHT=64,
            FORMAT="GeoTIFF", **extra))
        assert r.status_code == 200, r.data[:300]
        return read_coverage(r.data).data[0]

    np.testing.assert_array_equal(coverage(TIME="2020"), truth[2020])
    np.testing.assert_array_equal(coverage(TIME="2021-01-01"), truth[2021])
    newest = coverage()
    np.testing.assert_array_equal(newest, np.where(truth[2021] > 0, truth[2021], truth[2020]))
    caps = real.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").data
    assert b">2020-01-01T00:00:00Z,2021-01-01T00:00:00Z</Dimension>" in caps
    items = real.get("/catalog/worldcover/items").get_json()["features"]
    from shapely.geometry import shape

    for feature in items:  # about 13% of the 3 x 3 degree tile has data
        assert 0.05 < shape(feature["geometry"]).area / 9.0 < 0.3


def test_a_day_the_gregorian_calendar_lacks_is_refused_on_dated_items(real):
    """30 February names a step of a 360-day axis only: on a layer of dated files it is an
    InvalidDimensionValue, not ignored as a time on a layer without dates would be."""
    r = real.get("/wms", query_string={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "worldcover", "STYLES": "",
        "CRS": "CRS:84", "BBOX": "0,0,1,1", "WIDTH": 8, "HEIGHT": 8, "FORMAT": "image/png", "TIME": "2021-02-30"})
    assert r.status_code == 400 and b'code="InvalidDimensionValue"' in r.data and b"Gregorian calendar" in r.data
