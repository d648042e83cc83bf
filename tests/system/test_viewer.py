"""The map viewer in headless Chromium against a live server: it loads nothing from elsewhere,
draws the layer where it lies, its time slider, style switch and opacity change the picture,
a click shows the source's values, footprints carry their links, and every list follows access."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
import requests
import yaml
from rasterio.transform import from_bounds

from ogcserver.settings import settings_from_paths
from tests.conftest import running_server, serving
from tests.support import rasters
from tests.support.browser import Browser
from tests.support.clients import needs_chromium
from tests.support.viewer import (
    drawn,
    expected_rect,
    inside_outside,
    map_pixels,
    map_rect,
    open_viewer,
    project,
    redraw_after,
    true_lonlat_bounds,
)

pytestmark = needs_chromium

BOUNDS = (10.0, 45.0, 11.0, 46.0)  # every generated layer's extent, lon/lat
OLD, NEW = (200, 30, 30), (30, 30, 200)  # the dated collection's colours: 2020 red, 2021 blue
ADMIN_KEY = "viewer-admin-key"
POLAR = (-180.0, 60.0, 180.0, 90.0)  # a layer past Web Mercator's latitudes


def POLAR_PATH(folder: Path) -> Path:  # noqa: N802 - a fixed name in the fixture's folder
    return folder / "polar.tif"


def flat(colour: tuple[int, int, int], size: int = 200) -> np.ndarray:
    return np.stack([np.full((size, size), c, dtype=np.uint8) for c in colour])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer")
    t = from_bounds(*BOUNDS, 200, 200)
    rasters.write(folder / "dated" / "old.tif", flat(OLD), t, crs="EPSG:4326",
                  tags={"ACQUISITIONDATETIME": "2020-06-01T00:00:00Z", "licence": "open"})
    rasters.write(folder / "dated" / "new.tif", flat(NEW), t, crs="EPSG:4326",
                  tags={"ACQUISITIONDATETIME": "2021-06-01T00:00:00Z", "licence": "open"})
    grey = np.tile(np.linspace(0, 255, 200, dtype=np.float32), (200, 1))[np.newaxis]
    rasters.write(folder / "grey.tif", grey, t, crs="EPSG:4326")
    rows, cols = np.mgrid[0:6, 0:36]  # cells of 10 by 5 degrees from 90 N down to 60 N, each value its place
    rasters.write(POLAR_PATH(folder), (rows * 100 + cols).astype(np.float32)[np.newaxis],
                  from_bounds(*POLAR, 36, 6), crs="EPSG:4326")
    config = {
        "title": "Viewer test",
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "processing": [{"name": "green", "title": "All green", "chain": [
            {"function": "colormap", "minimum": 0, "maximum": 255, "stops": [[0, "#00ff00"], [255, "#00ff00"]]}]}],
        "services": [{"name": "s", "allow_download": True, "layers": [
            {"name": "dated", "title": "Dated collection", "abstract": "Two dates, one place",
             "source": str(folder / "dated")},
            {"name": "grey", "title": "Grey ramp", "source": str(folder / "grey.tif"), "styles": ["green"]},
            {"name": "hidden", "title": "Hidden layer", "source": str(folder / "grey.tif")},
            {"name": "polar", "title": "Polar cap", "source": str(POLAR_PATH(folder))},
        ]}],
        "access": {
            "api_keys": [{"name": "admin", "key_sha256": hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
                          "groups": ["admins"]}],
            "grants": [
                {"to": "anonymous", "service": "s", "layers": ["dated", "grey", "polar"],
                 "actions": ["discover", "view", "query"]},
                {"to": "group:admins", "service": "s", "actions": ["discover", "view", "query", "download"]},
            ],
        },
    }
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    with running_server(path) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(tmp_path_factory.mktemp("chromium"), size=(900, 600)) as b:
        yield b


@pytest.fixture()
def anonymous(browser):
    browser.call("Network.setExtraHTTPHeaders", session=True, headers={})
    return browser


@pytest.fixture()
def admin(browser):
    browser.call("Network.setExtraHTTPHeaders", session=True, headers={"X-API-Key": ADMIN_KEY})
    yield browser
    browser.call("Network.setExtraHTTPHeaders", session=True, headers={})


def centre_colour(view: np.ndarray) -> np.ndarray:
    """The median colour inside the layer's extent."""
    inside, _ = inside_outside(view.shape, expected_rect(BOUNDS, view.shape[1], view.shape[0]))
    return np.median(view[inside], axis=0)


