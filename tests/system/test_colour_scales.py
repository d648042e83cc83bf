"""Colour scales for scientific data (ncWMS's COLORSCALERANGE, LOGSCALE, NUMCOLORBANDS,
ABOVEMAXCOLOR, BELOWMINCOLOR and default-scalar/<ramp> styles) on a real DEM: each pixel's colour
is computed here from the source values read with rasterio and a ramp written out below."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import rasterio
import yaml
from lxml import etree
from PIL import Image

from ogcserver.app import create_app
from ogcserver.settings import ConfigError, load_settings
from tests.support.schemas import assert_valid, schema

# matplotlib's viridis and plasma at quarter steps (the server's ramps are these stops)
VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
PLASMA = ["#0d0887", "#7e03a8", "#cc4778", "#f89540", "#f0f921"]
WMS_NS = "http://www.opengis.net/wms"


def ramp_colours(t: np.ndarray, ramp: list[str], bands: int | None = None) -> np.ndarray:
    """RGB of positions (0..1) on evenly spaced stops; with ``bands``, each of n equal bands in
    the colour at its rank (first: the start, last: the end)."""
    t = np.clip(t, 0, 1)
    if bands:
        t = np.minimum(np.floor(t * bands), bands - 1) / (bands - 1)
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in ramp], dtype=float)
    at = np.linspace(0, 1, len(ramp))
    return np.stack([np.interp(t, at, stops[:, c]) for c in range(3)], axis=-1)


@pytest.fixture(scope="module")
def dem(shared_data, tmp_path_factory):
    """The swissALTI3D tile with a block of nodata written into it, its values and its grid."""
    folder = tmp_path_factory.mktemp("colour-scales")
    path = folder / "dem.tif"
    with rasterio.open(shared_data / "dem-swissalti3d" / "dem.tif") as src:
        data, profile = src.read(1), {**src.profile, "driver": "GTiff"}
    data[100:140, 200:260] = profile["nodata"]
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
    with rasterio.open(path) as ds:
        return folder, path, ds.read(1), ds.nodata, tuple(ds.bounds)


@pytest.fixture(scope="module")
def client(dem):
    folder, path, *_ = dem
    config = folder / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")},
        "processing": [{"name": "ramped", "chain": [{"function": "colormap", "ramp": "viridis",
                                                     "minimum": 1600, "maximum": 2000}]}],
        "services": [{"name": "sci", "layers": [
            {"name": "dem", "source": str(path), "styles": ["ramped"]},
            {"name": "scaled", "source": str(path), "value_range": [1700, 1900], "colour_scale": {
                "palette": "plasma", "above": "#ff0000", "below": "transparent",
                "units": "m"}},
        ]}],
    }))
    return create_app(load_settings(config)).test_client()


def getmap(client, dem, layer="dem", style="default-scalar/viridis", size=400, version="1.1.1", **vendor):
    *_, bounds = dem
    query = {"SERVICE": "WMS", "VERSION": version, "REQUEST": "GetMap", "LAYERS": layer, "STYLES": style,
             "SRS" if version == "1.1.1" else "CRS": "EPSG:2056", "BBOX": ",".join(map(str, bounds)),
             "WIDTH": size, "HEIGHT": size, "FORMAT": "image/png", "TRANSPARENT": "TRUE", **vendor}
    r = client.get("/wms", query_string=query)
    assert r.status_code == 200 and r.mimetype == "image/png", r.data[:400]
    return np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))


def assert_colours(img: np.ndarray, expected: np.ndarray, where: np.ndarray) -> None:
    diff = np.abs(img[..., :3].astype(int) - expected.astype(int))[where]
    assert where.any() and diff.max() <= 1, diff.max()  # the server rounds down to bytes


def test_each_pixel_is_the_ramp_at_its_value_and_out_of_range_pixels_take_their_colours(client, dem):
    _folder, _path, values, nodata, _bounds = dem
    low, high = 1650.0, 1900.0
    img = getmap(client, dem, COLORSCALERANGE=f"{low},{high}", ABOVEMAXCOLOR="0xFF0000",
                 BELOWMINCOLOR="transparent")
    valid = values != nodata
    inside = valid & (values >= low) & (values <= high)
    assert_colours(img, ramp_colours((values - low) / (high - low), VIRIDIS), inside)
    assert (img[..., 3][inside] == 255).all()
    above, below = valid & (values > high), valid & (values < low)
    assert above.sum() > 1000 and below.sum() > 1000
    assert (img[above] == [255, 0, 0, 255]).all()
    assert (img[..., 3][below] == 0).all()
    assert (img[..., 3][~valid] == 0).all() and (~valid).sum() == 40 * 60  # nodata stays transparent


def test_extend_gives_values_past_the_range_the_end_colours(client, dem):
    _folder, _path, values, nodata, _bounds = dem
    low, high = 1700.0, 1800.0
    img = getmap(client, dem, style="default-scalar/plasma", COLORSCALERANGE=f"{low},{high}",
                 ABOVEMAXCOLOR="extend")
    valid = values != nodata
    assert_colours(img, ramp_colours((values - low) / (high - low), PLASMA), valid)
    assert_colours(img, np.broadcast_to(ramp_colours(np.array(1.0), PLASMA), img.shape[:2] + (3,)),
                   valid & (values > high))


def test_log_scale_places_values_by_their_logarithm(client, dem):
    _folder, _path, values, nodata, _bounds = dem
    low, high = 1000.0, 2100.0
    img = getmap(client, dem, version="1.3.0", COLORSCALERANGE=f"{low},{high}", LOGSCALE="true")
    valid = values != nodata
    logs = np.log10(np.where(valid, values, 1).astype(float))
    t = (logs - np.log10(low)) / (np.log10(high) - np.log10(low))
    assert_colours(img, ramp_colours(t, VIRIDIS), valid)
    linear = ramp_colours((values - low) / (high - low), VIRIDIS)
    assert np.abs(img[..., :3].astype(int) - linear.astype(int))[valid].max() > 10  # not the linear scale


def test_colour_bands_cut_the_ramp_into_equal_steps(client, dem):
    _folder, _path, values, nodata, _bounds = dem
    low, high, bands = 1600.0, 2020.0, 5
    img = getmap(client, dem, COLORSCALERANGE=f"{low},{high}", NUMCOLORBANDS=bands)
    valid = values != nodata
    assert_colours(img, ramp_colours((values - low) / (high - low), VIRIDIS, bands), valid)
    assert len(np.unique(img[valid][:, :3], axis=0)) == bands


def test_auto_fits_the_range_to_the_view(client, dem):
    _folder, _path, values, nodata, _bounds = dem
    img = getmap(client, dem, COLORSCALERANGE="auto")
    valid = values != nodata
    low, high = float(values[valid].min()), float(values[valid].max())
    assert_colours(img, ramp_colours((values - low) / (high - low), VIRIDIS), valid)


def test_a_template_ending_in_a_ramp_takes_the_requests_scale(client, dem):
    _folder, _path, values, nodata, _bounds = dem
    valid = values != nodata
    own = getmap(client, dem, style="ramped")
    assert_colours(own, ramp_colours((values - 1600) / 400, VIRIDIS), valid)
    rescaled = getmap(client, dem, style="ramped", COLORSCALERANGE="1700,1750")
    assert_colours(rescaled, ramp_colours((values - 1700) / 50, VIRIDIS), valid)


def test_the_layers_configured_scale_is_its_default_style(client, dem):
    _folder, _path, values, nodata, _bounds = dem
    img = getmap(client, dem, layer="scaled", style="")
    valid = values != nodata
    inside = valid & (values >= 1700) & (values <= 1900)
    assert_colours(img, ramp_colours((values - 1700) / 200, PLASMA), inside)
    assert (img[valid & (values > 1900)] == [255, 0, 0, 255]).all()
    assert (img[..., 3][valid & (values < 1700)] == 0).all()
    # a request's parameters override the configuration, one by one
    wider = getmap(client, dem, layer="scaled", style="", COLORSCALERANGE="1600,2100", BELOWMINCOLOR="extend")
    assert_colours(wider, ramp_colours((values - 1600) / 500, PLASMA), valid)


def test_the_default_range_is_the_layers_percentile_stretch(client, dem):
    """Without COLORSCALERANGE, the range is the one the plain style stretches (2nd..98th
    percentiles): the grey of the plain map gives it back."""
    _folder, _path, values, nodata, _bounds = dem
    valid = values != nodata
    grey = getmap(client, dem, style="")[..., 0].astype(float)
    coloured = getmap(client, dem, style="default-scalar/greys")[..., 0].astype(float)
    assert np.abs(grey - coloured)[valid].max() <= 1
    named = getmap(client, dem, style="default-scalar/greys", COLORSCALERANGE="default")[..., 0].astype(float)
    np.testing.assert_array_equal(named, coloured)


@pytest.mark.parametrize("name, value", [
    ("COLORSCALERANGE", "2000,1000"), ("COLORSCALERANGE", "5,5"), ("COLORSCALERANGE", "1,nan"),
    ("COLORSCALERANGE", "1,inf"), ("COLORSCALERANGE", "1e999,2e999"), ("COLORSCALERANGE", "1,2,3"),
    ("COLORSCALERANGE", "a,b"), ("COLORSCALERANGE", "1," + "9" * 5000), ("NUMCOLORBANDS", "0"),
    ("NUMCOLORBANDS", "256"), ("NUMCOLORBANDS", "-3"), ("NUMCOLORBANDS", "1e3"), ("NUMCOLORBANDS", "\uff19"),
    ("LOGSCALE", "maybe"), ("ABOVEMAXCOLOR", "red"), ("ABOVEMAXCOLOR", "0xGG0000"), ("BELOWMINCOLOR", "0x12345"),
    ("BELOWMINCOLOR", "<x/>"),
])
def test_hostile_values_are_refused_naming_the_parameter(client, dem, name, value):
    *_, bounds = dem
    r = client.get("/wms", query_string={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "dem", "STYLES": "default-scalar/viridis",
        "CRS": "EPSG:2056", "BBOX": ",".join(map(str, bounds)), "WIDTH": 64, "HEIGHT": 64, "FORMAT": "image/png",
        name: value})
    assert r.status_code == 400, r.data[:300]
    node = etree.fromstring(r.data).find(f"{{{'http://www.opengis.net/ogc'}}}ServiceException")
    assert node.get("code") == "InvalidParameterValue"
    assert node.get("locator") == name


@pytest.mark.parametrize("vendor", [
    {"COLORSCALERANGE": "-5,100", "LOGSCALE": "true"},
    {"COLORSCALERANGE": "0,100", "LOGSCALE": "true"},
])
def test_a_log_scale_over_a_range_that_is_not_positive_is_refused(client, dem, vendor):
    *_, bounds = dem
    r = client.get("/wms", query_string={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "dem", "STYLES": "",
        "CRS": "EPSG:2056", "BBOX": ",".join(map(str, bounds)), "WIDTH": 64, "HEIGHT": 64, "FORMAT": "image/png",
        **vendor})
    assert r.status_code == 400
    assert b'code="InvalidParameterValue"' in r.data and b'locator="COLORSCALERANGE"' in r.data
    assert b"LOGSCALE" in r.data


def test_a_log_scale_over_a_default_range_that_is_not_positive_is_refused(tmp_path):
    """The range is the layer's here (no COLORSCALERANGE), below zero: the core refuses it and
    WMS names the parameter that would fix it."""
    path = tmp_path / "negative.tif"
    profile = {"driver": "GTiff", "width": 20, "height": 20, "count": 1, "dtype": "float32", "crs": "EPSG:3857",
               "transform": rasterio.transform.from_origin(0, 2000, 100, 100)}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.linspace(-50, 50, 400, dtype="float32").reshape(1, 20, 20))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")},
                                      "services": [{"name": "s", "layers": [{"name": "neg", "source": str(path)}]}]}))
    client = create_app(load_settings(config)).test_client()
    r = client.get("/wms", query_string={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "neg", "STYLES": "default-scalar/viridis",
        "CRS": "EPSG:3857", "BBOX": "0,0,2000,2000", "WIDTH": 20, "HEIGHT": 20, "FORMAT": "image/png",
        "LOGSCALE": "true"})
    assert r.status_code == 400, r.data[:300]
    assert b'locator="COLORSCALERANGE"' in r.data and b"positive range" in r.data


def test_an_unknown_palette_is_an_undefined_style(client, dem):
    *_, bounds = dem
    r = client.get("/wms", query_string={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "dem", "STYLES": "default-scalar/nope",
        "CRS": "EPSG:2056", "BBOX": ",".join(map(str, bounds)), "WIDTH": 64, "HEIGHT": 64, "FORMAT": "image/png"})
    assert r.status_code == 400 and b'code="StyleNotDefined"' in r.data


@pytest.mark.parametrize("text, reason", [
    ({"range": [5, 1]}, "minimum first"), ({"range": [1, 5], "units": "m", "above": "red"}, "'transparent' or a colour"),
    ({"range": [-1, 5], "log": True}, "positive value_range"), ({"palette": "nope"}, "colour_scale.palette"),
    ({"color_bands": 0}, "colour_scale.color_bands"), ({"units": "x" * 41}, "colour_scale.units"),
])
def test_bad_layer_colour_scales_are_refused_when_the_configuration_loads(tmp_path, dem, text, reason):
    _folder, path, *_ = dem
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"services": [{"name": "s", "layers": [
        {"name": "d", "source": str(path), "colour_scale": text}]}]}))
    with pytest.raises(ConfigError, match=reason):
        load_settings(config)


def layer_entry(tmp_path, path, **entry):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"services": [{"name": "s", "layers": [
        {"name": "d", "source": str(path), **entry}]}]}))
    return config


def test_the_older_colour_scale_range_is_the_layers_value_range_with_a_notice(tmp_path, dem, caplog):
    _folder, path, *_ = dem
    old = load_settings(layer_entry(tmp_path, path, colour_scale={"range": [1700, 1900], "palette": "plasma"}))
    assert "colour_scale.range is deprecated: write it as the layer's value_range" in caplog.text
    new = load_settings(layer_entry(tmp_path, path, value_range=[1700, 1900], colour_scale={"palette": "plasma"}))
    assert old.services[0].layers[0] == new.services[0].layers[0]
    assert new.services[0].layers[0].value_range == (1700, 1900)


def test_a_range_given_twice_is_refused_naming_the_key_to_keep(tmp_path, dem):
    _folder, path, *_ = dem
    config = layer_entry(tmp_path, path, value_range=[1, 5], colour_scale={"range": [1, 5]})
    with pytest.raises(ConfigError, match="give the range once, as value_range"):
        load_settings(config)


def test_a_log_scale_needs_a_positive_value_range(tmp_path, dem):
    _folder, path, *_ = dem
    with pytest.raises(ConfigError, match="positive value_range"):
        load_settings(layer_entry(tmp_path, path, value_range=[0, 5], colour_scale={"log": True}))


def legend(client, **query):
    r = client.get("/wms", query_string={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic",
                                         "FORMAT": "image/png", **query})
    assert r.status_code == 200 and r.mimetype == "image/png", r.data[:300]
    return np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))


def test_colour_bar_only_shows_the_range_used(client):
    bar = legend(client, LAYERS="dem", STYLES="default-scalar/viridis", COLORBARONLY="true", WIDTH=10, HEIGHT=100,
                 COLORSCALERANGE="0,100")
    assert bar.shape == (100, 10, 4)
    rows = 100
    t = (rows - 0.5 - np.arange(rows)) / rows  # the highest value at the top, each row at its centre
    expected = ramp_colours(t, VIRIDIS)
    assert np.abs(bar[:, 5, :3].astype(int) - expected.astype(int)).max() <= 1
    log_bar = legend(client, LAYER="dem", PALETTE="viridis", COLORBARONLY="true", WIDTH=10, HEIGHT=100,
                     COLORSCALERANGE="1,1000", LOGSCALE="true", NUMCOLORBANDS=3)
    values = 10 ** (3 * t)
    expected = ramp_colours(np.log10(values) / 3, VIRIDIS, bands=3)
    assert np.abs(log_bar[:, 5, :3].astype(int) - expected.astype(int)).max() <= 1
    assert len(np.unique(log_bar[:, 5, :3], axis=0)) == 3


def test_a_plain_rasters_band_units_name_its_legend_and_feature_info(dem, tmp_path):
    """GDAL's band unit type is the layer's units when its colour scale names none: the legend
    writes it beside the title, and GetFeatureInfo answers it with the values (JSON and CSV)."""
    _folder, path, values, _nodata, bounds = dem
    metres = tmp_path / "metres.tif"
    with rasterio.open(path) as src, rasterio.open(metres, "w", **src.profile) as dst:
        dst.write(src.read())
        dst.units = ("metre",)
    config = tmp_path / "c.yaml"
    layers = [{"name": "m", "source": str(metres), "title": "DEM"}, {"name": "bare", "source": str(path), "title": "DEM"},
              {"name": "own", "source": str(metres), "title": "DEM", "colour_scale": {"units": "m a.s.l."}}]
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")},
                                      "services": [{"name": "s", "layers": layers}]}))
    client = create_app(load_settings(config)).test_client()
    bar = {name: legend(client, LAYER=name, STYLE="default-scalar.viridis", COLORSCALERANGE="1700,1900")
           for name in ("m", "bare")}
    assert (bar["m"][:16] != bar["bare"][:16]).any() and (bar["m"][16:] == bar["bare"][16:]).all()

    def feature_info(layer, info_format):
        r = client.get("/wms", query_string={
            "SERVICE": "WMS", "REQUEST": "GetFeatureInfo", "VERSION": "1.1.1", "LAYERS": layer, "QUERY_LAYERS": layer,
            "STYLES": "", "SRS": "EPSG:2056", "BBOX": ",".join(map(str, bounds)), "WIDTH": values.shape[1],
            "HEIGHT": values.shape[0], "X": 10, "Y": 20, "INFO_FORMAT": info_format})
        assert r.status_code == 200, r.data[:300]
        return r.data

    def json_units(layer):
        (found,) = json.loads(feature_info(layer, "application/json"))["layers"][0]["features"]
        assert found["values"]["band_1"] == pytest.approx(float(values[20, 10]))
        return found["units"]

    assert (json_units("m"), json_units("bare"), json_units("own")) == ("metre", "", "m a.s.l.")
    rows = list(csv.reader(io.StringIO(feature_info("m", "text/csv").decode())))
    assert rows[0][-1] == "units" and rows[1][-1] == "metre"


def test_legend_shows_the_out_of_range_colours(client):
    full = legend(client, LAYER="dem", STYLE="default-scalar/viridis", COLORSCALERANGE="0,100",
                  ABOVEMAXCOLOR="0x00FF00", BELOWMINCOLOR="0xFF00FF")
    assert full.shape == (260, 160, 4)
    colours = {tuple(p) for p in full.reshape(-1, 4)}
    assert (0, 255, 0, 255) in colours and (255, 0, 255, 255) in colours
    plain = legend(client, LAYER="dem", STYLE="default-scalar/viridis", COLORSCALERANGE="0,100")
    colours = {tuple(p) for p in plain.reshape(-1, 4)}
    assert (0, 255, 0, 255) not in colours and (255, 0, 255, 255) not in colours


def test_legend_names_the_units(client):
    """The configured units are written beside the layer's title (the text's pixels differ)."""
    with_units = legend(client, LAYER="scaled", STYLE="default")
    without = legend(client, LAYER="dem", STYLE="default-scalar/plasma", COLORSCALERANGE="1700,1900",
                     ABOVEMAXCOLOR="0xFF0000", BELOWMINCOLOR="transparent")
    assert with_units.shape == without.shape
    assert (with_units[:16] != without[:16]).any()  # the title line
    assert (with_units[16:] == without[16:]).all()  # the same bar, ticks and boxes


def test_capabilities_offer_the_colour_scales_with_legends(client, ogc_schemas):
    r = client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"})
    assert_valid(schema(ogc_schemas, (WMS_NS, "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd"),
                        ("http://www.opengis.net/sld", "http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd")),
                 r.data)
    doc = etree.fromstring(r.data)
    layer = next(e for e in doc.iter(f"{{{WMS_NS}}}Layer") if e.findtext(f"{{{WMS_NS}}}Name") == "dem")
    styles = {s.findtext(f"{{{WMS_NS}}}Name"): s for s in layer.findall(f"{{{WMS_NS}}}Style")}
    assert {"default", "ramped", "default-scalar.viridis", "default-scalar.plasma"} <= set(styles)
    url = styles["default-scalar.plasma"].find(f"{{{WMS_NS}}}LegendURL")
    assert (url.get("width"), url.get("height")) == ("160", "260")
    href = url.find(f"{{{WMS_NS}}}OnlineResource").get("{http://www.w3.org/1999/xlink}href")
    got = client.get(href[href.index("/wms"):])
    assert got.status_code == 200 and Image.open(io.BytesIO(got.data)).size == (160, 260)
    # a layer drawn through a configured colour scale: its default style's legend is the bar too
    scaled = next(e for e in doc.iter(f"{{{WMS_NS}}}Layer") if e.findtext(f"{{{WMS_NS}}}Name") == "scaled")
    default = next(s for s in scaled.findall(f"{{{WMS_NS}}}Style") if s.findtext(f"{{{WMS_NS}}}Name") == "default")
    url = default.find(f"{{{WMS_NS}}}LegendURL")
    href = url.find(f"{{{WMS_NS}}}OnlineResource").get("{http://www.w3.org/1999/xlink}href")
    size = Image.open(io.BytesIO(client.get(href[href.index("/wms"):]).data)).size
    assert (url.get("width"), url.get("height")) == tuple(map(str, size)) == ("160", "260")


def _tile_over_dem(dem):
    """A WebMercatorQuad tile at zoom 16 wholly over the DEM (its centre's tile) and its bounds."""
    import morecantile
    from pyproj import Transformer

    *_, bounds = dem
    lon, lat = Transformer.from_crs("EPSG:2056", "EPSG:4326", always_xy=True).transform(
        (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(lon, lat, 16)
    return tile, tms.xy_bounds(tile)


def _wms_tile(client, box, style, vendor):
    r = client.get("/wms", query_string={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "dem", "STYLES": style,
        "CRS": "EPSG:3857", "BBOX": ",".join(map(repr, box)), "WIDTH": 256, "HEIGHT": 256, "FORMAT": "image/png",
        "TRANSPARENT": "TRUE", **vendor})
    assert r.status_code == 200, r.data[:300]
    return np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))


def _same_picture(r, expected):
    assert r.status_code == 200, r.data[:300]
    got = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))
    assert got.shape == expected.shape and (got != expected).any(axis=2).mean() < 0.001


