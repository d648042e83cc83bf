"""Raster functions and processing templates: truth from gdaldem and numpy, seamless tiles."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import rasterio
import yaml
from pydantic import TypeAdapter

from ogcserver.app import create_app
from ogcserver.core.functions.expression import Expression
from ogcserver.core.functions.library import AnyFunction
from ogcserver.model.errors import InvalidValue
from ogcserver.model.image import Grid, Raster
from ogcserver.settings import ConfigError, load_settings
from tests.support import rasters
from tests.support.reference import decode, params

X0, Y0 = rasters.ORIGIN
TEMPLATES = [
    {"name": "shade", "title": "Hillshade", "chain": [{"function": "hillshade", "azimuth": 315, "altitude": 45}]},
    {"name": "multishade", "chain": [{"function": "hillshade", "multidirectional": True}]},
    {"name": "slope", "chain": [{"function": "slope"}, {"function": "stretch", "method": "fixed", "minimum": 0, "maximum": 90}]},
    {"name": "aspect", "chain": [{"function": "aspect"}, {"function": "stretch", "method": "fixed", "minimum": 0, "maximum": 360}]},
    {"name": "ndvi", "chain": [{"function": "normalized_difference", "a": 4, "b": 3},
                               {"function": "colormap", "ramp": "rdylgn", "minimum": -1, "maximum": 1}]},
    {"name": "math", "chain": [{"function": "expression", "expression": "where(b1 > b2, b1 - b2, 0) / 10"},
                               {"function": "stretch", "method": "fixed", "minimum": 0, "maximum": 255}]},
    {"name": "smooth", "chain": [{"function": "convolve", "kernel": "smooth", "size": 5},
                                 {"function": "stretch", "method": "fixed", "minimum": 100, "maximum": 900}]},
    {"name": "remap", "chain": [{"function": "remap", "ranges": [[0, 400, 1], [400, 600, 2]]},
                                {"function": "colormap", "classes": "intervals", "stops": [[1, "#0000ff"], [2, "#00ff00"]]}]},
    {"name": "high", "chain": [{"function": "mask", "minimum": 500},
                               {"function": "stretch", "method": "fixed", "minimum": 100, "maximum": 900}]},
    {"name": "equalize", "chain": [{"function": "equalize"}]},
    {"name": "ndvi_values", "chain": [{"function": "normalized_difference", "a": 4, "b": 3}]},
    {"name": "slope_values", "chain": [{"function": "slope"}]},
    {"name": "classes", "chain": [{"function": "colormap", "classes": "intervals",
                                   "stops": [[0, "#0000ff"], [400, "#00ff00"], [600, "#ff0000"]]}]},
]


@pytest.fixture(scope="module")
def processed(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("functions")
    dem = (rasters.texture((300, 300), 1, seed=3, dtype="float32", scale=60) + np.linspace(200, 700, 300)[None, None, :]).astype("float32")
    rasters.write(folder / "smooth_dem.tif", dem, rasters.from_origin(X0, Y0, 10, 10), nodata=-9999)
    config = folder / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")},
        "processing": TEMPLATES,
        "services": [{"name": "s", "allow_processing": True, "layers": [
            {"name": "dem", "source": str(folder / "smooth_dem.tif"), "styles": ["shade", "multishade", "slope", "aspect", "classes", "smooth", "remap", "high", "equalize",
                                                                              "slope_values"]},
            {"name": "ms", "source": str(data_dir / "ms16.tif"), "styles": ["ndvi", "math", "ndvi_values"]},
        ]}],
    }))
    return folder, create_app(load_settings(config)).test_client()


def getmap(client, layer, style, bbox=f"{X0 + 500},{Y0 - 2500},{X0 + 2500},{Y0 - 500}", size=200, **kw):
    r = client.get("/wms", query_string={**params(LAYERS=layer, STYLES=style, CRS="EPSG:32632", BBOX=bbox,
                                                   WIDTH=size, HEIGHT=size, TRANSPARENT="TRUE"), **kw})
    assert r.status_code == 200, r.data[:300]
    return decode(r.data)


def gdaldem(mode, src, dst, *args):
    exe = shutil.which("gdaldem")
    if exe is None:
        message = "gdaldem (Debian package gdal-bin) is the reference; .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    subprocess.run([exe, mode, str(src), str(dst), *args, "-q"], check=True, timeout=60)
    with rasterio.open(dst) as ds:
        return ds.read(1)


@pytest.mark.parametrize("mode, style, scale", [("hillshade", "shade", None), ("hillshade -multidirectional", "multishade", None),
                                               ("slope", "slope", 90), ("aspect", "aspect", 360)])
def test_terrain_matches_gdaldem(processed, tmp_path, mode, style, scale):
    folder, client = processed
    mode, *options = mode.split()
    ref = gdaldem(mode, folder / "smooth_dem.tif", tmp_path / f"{mode}.tif", *options)[50:250, 50:250]  # rows/cols of the view
    got = getmap(client, "dem", style)[..., 0].astype(float)
    if scale is None:
        diff = np.abs(got - ref)
    else:  # slope and aspect went through a fixed 0..scale stretch to bytes
        valid = ref > -9999
        expected = np.clip(ref / scale * 255 + 0.5, 0, 255).astype(int)
        diff = np.abs(got - expected)[valid]
    assert diff.max() <= 1, diff.max()  # byte rounding


def test_hillshade_tiles_have_no_seams(processed):
    """Each of four quarters, requested alone, equals the same quarter of the whole view."""
    _folder, client = processed
    whole = getmap(client, "dem", "shade", bbox=f"{X0 + 500},{Y0 - 2500},{X0 + 2500},{Y0 - 500}", size=200)
    for r in (0, 1):
        for c in (0, 1):
            x0, y1 = X0 + 500 + c * 1000, Y0 - 500 - r * 1000
            part = getmap(client, "dem", "shade", bbox=f"{x0},{y1 - 1000},{x0 + 1000},{y1}", size=100)
            np.testing.assert_array_equal(part, whole[r * 100:(r + 1) * 100, c * 100:(c + 1) * 100])


def test_ndvi_and_band_math_match_numpy(processed, data_dir):
    _folder, client = processed
    with rasterio.open(data_dir / "ms16.tif") as src:
        data = src.read().astype(np.float32)[:, 50:250, 50:250]
    ndvi = (data[3] - data[2]) / (data[3] + data[2])
    img = getmap(client, "ms", "ndvi")
    # the rdylgn ramp from -1 to 1, as numpy interpolates it
    stops = np.linspace(-1, 1, 5)
    red = np.interp(ndvi, stops, [0xa5, 0xf4, 0xff, 0x66, 0x00]).astype(np.uint8)
    green = np.interp(ndvi, stops, [0x00, 0x6d, 0xff, 0xbd, 0x68]).astype(np.uint8)
    valid = data[0] != 0
    assert np.abs(img[..., 0].astype(int) - red)[valid].max() <= 1
    assert np.abs(img[..., 1].astype(int) - green)[valid].max() <= 1
    math = getmap(client, "ms", "math")[..., 0].astype(int)
    expected = np.clip(np.where(data[0] > data[1], data[0] - data[1], 0) / 10 / 255 * 255 + 0.5, 0, 255).astype(int)
    assert np.abs(math - expected).max() <= 1


def test_interval_classes(processed, tmp_path):
    folder, client = processed
    img = getmap(client, "dem", "classes")
    with rasterio.open(folder / "smooth_dem.tif") as src:
        dem = src.read(1)[50:250, 50:250]
    np.testing.assert_array_equal(img[..., 2][dem < 400] == 255, True)
    np.testing.assert_array_equal(img[..., 0][dem >= 600] == 255, True)


def test_styles_are_advertised_and_tiles_use_them(processed):
    _folder, client = processed
    caps = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities").data
    assert b"<Name>shade</Name>" in caps and b"<Title>Hillshade</Title>" in caps
    wmts = client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities").data
    assert b"<ows:Identifier>shade</ows:Identifier>" in wmts
    shade = client.get("/wmts/1.0.0/dem/shade/dem_native/1/0/0.png")
    plain = client.get("/wmts/1.0.0/dem/default/dem_native/1/0/0.png")
    assert shade.status_code == plain.status_code == 200 and shade.data != plain.data
    r = client.get("/wms", query_string=params(LAYERS="dem", STYLES="ndvi", CRS="EPSG:32632",
                                              BBOX=f"{X0},{Y0 - 100},{X0 + 100},{Y0}", WIDTH=10, HEIGHT=10))
    assert r.status_code == 400 and b"StyleNotDefined" in r.data


@pytest.mark.parametrize("text", [
    "b1.__class__", "b1 if b1 else b2", "(lambda: 1)()", "__import__('os').system('true')", "b1 ** b2",
    "b1 ** 1000", "+".join(["b1"] * 300), "x" * 600, "b1[0]", "'text'", "open('/etc/passwd')", "b1 and b2",
])
def test_hostile_expressions_are_refused(text):
    with pytest.raises(InvalidValue):
        Expression(text)


def test_templates_are_checked_when_the_config_loads(data_dir, tmp_path):
    bad = [
        [{"function": "expression", "expression": "__import__('os')"}],
        [{"function": "hillshade", "azimuth": 1000}],
        [{"function": "nosuch"}],
        [{"function": "stretch"}] * 9,
    ]
    for chain in bad:
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump({
            "processing": [{"name": "t", "chain": chain}],
            "services": [{"name": "s", "allow_processing": True, "layers": [{"name": "d", "source": str(data_dir / "dem.tif"), "styles": ["t"]}]}],
        }))
        with pytest.raises(ConfigError, match="processing.0.chain"):
            load_settings(config)


def test_ad_hoc_chain_in_the_request(processed, data_dir, tmp_path):
    import json

    _folder, client = processed
    rule = json.dumps({"chain": [{"function": "hillshade", "azimuth": 315, "altitude": 45}]})
    adhoc = getmap(client, "dem", "", RENDERINGRULE=rule)
    np.testing.assert_array_equal(adhoc, getmap(client, "dem", "shade"))  # the same as the template
    for bad, message in [
        ("{not json", b"not valid JSON"),
        (json.dumps({"chain": [{"function": "expression", "expression": "__import__('os').system('id')"}]}), b"refused"),
        (json.dumps({"chain": [{"function": "hillshade", "azimuth": 9999}]}), b"azimuth"),
        (json.dumps({"chain": [{"function": "nosuch"}]}), b"RENDERINGRULE"),
        (json.dumps({"chain": [{"function": "stretch"}] * 50}), b"RENDERINGRULE"),
    ]:
        r = client.get("/wms", query_string=params(LAYERS="dem", CRS="EPSG:32632", BBOX=f"{X0},{Y0 - 100},{X0 + 100},{Y0}",
                                                  WIDTH=10, HEIGHT=10, RENDERINGRULE=bad))
        assert r.status_code == 400 and b"InvalidParameterValue" in r.data and message in r.data, r.data
    # a service that does not allow chains in requests refuses them
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")},
                                      "services": [{"name": "s", "layers": [{"name": "d", "source": str(data_dir / "dem.tif")}]}]}))
    closed = create_app(load_settings(config)).test_client()
    r = closed.get("/wms", query_string=params(LAYERS="d", CRS="EPSG:32632", BBOX=f"{X0},{Y0 - 100},{X0 + 100},{Y0}",
                                              WIDTH=10, HEIGHT=10, RENDERINGRULE=rule))
    assert r.status_code == 400 and b"takes no processing chains" in r.data


def test_convolution_remap_mask_equalize(processed):
    folder, client = processed
    with rasterio.open(folder / "smooth_dem.tif") as src:
        dem = src.read(1).astype(np.float64)
    view = dem[50:250, 50:250]
    # 5x5 mean around each view pixel (the read includes 2 pixels of context on every side)
    mean = np.zeros_like(view)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            mean += dem[50 + dy:250 + dy, 50 + dx:250 + dx] / 25
    expected = np.clip((mean - 100) / 800 * 255 + 0.5, 0, 255).astype(int)
    assert np.abs(getmap(client, "dem", "smooth")[..., 0].astype(int) - expected).max() <= 1
    whole = getmap(client, "dem", "smooth")  # no seams: a quarter alone equals the quarter of the whole
    part = getmap(client, "dem", "smooth", bbox=f"{X0 + 1500},{Y0 - 1500},{X0 + 2500},{Y0 - 500}", size=100)
    np.testing.assert_array_equal(part, whole[:100, 100:])
    remap = getmap(client, "dem", "remap")
    assert (remap[..., 2][view < 400] == 255).all() and (remap[..., 1][(view >= 400) & (view < 600)] == 255).all()
    assert (remap[..., 3][view >= 600] == 0).all()  # outside every range: nodata
    high = getmap(client, "dem", "high")
    assert (high[..., 3][view < 500] == 0).all() and (high[..., 3][view >= 500] == 255).all()
    grey = getmap(client, "dem", "equalize")[..., 0].astype(int)
    hist = np.histogram(grey, bins=4, range=(0, 256))[0]
    assert hist.min() > 0.2 * grey.size  # equalized: each quarter of the range holds about a quarter


def test_kml_overlays_carry_the_chosen_style(processed):
    from lxml import etree

    _folder, client = processed
    k = "{http://www.opengis.net/kml/2.2}"
    root = etree.fromstring(client.get("/kml/dem.kml?style=shade").data)
    link = next(root.iter(k + "NetworkLink")).find(f"{k}Link/{k}href").text
    assert link.endswith("?style=shade")
    tile = etree.fromstring(client.get(link.replace("http://127.0.0.1:8080", "")).data)
    href = tile.find(f"{k}Document/{k}GroundOverlay/{k}Icon/{k}href").text
    assert "/wmts/1.0.0/dem/shade/WorldCRS84Quad/" in href
    assert client.get(href.replace("http://127.0.0.1:8080", "")).status_code == 200
    assert client.get("/kml/dem.kml?style=nosuch").status_code == 400


def test_sigmoid_contrast_and_clip_to_a_geometry(processed):
    import json

    import pyproj
    import shapely

    folder, client = processed
    with rasterio.open(folder / "smooth_dem.tif") as src:
        view = src.read(1).astype(np.float64)[50:250, 50:250]
    rule = {"chain": [{"function": "stretch", "method": "fixed", "minimum": 100, "maximum": 900,
                       "contrast": 10, "midpoint": 0.4}]}
    got = getmap(client, "dem", "", RENDERINGRULE=json.dumps(rule))[..., 0].astype(int)
    x = np.clip((view - 100) / 800, 0, 1)

    def curve(v):
        return 1 / (1 + np.exp(10 * (0.4 - v)))

    expected = ((curve(x) - curve(0)) / (curve(1) - curve(0)) * 255 + 0.5).astype(int)
    assert np.abs(got - expected).max() <= 1
    assert not np.array_equal(got, (x * 255 + 0.5).astype(int))  # the curve did something
    # clip to a lon/lat triangle: pixel centres inside keep their values, the rest is transparent
    to_lonlat = pyproj.Transformer.from_crs("EPSG:32632", "EPSG:4326", always_xy=True)
    corners = [to_lonlat.transform(X0 + 500 + dx, Y0 - 2500 + dy) for dx, dy in ((0, 0), (2000, 0), (0, 2000))]
    triangle = {"type": "Polygon", "coordinates": [[list(c) for c in corners + corners[:1]]]}
    rule = {"chain": [{"function": "clip", "geometry": triangle},
                      {"function": "stretch", "method": "fixed", "minimum": 100, "maximum": 900}]}
    alpha = getmap(client, "dem", "", RENDERINGRULE=json.dumps(rule))[..., 3]
    cols, rows = np.meshgrid(np.arange(200) + 0.5, np.arange(200) + 0.5)
    lon, lat = to_lonlat.transform(X0 + 500 + cols * 10, Y0 - 500 - rows * 10)
    inside = shapely.contains_xy(shapely.geometry.shape(triangle), lon, lat)
    np.testing.assert_array_equal(alpha == 255, inside)
    assert 0.4 < inside.mean() < 0.6
    bad = client.get("/wms", query_string=params(LAYERS="dem", CRS="EPSG:32632", BBOX=f"{X0},{Y0 - 100},{X0 + 100},{Y0}",
                                                WIDTH=10, HEIGHT=10, RENDERINGRULE=json.dumps(
                                                    {"chain": [{"function": "clip", "geometry": {"type": "Point", "coordinates": [9, 47]}}]})))
    assert bad.status_code == 400 and b"Polygon" in bad.data


def test_wcs_returns_processed_float_values(processed, data_dir, tmp_path):
    """PROCESSING=<template> (or an ad-hoc RENDERINGRULE) on WCS: the chain's values, not a picture."""
    import json

    from tests.support.wcs import read_coverage

    folder, client = processed
    with rasterio.open(data_dir / "ms16.tif") as src:
        ms, b, (w, h) = src.read().astype(np.float64), src.bounds, (src.width, src.height)
    query = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "ms", "CRS": "EPSG:32632",
             "BBOX": f"{b.left},{b.bottom},{b.right},{b.top}", "WIDTH": w, "HEIGHT": h, "FORMAT": "GeoTIFF"}
    r = client.get("/wcs", query_string={**query, "PROCESSING": "ndvi_values"})
    assert r.status_code == 200, r.data[:300]
    coverage = read_coverage(r.data)
    assert coverage.dtype == "float32" and coverage.data.shape == (1, h, w)
    nir, red = ms[3], ms[2]
    valid = (nir > 0) & (red > 0) & (nir + red != 0)
    expected = (nir - red) / (nir + red)
    np.testing.assert_allclose(coverage.data[0][valid], expected[valid], atol=1e-6)
    assert not coverage.mask[~valid].any()
    rule = json.dumps({"chain": [{"function": "normalized_difference", "a": 4, "b": 3}]})
    adhoc = read_coverage(client.get("/wcs", query_string={**query, "RENDERINGRULE": rule}).data)
    np.testing.assert_array_equal(adhoc.data, coverage.data)
    assert client.get("/wcs", query_string={**query, "PROCESSING": "nosuch"}).status_code == 400
    # slope on the DEM through WCS 2.0 in pieces: gdaldem's values, no seams between pieces
    src = folder / "smooth_dem.tif"
    reference = gdaldem("slope", src, tmp_path / "slope.tif", "-compute_edges")
    with rasterio.open(src) as ds:
        box = ds.bounds
    r = client.get("/wcs", query_string=[("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"),
                                         ("COVERAGEID", "dem"), ("PROCESSING", "slope_values"), ("FORMAT", "image/tiff"),
                                         ("SUBSET", f"E({box.left + 100},{box.right - 100})"),
                                         ("SUBSET", f"N({box.bottom + 100},{box.top - 100})")])
    assert r.status_code == 200, r.data[:300]
    slope = read_coverage(r.data).data[0]
    np.testing.assert_allclose(slope, reference[10:-10, 10:-10], atol=1e-3)