def test_the_page_loads_nothing_from_elsewhere_and_breaks_no_policy(server, anonymous):
    open_viewer(anonymous, f"{server}/preview/dated")
    anonymous.settle(0.5)
    requested = anonymous.requests
    # blob: URLs are the page's own copies of images it fetched (same origin, no network)
    assert requested and all(url.startswith((server + "/", f"blob:{server}/")) for url in requested), requested
    assert f"{server}/vendor/leaflet/leaflet.js" in requested
    assert any("REQUEST=GETMAP" in url.upper() for url in requested)
    assert not anonymous.console, anonymous.console  # no script error, no refused request, no CSP violation
    assert anonymous.evaluate("document.getElementById('abstract').textContent") == "Two dates, one place"
    page = requests.get(f"{server}/preview/dated", timeout=10)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page.text  # every script is a file
    library = requests.get(f"{server}/vendor/leaflet/leaflet.js", timeout=10)
    assert library.status_code == 200 and "Leaflet" in library.text[:400]
    assert requests.get(f"{server}/vendor/leaflet/../__init__.py", timeout=10).status_code == 404


def test_the_layer_is_drawn_where_it_lies_with_the_newest_item_on_top(server, anonymous):
    open_viewer(anonymous, f"{server}/preview/dated")
    view = map_pixels(anonymous)
    inside, outside = inside_outside(view.shape, expected_rect(BOUNDS, view.shape[1], view.shape[0]))
    assert np.abs(view[inside].astype(int) - NEW).max(axis=1).mean() < 0.01 * 255 + 1
    assert drawn(view)[outside].mean() < 0.005


def test_the_time_slider_shows_each_date(server, anonymous):
    open_viewer(anonymous, f"{server}/preview/dated")
    values = anonymous.evaluate("JSON.stringify([...document.querySelectorAll('#dim-time')].map(e => e.max))")
    assert json.loads(values) == ["2"]  # the whole range (the default) and two dates
    colours = {}
    for position in (1, 2, 0):
        redraw_after(anonymous, f"(() => {{ const s = document.getElementById('dim-time'); s.value = {position}; "
                                "s.dispatchEvent(new Event('change')); })()")
        colours[position] = centre_colour(map_pixels(anonymous))
    np.testing.assert_allclose(colours[1], OLD, atol=3)
    np.testing.assert_allclose(colours[2], NEW, atol=3)
    np.testing.assert_allclose(colours[0], NEW, atol=3)  # every date, the newest on top
    assert any("TIME=2020-06-01T00%3A00%3A00Z" in url.upper().replace("TIME=", "TIME=") for url in anonymous.requests
               if "GETMAP" in url.upper())


def test_a_click_shows_the_values_of_the_chosen_date(server, anonymous):
    open_viewer(anonymous, f"{server}/preview/dated")
    left, top, width, height = map_rect(anonymous)
    anonymous.move(left + width / 2, top + height / 2)
    anonymous.click(left + width / 2, top + height / 2)
    anonymous.wait_for("document.getElementById('info').dataset.answered")
    text = anonymous.evaluate("document.getElementById('info').textContent")
    newest = text.split("old.tif")[0]  # the items at the point, the top one first
    assert "new.tif (2021-06-01" in newest and "red = 30" in newest and "blue = 200" in newest, text
    coordinates = anonymous.evaluate("document.querySelector('.coordinates').textContent")
    lat, lon = map(float, coordinates.split(","))
    assert abs(lat - 45.5) < 0.05 and abs(lon - 10.5) < 0.05, coordinates


def test_a_polar_layer_is_seen_whole_in_plate_carree_and_answers_clicks(server, anonymous):
    open_viewer(anonymous, f"{server}/preview/polar")
    view = map_pixels(anonymous)
    rect = expected_rect(POLAR, view.shape[1], view.shape[0], "EPSG:4326")
    inside, outside = inside_outside(view.shape, rect)
    painted = drawn(view)
    assert painted[inside].mean() > 0.95 and painted[outside].mean() < 0.005
    x, y = click_point(view.shape, POLAR, 55, 77.5, "EPSG:4326")
    left, top, _, _ = map_rect(anonymous)
    anonymous.click(left + x, top + y)
    anonymous.wait_for("document.getElementById('info').dataset.answered")
    text = anonymous.evaluate("document.getElementById('info').textContent")
    assert "band_1 = 223" in text, text  # row 2 (80..75 N), column 23 (50..60 E)