@pytest.mark.parametrize("scale_range", ["1700,1800", "1750,1760"])
def test_tiles_take_the_colour_scale_and_are_drawn_for_it(client, dem, scale_range):
    """WMTS KVP tiles in a colour-scale style, and XYZ tiles of the default style, with a
    request's colour scale equal the WMS map of the tile's bounds with it. Such tiles bypass
    the cache: the plain tile cached first is not what they get, and each range gets its own."""
    tile, box = _tile_over_dem(dem)
    xyz = f"/tiles/dem/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    _same_picture(client.get(xyz), _wms_tile(client, box, "", {}))  # the plain tile, now in the cache
    vendor = {"COLORSCALERANGE": scale_range, "NUMCOLORBANDS": "7", "BELOWMINCOLOR": "0x0000FF"}
    kvp = client.get("/wmts", query_string={
        "SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": "dem", "STYLE": "default-scalar/plasma",
        "TILEMATRIXSET": "WebMercatorQuad", "TILEMATRIX": tile.z, "TILEROW": tile.y, "TILECOL": tile.x,
        "FORMAT": "image/png", **vendor})
    _same_picture(kvp, _wms_tile(client, box, "default-scalar/plasma", vendor))
    _same_picture(client.get(xyz, query_string=vendor), _wms_tile(client, box, "", vendor))