def test_templates_have_their_own_legends(processed):
    """GetLegendGraphic for a template draws its colormap's colours (or its stretch's greys)
    with the values they stand for; OWSLib finds those legends in the capabilities."""
    from owslib.wms import WebMapService

    _folder, client = processed

    def legend(layer, style):
        r = client.get("/wms", query_string={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic",
                                             "LAYER": layer, "STYLE": style, "FORMAT": "image/png"})
        assert r.status_code == 200 and r.content_type == "image/png"
        return decode(r.data)

    def near(pixel, colour):
        return np.abs(pixel[:3].astype(int) - np.array(colour)).max() <= 12

    ndvi = legend("ms", "ndvi")  # rdylgn from -1 (bottom) to 1 (top), inside the bar's outline
    assert near(ndvi[12, 10], (0, 104, 55)) and near(ndvi[ndvi.shape[0] - 13, 10], (165, 0, 38))
    classes = legend("dem", "classes")  # one swatch per class, in the class colours
    swatches = {tuple(classes[y, 10, :3]) for y in range(0, 60)}
    assert {(0, 0, 255), (0, 255, 0), (255, 0, 0)} <= swatches
    slope = legend("dem", "slope")  # a fixed stretch: greys, white at the top
    assert near(slope[12, 10], (255, 255, 255)) and near(slope[slope.shape[0] - 13, 10], (0, 0, 0))
    assert not np.array_equal(legend("dem", "shade"), slope)  # hillshade alone: the default legend

    caps = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").data
    wms = WebMapService("http://127.0.0.1:8080/wms", version="1.3.0", xml=caps)
    styles = wms.contents["ms"].styles
    assert "ndvi" in styles and "GetLegendGraphic" in styles["ndvi"]["legend"] and "STYLE=ndvi" in styles["ndvi"]["legend"]