def test_the_style_switch_changes_the_picture_and_the_legend(server, anonymous):
    open_viewer(anonymous, f"{server}/preview/grey")
    options = anonymous.evaluate("JSON.stringify([...document.querySelectorAll('#style option')].map(o => o.value))")
    assert json.loads(options) == ["default", "green"]
    r, g, b = centre_colour(map_pixels(anonymous))
    assert abs(r - g) < 5 and abs(g - b) < 5  # a grey stretch
    redraw_after(anonymous, "(() => { const s = document.getElementById('style'); s.value = 'green'; "
                            "s.dispatchEvent(new Event('change')); })()")
    np.testing.assert_allclose(centre_colour(map_pixels(anonymous)), (0, 255, 0), atol=3)
    assert any("REQUEST=GetLegendGraphic" in url and "STYLE=green" in url for url in anonymous.requests)
    anonymous.wait_for("document.getElementById('legend').complete && document.getElementById('legend').naturalWidth > 0")


def test_opacity_lets_the_background_through(server, anonymous):
    open_viewer(anonymous, f"{server}/preview/dated")
    anonymous.evaluate("(() => { const s = document.getElementById('opacity'); s.value = 50; "
                       "s.dispatchEvent(new Event('input')); })()")
    half = np.array(NEW) * 0.5 + 238 * 0.5
    np.testing.assert_allclose(centre_colour(map_pixels(anonymous)), half, atol=4)


def footprint_popup(browser: Browser) -> str:
    """Show the footprints, click the one in the middle of the map and return its popup's HTML."""
    browser.evaluate("(() => { const c = document.getElementById('footprints'); c.checked = true; "
                     "c.dispatchEvent(new Event('change')); })()")
    browser.wait_for("document.getElementById('map').dataset.footprints")
    left, top, width, height = map_rect(browser)
    browser.click(left + width / 2, top + height / 2)
    return browser.wait_for("document.querySelector('.leaflet-popup-content')?.innerHTML")


def test_footprints_have_a_popup_with_the_item_alone_and_no_download_without_the_grant(server, anonymous):
    open_viewer(anonymous, f"{server}/preview/dated")
    assert anonymous.evaluate("document.getElementById('map').dataset.footprints") is None
    html = footprint_popup(anonymous)
    assert anonymous.evaluate("document.getElementById('map').dataset.footprints") == "2"
    assert "<b>new</b>" in html and "licence" in html and "view this item alone" in html
    assert "download" not in html
    assert anonymous.evaluate("document.getElementById('footprints-note').textContent") == ""  # every item drawn
    alone = anonymous.evaluate("document.querySelector('.leaflet-popup-content a').href")
    picture = requests.get(alone, timeout=30)
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/png"


def test_footprints_offer_the_download_where_granted(server, admin):
    open_viewer(admin, f"{server}/preview/dated")
    html = footprint_popup(admin)
    assert "download the original" in html
    link = admin.evaluate("[...document.querySelectorAll('.leaflet-popup-content a')].pop().href")
    assert requests.get(link, headers={"X-API-Key": ADMIN_KEY}, timeout=30).status_code == 200


def listed_layers(browser: Browser) -> list[str]:
    return json.loads(browser.evaluate(
        "JSON.stringify([...document.querySelectorAll('#layer-list input')].map(i => i.value))"))


def test_the_server_viewer_lists_the_callers_layers_only(server, anonymous):
    open_viewer(anonymous, f"{server}/viewer")
    assert listed_layers(anonymous) == ["dated", "grey", "polar"]
    assert requests.get(f"{server}/preview/hidden", timeout=10).status_code == 404
    names = [layer["name"] for layer in requests.get(f"{server}/viewer/layers.json", timeout=10).json()["layers"]]
    assert names == ["dated", "grey", "polar"]
    redraw_after(anonymous, "document.querySelector('#layer-list input[value=grey]').click()")
    assert anonymous.evaluate("document.getElementById('heading').textContent") == "Grey ramp"
    r, g, b = centre_colour(map_pixels(anonymous))
    assert abs(r - g) < 5 and abs(g - b) < 5
    redraw_after(anonymous, "document.querySelector('#layer-list input[value=polar]').click()")  # another CRS
    view = map_pixels(anonymous)
    inside, outside = inside_outside(view.shape, expected_rect(POLAR, view.shape[1], view.shape[0], "EPSG:4326"))
    assert drawn(view)[inside].mean() > 0.95 and drawn(view)[outside].mean() < 0.005
    assert anonymous.evaluate("location.hash") == "#polar"