def test_tiles_of_a_configured_colour_scale_are_cached(client, dem):
    tile, _box = _tile_over_dem(dem)
    url = f"/tiles/scaled/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    first, again = client.get(url), client.get(url)
    assert first.status_code == again.status_code == 200 and first.data == again.data
    assert again.headers.get("ETag") and again.headers.get("ETag") == first.headers.get("ETag")
    got = np.asarray(Image.open(io.BytesIO(first.data)).convert("RGBA"))
    colours = {tuple(p) for p in got.reshape(-1, 4)}
    assert (255, 0, 0, 255) in colours  # above 1900 m: the configured red
    plain = client.get(f"/tiles/dem/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png")
    assert plain.data != first.data


def test_owslib_picks_a_colour_scale_and_gets_its_colours(dem, tmp_path):
    from owslib.wms import WebMapService

    from tests.conftest import running_server

    _folder, path, values, nodata, bounds = dem
    config = tmp_path / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")},
                                      "services": [{"name": "sci", "layers": [{"name": "dem", "source": str(path)}]}]}))
    with running_server(config, workers=1) as url:
        wms = WebMapService(url + "/wms", version="1.1.1")
        assert "default-scalar.viridis" in wms["dem"].styles
        assert "GetLegendGraphic" in wms["dem"].styles["default-scalar.viridis"]["legend"]
        img = wms.getmap(layers=["dem"], styles=["default-scalar.viridis"], srs="EPSG:2056", bbox=bounds,
                         size=(400, 400), format="image/png", transparent=True,
                         COLORSCALERANGE="1650,1900", ABOVEMAXCOLOR="0xFF0000", NUMCOLORBANDS="20")
        got = np.asarray(Image.open(io.BytesIO(img.read())).convert("RGBA"))
    valid = values != nodata
    inside = valid & (values <= 1900)
    assert_colours(got, ramp_colours((values - 1650) / 250, VIRIDIS, 20), inside)
    assert (got[valid & (values > 1900)] == [255, 0, 0, 255]).all()