def test_stretch_with_dataset_statistics(processed):
    """statistics: dataset takes the bounds from the whole layer, so a small view keeps the
    layer's contrast instead of stretching its own few values over the whole range."""
    import json

    folder, client = processed
    with rasterio.open(folder / "smooth_dem.tif") as src:
        dem = src.read(1).astype(np.float64)
    low, high = dem.min(), dem.max()
    bbox = f"{X0 + 500},{Y0 - 1000},{X0 + 1000},{Y0 - 500}"  # rows/cols 50-100 of the DEM
    rule = {"chain": [{"function": "stretch", "method": "minmax", "statistics": "dataset"}]}
    got = getmap(client, "dem", "", bbox=bbox, size=50, RENDERINGRULE=json.dumps(rule))[..., 0].astype(int)
    view = dem[50:100, 50:100]
    expected = np.clip((view - low) / (high - low) * 255 + 0.5, 0, 255).astype(int)
    assert np.abs(got - expected).max() <= 1
    local = getmap(client, "dem", "", bbox=bbox, size=50,
                   RENDERINGRULE=json.dumps({"chain": [{"function": "stretch", "method": "minmax"}]}))[..., 0]
    assert local.min() == 0 and local.max() == 255 and got.max() - got.min() < 200  # the view's own range


def test_exact_value_classes(processed):
    import json

    _folder, client = processed
    rule = {"chain": [{"function": "remap", "ranges": [[0, 400, 1], [400, 600, 2], [600, 2000, 3]]},
                      {"function": "colormap", "classes": "exact", "stops": [[1, "#0000ff"], [3, "#ff0000"]]}]}
    img = getmap(client, "dem", "", RENDERINGRULE=json.dumps(rule))
    remapped = getmap(client, "dem", "remap")  # the same classes 1 and 2 as blue and green
    blue = (remapped[..., 2] == 255) & (remapped[..., 3] == 255)
    green = (remapped[..., 1] == 255) & (remapped[..., 3] == 255)
    assert blue.any() and green.any()
    assert (img[..., 2][blue] == 255).all() and (img[..., 3][green] == 0).all()  # class 2 has no colour
    assert ((img[..., 3] == 255) == ~green).all()