def test_the_server_viewer_lists_hidden_layers_to_those_granted(server, admin):
    open_viewer(admin, f"{server}/viewer#hidden")
    assert listed_layers(admin) == ["dated", "grey", "hidden", "polar"]
    assert admin.evaluate("document.getElementById('heading').textContent") == "Hidden layer"


def test_the_landing_page_links_every_viewer(server):
    page = requests.get(server + "/", timeout=10).text
    assert 'href="/viewer"' in page
    assert 'href="/preview/dated"' in page and 'href="/preview/grey"' in page and "/preview/hidden" not in page


def test_items_link_their_original_file_only_to_callers_granted_the_download(server):
    """The catalog's items (which the footprints' popups show) offer no link that would answer 403."""
    url = f"{server}/catalog/dated/items"
    anonymous = requests.get(url, timeout=10).json()["features"]
    granted = requests.get(url, headers={"X-API-Key": ADMIN_KEY}, timeout=10).json()["features"]
    assert len(anonymous) == len(granted) == 2
    assert all(not f["assets"] and "enclosure" not in {link["rel"] for link in f["links"]} for f in anonymous)
    for feature in granted:
        enclosure = next(link["href"] for link in feature["links"] if link["rel"] == "enclosure")
        assert requests.get(enclosure, timeout=10).status_code == 401  # granted to the key, not to anyone
        assert requests.get(enclosure, headers={"X-API-Key": ADMIN_KEY}, timeout=10).status_code == 200


# -- real data: at and across the antimeridian, and a collection of two dates ---------------------

ANTIMERIDIAN = ("worldcover-antimeridian", "landsat8-antimeridian-utm/cog_dateline.tif")
TWO_DATES = "worldcover-2020-2021"
CUBE = "netcdf-ncep-air/air_temperature_small.nc"  # 20 six-hourly steps