WMTS_NS = "http://www.opengis.net/wmts/1.0"
OWS_NS = "http://www.opengis.net/ows/1.1"


def test_wmts_capabilities_list_the_colour_scales_with_their_legends(client, ogc_schemas):
    r = client.get("/wmts", query_string={"SERVICE": "WMTS", "REQUEST": "GetCapabilities", "VERSION": "1.0.0"})
    assert_valid(schema(ogc_schemas, (WMTS_NS, "http://schemas.opengis.net/wmts/1.0/wmts.xsd")), r.data)
    doc = etree.fromstring(r.data)
    layer = next(e for e in doc.iter(f"{{{WMTS_NS}}}Layer") if e.findtext(f"{{{OWS_NS}}}Identifier") == "dem")
    styles = {s.findtext(f"{{{OWS_NS}}}Identifier"): s for s in layer.findall(f"{{{WMTS_NS}}}Style")}
    assert {"default", "ramped", "default-scalar.viridis", "default-scalar.plasma"} <= set(styles)
    assert styles["default"].get("isDefault") == "true"
    url = styles["default-scalar.plasma"].find(f"{{{WMTS_NS}}}LegendURL")
    href = url.get("{http://www.w3.org/1999/xlink}href")
    got = client.get(href[href.index("/wms"):])
    assert got.status_code == 200 and Image.open(io.BytesIO(got.data)).size == (160, 260)
    assert (url.get("width"), url.get("height"), url.get("format")) == ("160", "260", "image/png")