@pytest.mark.parametrize("spec, mode", [({"function": "hillshade"}, "hillshade"),
                                        ({"function": "hillshade", "azimuth": 100, "altitude": 30, "z_factor": 3},
                                         "hillshade -az 100 -alt 30 -z 3"),
                                        ({"function": "hillshade", "multidirectional": True}, "hillshade -multidirectional"),
                                        ({"function": "slope"}, "slope"),
                                        ({"function": "slope", "units": "percent"}, "slope -p"),
                                        ({"function": "aspect"}, "aspect")])
def test_terrain_over_many_row_strips_matches_gdaldem(tmp_path, spec, mode):
    """A view far taller than one strip of the neighbourhood functions, with holes of nodata:
    gdaldem's values and gdaldem's gaps everywhere, so strips join without seams."""
    h, w = 700, 300  # STRIP_PIXELS / 302 columns: strips of 217 rows, the last one short
    dem = rasters.texture((h, w), 1, seed=11, dtype="float32", scale=400)
    dem[0, 100:140, 50:90] = -9999
    dem[0, 216:219, 200:210] = -9999  # across a strip boundary
    src = rasters.write(tmp_path / "dem.tif", dem, rasterio.transform.from_origin(X0, Y0, 10, 10), nodata=-9999)
    name, *options = mode.split()
    ref = gdaldem(name, src, tmp_path / "ref.tif", *options)
    function = TypeAdapter(AnyFunction).validate_python(spec)
    grid = Grid(rasters.UTM, rasterio.transform.from_origin(X0, Y0, 10, 10), w, h)
    out = function.apply(Raster(dem, dem[0] != -9999, grid, ("dem",)))
    gaps = ref == (0 if name == "hillshade" else -9999)
    assert (out.valid == ~gaps).all()
    got = out.data[0].astype(float)[~gaps]
    if name == "hillshade":
        assert np.abs(got - ref[~gaps]).max() <= 1  # byte rounding
    elif name == "aspect":
        turn = np.abs(got - ref[~gaps]) % 360
        assert np.minimum(turn, 360 - turn).max() < 1e-2  # gdaldem's float32 arctangent on gentle slopes
    else:
        np.testing.assert_allclose(got, ref[~gaps], atol=1e-3)