@pytest.fixture(scope="module")
def shared_server(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer-shared")
    paths = [shared_data / s for s in (*ANTIMERIDIAN, TWO_DATES, CUBE)]
    names = [layer.name for layer in settings_from_paths(paths).services[0].layers]
    with serving([*map(str, paths), "--data-dir", str(folder / "state")], folder) as (url, _log):
        yield url, dict(zip((*ANTIMERIDIAN, TWO_DATES, CUBE), names))


def source_values(path: Path, lon: float, lat: float) -> set[float]:
    """The first band's values of the source's pixel at a place and of its eight neighbours."""
    files = [path] if path.is_file() else sorted(path.glob("*.tif"))
    with rasterio.open(files[0]) as src:
        (x,), (y,) = rasterio.warp.transform("EPSG:4326", src.crs, [lon], [lat])
        row, col = src.index(x, y)
        return {float(v) for v in src.read(1, window=((row - 1, row + 2), (col - 1, col + 2))).ravel()}


def click_point(view_shape: tuple[int, ...], bounds: tuple[float, float, float, float],
                lon: float, lat: float, crs: str = "EPSG:3857") -> tuple[float, float]:
    """Where a place lies in the map (in its CRS, fitted as the viewer fits the extent)."""
    left, top, right, bottom = expected_rect(bounds, view_shape[1], view_shape[0], crs)
    (x0, y0), (x1, y1), (x, y) = (project(*p, crs) for p in ((bounds[0], bounds[1]), (bounds[2], bounds[3]),
                                                               (lon, lat)))
    return left + (x - x0) / (x1 - x0) * (right - left), bottom - (y - y0) / (y1 - y0) * (bottom - top)


def assert_palette_colours(shown: np.ndarray, path: Path) -> None:
    """Most pixels shown are colours of the source's palette (the browser blends the rest where
    it scales tiles between zoom levels), each main class's about as often as in the source."""
    with rasterio.open(path) as src:
        classes, counts = np.unique(src.read(1), return_counts=True)
        palette = np.array([src.colormap(1)[int(c)][:3] for c in classes])
    share = counts / counts.sum()
    distance = np.abs(shown.astype(int)[:, None, :] - palette[None, :, :]).max(axis=2)
    matched = distance.min(axis=1) <= 8
    assert matched.mean() > 0.4, matched.mean()
    found = np.bincount(distance[matched].argmin(axis=1), minlength=len(classes)) / matched.sum()
    main = share > 0.05
    np.testing.assert_allclose(found[main], share[main], atol=0.06)


@pytest.mark.parametrize("source", ANTIMERIDIAN)
def test_a_layer_at_or_across_the_antimeridian_is_drawn_where_it_lies_and_answers_clicks(
        shared_server, shared_data, browser, source):
    url, names = shared_server
    path = shared_data / source
    open_viewer(browser, f"{url}/preview/{names[source]}")
    browser.settle(0.3)
    assert all(u.startswith((url + "/", f"blob:{url}/")) for u in browser.requests), browser.requests
    assert not browser.console, browser.console
    view = map_pixels(browser)
    bounds = true_lonlat_bounds(path)
    inside, outside = inside_outside(view.shape, expected_rect(bounds, view.shape[1], view.shape[0]))
    painted = drawn(view)
    assert painted[inside].mean() > 0.5 and painted[outside].mean() < 0.005
    if path.is_dir():  # a classified layer: its palette's colours, in the source's proportions
        assert_palette_colours(view[inside & painted], next(path.glob("*.tif")))
    # a click east of the data's middle (past 180 for the scene across it) gives the source's value there
    lon, lat = bounds[0] + 0.7 * (bounds[2] - bounds[0]), (bounds[1] + bounds[3]) / 2
    x, y = click_point(view.shape, bounds, lon, lat)
    left, top, _, _ = map_rect(browser)
    browser.move(left + x, top + y)
    browser.click(left + x, top + y)
    browser.wait_for("document.getElementById('info').dataset.answered")
    text = browser.evaluate("document.getElementById('info').textContent")
    shown_lat, shown_lon = map(float, browser.evaluate("document.querySelector('.coordinates').textContent").split(","))
    assert abs(shown_lat - lat) < 0.02 and abs((shown_lon - lon + 180) % 360 - 180) < 0.02, (shown_lat, shown_lon, lon, lat)
    value = float(re.search(r"= (-?[\d.]+)", text).group(1))
    assert value in source_values(path, lon, lat), text


def test_the_time_slider_changes_a_real_collection(shared_server, browser):
    url, names = shared_server
    open_viewer(browser, f"{url}/preview/{names[TWO_DATES]}")
    assert browser.evaluate("document.getElementById('dim-time').max") == "2"
    pictures = {}
    for position in (1, 2, 0):
        redraw_after(browser, f"(() => {{ const s = document.getElementById('dim-time'); s.value = {position}; "
                              "s.dispatchEvent(new Event('change')); })()")
        pictures[position] = map_pixels(browser).astype(int)
    def differing(a: int, b: int) -> float:
        return float((np.abs(pictures[a] - pictures[b]) > 8).any(axis=2).mean())
    assert differing(1, 2) > 0.001  # 2020 and 2021 differ
    # every date (the default), the newest on top: 2021's picture but where it has no data
    assert differing(0, 2) < differing(0, 1) / 2


def test_a_netcdf_cube_gets_a_slider_over_its_steps(shared_server, browser):
    """The cube's own time axis (20 six-hourly steps, the latest the default), as WMS lists it."""
    url, names = shared_server
    open_viewer(browser, f"{url}/preview/{names[CUBE]}")
    assert browser.evaluate("document.getElementById('dim-time').max") == "19"
    assert browser.evaluate("document.getElementById('dim-time').value") == "19"
    pictures = {}
    for position in (0, 19):
        redraw_after(browser, f"(() => {{ const s = document.getElementById('dim-time'); s.value = {position}; "
                              "s.dispatchEvent(new Event('change')); })()")
        pictures[position] = map_pixels(browser).astype(int)
    assert float((np.abs(pictures[0] - pictures[19]) > 8).any(axis=2).mean()) > 0.05
    assert any("TIME=2014-02-24T00%3A00%3A00Z" in u or "TIME=2014-02-24T00:00:00Z" in u
               for u in browser.requests), browser.requests


def test_tiles_the_map_let_go_before_their_turn_are_never_asked_for(server, anonymous):
    """The page runs one request at a time here (two workers of one thread): tiles of a style
    chosen and left at once are dropped from the queue, not fetched after the fact."""
    open_viewer(anonymous, f"{server}/preview/grey")
    assert json.loads(requests.get(f"{server}/viewer/layers.json", timeout=10).text)["parallel"] == 1
    before = len(anonymous.requests)
    redraw_after(anonymous, "(() => { const s = document.getElementById('style'); "
                            "for (const style of ['green', 'default', 'green']) { s.value = style; "
                            "s.dispatchEvent(new Event('change')); } })()")
    maps = [url for url in anonymous.requests[before:] if "request=GetMap" in url]
    assert maps and all("styles=green" in url for url in maps), maps
    np.testing.assert_allclose(centre_colour(map_pixels(anonymous)), (0, 255, 0), atol=3)