def test_rest_tiles_take_a_colour_scale_style_and_are_cached_per_style(client, dem):
    """The path-safe style name works in a RESTful tile path; its tiles are cached under their
    style (a second request hits), apart from the default style's and from other ramps'."""
    tile, box = _tile_over_dem(dem)
    def rest(style):
        return client.get(f"/wmts/1.0.0/dem/{style}/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}.png")
    plain, first, again, other = rest("default"), rest("default-scalar.inferno"), rest("default-scalar.inferno"), \
        rest("default-scalar.rdbu")
    assert first.status_code == again.status_code == 200
    assert again.headers["X-Cache"] == "HIT" and again.data == first.data
    _same_picture(first, _wms_tile(client, box, "default-scalar/inferno", {}))
    assert len({plain.data, first.data, other.data}) == 3
    kvp = client.get("/wmts", query_string={
        "SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": "dem", "STYLE": "default-scalar.inferno",
        "TILEMATRIXSET": "WebMercatorQuad", "TILEMATRIX": tile.z, "TILEROW": tile.y, "TILECOL": tile.x,
        "FORMAT": "image/png"})
    assert kvp.status_code == 200 and kvp.headers["X-Cache"] == "HIT" and kvp.data == first.data


def test_owslib_wmts_lists_the_colour_scales_and_fetches_a_tile_in_one(dem, tmp_path):
    from owslib.wmts import WebMapTileService

    from tests.conftest import running_server

    tile, _box = _tile_over_dem(dem)
    _folder, path, *_ = dem
    config = tmp_path / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")},
                                      "services": [{"name": "sci", "layers": [{"name": "dem", "source": str(path)}]}]}))
    with running_server(config, workers=1) as url:
        wmts = WebMapTileService(url + "/wmts")
        assert "default-scalar.viridis" in wmts["dem"].styles
        assert wmts["dem"].styles["default"].get("isDefault")
        tiles = {style: np.asarray(Image.open(io.BytesIO(wmts.gettile(
            layer="dem", style=style, tilematrixset="WebMercatorQuad", tilematrix=str(tile.z), row=tile.y,
            column=tile.x, format="image/png").read())).convert("RGBA")) for style in ("default", "default-scalar.viridis")}
    plain, scaled = tiles["default"], tiles["default-scalar.viridis"]
    assert (plain[..., 0] == plain[..., 2]).all()  # the default style is grey
    assert (scaled[..., 3] == 255).all() and (scaled[..., 0] != scaled[..., 2]).mean() > 0.9  # viridis is not


@pytest.mark.parametrize("colormap, reason", [
    ({"scale": "log", "minimum": 0, "maximum": 10}, "positive minimum"),
    ({"minimum": 5, "maximum": 5}, "greater than minimum"), ({"color_bands": 256}, "less than or equal to 255"),
    ({"stops": [[0, "#000000"], [1, "#ffffff"]], "scale": "log"}, "named ramp, not to stops"),
    ({"above": "0xff0000"}, "'transparent' or a colour"), ({"ramp": "jet"}, "colormap.ramp"),
])
def test_bad_colormap_ramps_are_refused_when_the_configuration_loads(tmp_path, colormap, reason):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"processing": [{"name": "p", "chain": [{"function": "colormap", **colormap}]}],
                                      "services": []}))
    with pytest.raises(ConfigError, match=reason):
        load_settings(config)


def test_a_colour_scale_is_no_processing_for_coverages(client):
    """WCS returns values: a colour scale's style name is not a processing template there."""
    r = client.get("/wcs", query_string={"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                         "COVERAGEID": "dem", "PROCESSING": "default-scalar"})
    assert r.status_code in (400, 404) and b"default-scalar" in r.data and b"PROCESSING" in r.data
    assert client.get("/wcs", query_string={"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                            "COVERAGEID": "dem"}).status_code == 200


@pytest.mark.parametrize("client_style, ramp", [("default-scalar/psu-viridis", "viridis"),
                                                 ("default-scalar/seq-Blues", "blues"), ("boxfill/rainbow", "rainbow"),
                                                 ("default-scalar/rdbu", "rdbu")])
def test_palette_names_clients_hard_code_are_understood(client, dem, client_style, ramp):
    """ncWMS 2 and THREDDS palette names, and ncWMS's spelling of ours, draw the ramp they stand for
    (not in the capabilities)."""
    ours = getmap(client, dem, style=f"default-scalar.{ramp}", COLORSCALERANGE="1650,1900")
    theirs = getmap(client, dem, style=client_style, COLORSCALERANGE="1650,1900")
    np.testing.assert_array_equal(ours, theirs)
    bar = legend(client, LAYERS="dem", STYLES=client_style, COLORBARONLY="true", WIDTH=4, HEIGHT=50)
    np.testing.assert_array_equal(bar, legend(client, LAYERS="dem", PALETTE=ramp, COLORBARONLY="true", WIDTH=4,
                                              HEIGHT=50))


def test_three_band_layers_offer_no_colour_scale(shared_data, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")}, "services": [{"name": "s", "layers": [
        {"name": "rgb", "source": str(shared_data / "landsat7-rgb" / "RGB.byte.tif")}]}]}))
    client = create_app(load_settings(config)).test_client()
    caps = client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"}).data
    assert b"default-scalar" not in caps
    query = {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "rgb", "SRS": "EPSG:32618",
             "BBOX": "101985,2611485,339315,2826915", "WIDTH": 64, "HEIGHT": 64, "FORMAT": "image/png"}
    refused = client.get("/wms", query_string={**query, "STYLES": "default-scalar/viridis"})
    assert refused.status_code == 400 and b'code="StyleNotDefined"' in refused.data
    plain = client.get("/wms", query_string={**query, "STYLES": ""})
    scaled = client.get("/wms", query_string={**query, "STYLES": "", "COLORSCALERANGE": "0,10"})
    assert plain.status_code == scaled.status_code == 200 and plain.data == scaled.data  # nothing to scale
