"""Zero configuration, as a new user tries it: ``ogcserver serve PATH`` on every real raster file and
folder of the shared data, and on generated files whose names have dots, spaces, non-ASCII
letters, leading digits and XML/URL characters, each alone and then all at once.

The server always starts; the capabilities of WMS, WMTS and WCS list every publishable layer; a
map of each layer's extent shows it; the viewer page shows it in headless Chromium where the
source lies; a file that cannot be published is logged once, with its reason, and left out.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyproj
import pytest
import requests
from PIL import Image

from ogcserver.app import core_of, create_app
from ogcserver.settings import settings_from_paths
from ogcserver.web.logs import JsonFormatter
from tests.conftest import SHARED, serving
from tests.support import rasters
from tests.support.browser import Browser
from tests.support.clients import Grid, agreement, needs_chromium
from tests.support.reference import exact_nearest
from tests.support.viewer import drawn, expected_rect, inside_outside, map_pixels, open_viewer, true_lonlat_bounds

# Files that cannot be published yet, and what their log line must say.
VRT_RULES = r"VRT sources are not enabled"
REFUSED = {
    "landsat7-rgb/RGB.byte.rpc.vrt": VRT_RULES,
}
# WCS offers a coverage in its native CRS, which needs an EPSG code: these have none (a WKT with an
# unknown datum; a CF Albers grid mapping; a geostationary view), so WMS and WMTS list them and WCS does not.
WITHOUT_EPSG_CODE = ("mosaic-landsat7-tiles", "netcdf-above-albers", "goes-geostationary")
MULTIDIMENSIONAL = (".nc", ".nc4")  # each publishes its one variable (netCDF files are one layer per variable)
NOT_RASTERS = {".txt", ".xml", ".md"}
# folders of a scene delivered as a file per band: one layer whose bands are the files, in band order
BAND_FILES = {"shared/landsat8-sr-16bit": ["B2", "B3", "B4", "B5"]}


def shared_sources() -> list[str]:
    """Every folder and raster file of the shared data, relative to it (none without it)."""
    root = SHARED / "data"
    if not (root / "README.md").exists():
        return []
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.parent != root and p.suffix.lower() not in NOT_RASTERS)
    return [p.relative_to(root).as_posix() for p in folders + files]


GENERATED = [*rasters.AWKWARD_NAMES, rasters.AWKWARD_FOLDER]
SOURCES = [f"generated/{n}" for n in GENERATED] + [f"shared/{n}" for n in shared_sources()]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("awkward")
    rasters.awkward(folder)
    return folder


@pytest.fixture(scope="module")
def resolve(generated):
    def path_of(source: str) -> Path:
        kind, _, rel = source.partition("/")
        return (generated if kind == "generated" else SHARED / "data") / rel
    return path_of


def refusal(source: str) -> str | None:
    """The reason pattern of a source that cannot be published, None for a publishable one."""
    kind, _, rel = source.partition("/")
    return REFUSED.get(rel) if kind == "shared" else None


def protocols_listing(source: str) -> set[str]:
    """The capabilities that must list the source's layer."""
    if refusal(source):
        return set()
    if source.removeprefix("shared/").split("/")[0] in WITHOUT_EPSG_CODE:
        return {"WMS", "WMTS"}
    return set(CAPABILITIES)


# -- what clients see ---------------------------------------------------------------------------

CAPABILITIES = {  # protocol: (query, the element holding each layer's name)
    "WMS": ("SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0", "Layer/Name"),
    "WMTS": ("SERVICE=WMTS&REQUEST=GetCapabilities", "Contents/Layer/Identifier"),
    "WCS 1.0.0": ("SERVICE=WCS&REQUEST=GetCapabilities&VERSION=1.0.0", "CoverageOfferingBrief/name"),
    "WCS 1.1.1": ("SERVICE=WCS&REQUEST=GetCapabilities&VERSION=1.1.1", "CoverageSummary/Identifier"),
    "WCS 2.0.1": ("SERVICE=WCS&REQUEST=GetCapabilities&VERSION=2.0.1", "CoverageSummary/CoverageId"),
}


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def names_in(document: bytes, path: str) -> set[str]:
    """Texts of the elements at ``path`` (local names, at any depth for the first step)."""
    parent, child = path.rsplit("/", 1)
    steps = parent.split("/")
    found = set()
    for element in ET.fromstring(document).iter():
        if local(element.tag) != steps[-1]:
            continue
        for item in element:
            if local(item.tag) == child and item.text:
                found.add(item.text.strip())
    return found


def listed(get, name_filter: set[str] | None = None) -> dict[str, set[str]]:
    """The layer names each protocol's capabilities list; ``get(path_and_query) -> (status, body)``."""
    out = {}
    for protocol, (query, path) in CAPABILITIES.items():
        endpoint = "/wms" if protocol == "WMS" else "/wmts" if protocol == "WMTS" else "/wcs"
        status, body = get(f"{endpoint}?{query}")
        assert status == 200, (protocol, body[:300])
        out[protocol] = names_in(body, path)
    return out


def first_bounding_box(get, name: str) -> tuple[str, tuple[float, float, float, float]]:
    """The layer's first BoundingBox in the WMS 1.3.0 capabilities (its native CRS where that has
    an EPSG code): the CRS and the box, its attributes in the CRS's axis order as BBOX takes them."""
    _, body = get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")
    for layer in ET.fromstring(body).iter():
        if local(layer.tag) != "Layer":
            continue
        children = {local(c.tag): c for c in layer}
        if "Name" in children and children["Name"].text == name:
            box = next(c for c in layer if local(c.tag) == "BoundingBox")
            return box.get("CRS"), tuple(float(box.get(k)) for k in ("minx", "miny", "maxx", "maxy"))
    raise AssertionError(f"{name} is not in the WMS capabilities")


def map_of_extent(get, name: str) -> tuple[np.ndarray, Grid]:
    """A transparent PNG GetMap of the layer's first BoundingBox, 256 px on its longer side: (RGBA,
    the grid east-first)."""
    crs, box = first_bounding_box(get, name)
    north_first = pyproj.CRS.from_user_input(crs).axis_info[0].direction in ("north", "south")
    west, south, east, north = (box[1], box[0], box[3], box[2]) if north_first else box
    aspect = (north - south) / (east - west)
    width, height = (256, max(8, round(256 * aspect))) if aspect <= 1 else (max(8, round(256 / aspect)), 256)
    status, body = get(f"/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS={name}&STYLES=&CRS={crs}"
                       f"&BBOX={','.join(map(repr, box))}&WIDTH={width}&HEIGHT={height}"
                       "&FORMAT=image/png&TRANSPARENT=TRUE")
    assert status == 200, body[:300]
    picture = np.asarray(Image.open(io.BytesIO(body)).convert("RGBA"))
    return np.moveaxis(picture, 2, 0), Grid.of_extent(crs, (west, south, east, north), width, height)


def check_map(get, name: str, path: Path, located: bool) -> None:
    """Not blank; for a ``rasters.located`` file, also where an exact warp of it puts it."""
    picture, grid = map_of_extent(get, name)
    assert (picture[3] > 0).mean() > 0.05, f"{name}: the map of its extent is blank"
    if located:
        values, valid = exact_nearest(path, grid.bounds, grid.crs, (grid.width, grid.height))
        found = agreement(picture, np.concatenate([values, valid[None].astype(np.uint8) * 255]))
        assert found.placed(spread=1) and found.exact > 0.9, (name, found)


# -- alone: the app as ``ogcserver serve PATH`` builds it, in this process -----------------------

@dataclass
class Alone:
    name: str
    client: object
    records: list[str]  # warnings and errors logged, as JSON lines

    def get(self, url: str) -> tuple[int, bytes]:
        r = self.client.get(url)
        return r.status_code, r.data


@pytest.fixture()
def alone(resolve, tmp_path, caplog):
    def start(source: str) -> Alone:
        settings = settings_from_paths([resolve(source)], {"data_dir": str(tmp_path / "state")})
        name = settings.services[0].layers[0].name
        with caplog.at_level(logging.INFO):
            app = create_app(settings)
            client = app.test_client()
            engine = core_of(app).engine
            engine.catalog.refresh(force=True)  # an index check, as the server does every few seconds
            engine.catalog.refresh(force=True)
        formatter = JsonFormatter()
        records = [formatter.format(r) for r in caplog.records if r.levelno >= logging.WARNING]
        return Alone(name, client, records)
    return start


def assert_logged_once_with_reason(records: list[str], name: str, path: Path, reason: str) -> None:
    """Some line about the layer or its file gives the reason in its own words (its message or
    reason, not the file's name, which may contain the very word); no line about them comes twice."""
    lines = [r for r in records if f'"{name}"' in r or path.name in r]
    said = [f"{entry['message']} {entry.get('reason', '')}" for entry in map(json.loads, lines)]
    assert any(re.search(reason, text, re.IGNORECASE) for text in said), lines
    entries = [json.dumps({k: v for k, v in json.loads(line).items() if k != "time"}, sort_keys=True) for line in lines]
    assert len(entries) == len(set(entries)), lines


@pytest.mark.parametrize("source", SOURCES)
def test_serve_alone(alone, resolve, source):
    """Served alone, a publishable file or folder is one layer every protocol lists and whose map
    shows it, with nothing logged; a refused one is left out and logged once with its reason."""
    if source.startswith("shared/") and not (SHARED / "data").exists():
        pytest.skip("the shared real-world rasters are not present in this checkout")
    path = resolve(source)
    served = alone(source)
    names = listed(served.get)
    reason = refusal(source)
    assert {p for p in names if names[p]} == protocols_listing(source), names
    if reason is None:
        assert all(names[p] == {served.name} for p in protocols_listing(source)), names
        check_map(served.get, served.name, path, located=source.startswith("generated/") and path.is_file())
        assert not served.records, served.records
    else:
        assert_logged_once_with_reason(served.records, served.name, path, reason)


@pytest.mark.parametrize("source", sorted(BAND_FILES))
def test_serve_alone_a_scene_of_band_files_is_one_layer_of_its_bands(alone, source, shared_data):
    served = alone(source)
    status, body = served.get(f"/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=DescribeCoverage&COVERAGEID={served.name}")
    assert status == 200, body[:300]
    assert re.findall(r'<swe:field name="([^"]+)"', body.decode()) == BAND_FILES[source]
    assert not served.records, served.records


# -- all at once: one live server, as ``ogcserver serve PATH PATH ...`` ---------------------------

@dataclass
class Everything:
    url: str
    log: Path
    names: dict[str, str]  # source -> layer name
    started: float  # time.monotonic() when it answered

    def get(self, url: str) -> tuple[int, bytes]:
        r = requests.get(self.url + url, timeout=60)
        return r.status_code, r.content


@pytest.fixture(scope="module")
def everything(resolve, tmp_path_factory):
    folder = tmp_path_factory.mktemp("everything")
    paths = [resolve(s) for s in SOURCES]
    settings = settings_from_paths(paths)  # the names the command line gives, in the same order
    names = {s: layer.name for s, layer in zip(SOURCES, settings.services[0].layers)}
    with serving([*map(str, paths), "--data-dir", str(folder / "state")], folder) as (url, log):
        yield Everything(url, log, names, time.monotonic())


PUBLISHED = [s for s in SOURCES if not refusal(s)]


def test_all_at_once_every_protocol_lists_every_publishable_layer(everything):
    names = listed(everything.get)
    for protocol, found in names.items():
        assert found == {everything.names[s] for s in PUBLISHED if protocol in protocols_listing(s)}, protocol
    assert requests.get(everything.url + "/healthz", timeout=10).json()["layers"] == len(PUBLISHED)


@pytest.mark.parametrize("source", PUBLISHED)
def test_all_at_once_map_of_each_extent_shows_the_layer(everything, resolve, source):
    path = resolve(source)
    check_map(everything.get, everything.names[source], path, located=source.startswith("generated/") and path.is_file())


@pytest.mark.parametrize("source", [s for s in SOURCES if refusal(s)])
def test_all_at_once_each_refused_file_is_logged_once_with_its_reason(everything, resolve, source):
    """Also after the index checks that follow (every 10 s by default), in every worker."""
    time.sleep(max(0.0, everything.started + 11 - time.monotonic()))
    for _ in range(8):  # each worker checks the index when a request comes after the interval
        everything.get("/healthz")
    records = [line for line in everything.log.read_text().splitlines()
               if line.startswith("{") and json.loads(line)["level"] in ("warning", "error")]
    assert_logged_once_with_reason(records, everything.names[source], resolve(source), refusal(source))


def test_a_refused_vrt_is_published_with_serve_allow_vrt(resolve, tmp_path):
    """The refusal names the way out: ``serve --allow-vrt`` publishes the RPC VRT, whose source is
    a plain file beside it, and its map shows it."""
    source = "shared/landsat7-rgb/RGB.byte.rpc.vrt"
    if not (SHARED / "data").exists():
        pytest.skip("the shared real-world rasters are not present in this checkout")
    path = resolve(source)
    with serving([str(path), "--allow-vrt", "--data-dir", str(tmp_path / "state")], tmp_path, workers=1) as (url, log):
        def get(query: str) -> tuple[int, bytes]:
            r = requests.get(url + query, timeout=60)
            return r.status_code, r.content
        name = settings_from_paths([path]).services[0].layers[0].name
        assert name in listed(get)["WMS"], listed(get)
        check_map(get, name, path, located=False)
    assert "source refused" not in log.read_text()


# -- the viewer page in a browser ---------------------------------------------------------------

VIEWPORT = (640, 480)  # each viewer page's window


@pytest.fixture(scope="module")
def viewed(everything, tmp_path_factory) -> dict[str, tuple[np.ndarray, str]]:
    """Each layer's viewer page in headless Chromium: what its map shows, and the map's CRS."""
    crs = {layer["name"]: layer["crs"] for layer in requests.get(everything.url + "/viewer/layers.json",
                                                                 timeout=30).json()["layers"]}
    shown = {}
    with Browser(tmp_path_factory.mktemp("chromium"), size=VIEWPORT) as browser:
        for source in PUBLISHED:
            name = everything.names[source]
            open_viewer(browser, f"{everything.url}/preview/{quote(name)}")
            shown[source] = (map_pixels(browser), crs[name])
    return shown


@needs_chromium
@pytest.mark.parametrize("source", PUBLISHED)
def test_viewer_page_shows_the_layer_where_it_is(viewed, resolve, source):
    """In headless Chromium, the viewer's map starts at the layer's extent (across the
    antimeridian too; a layer past Web Mercator's latitudes in plate carree) and shows the layer
    inside the rectangle where the source lies, and nothing outside it."""
    view, crs = viewed[source]
    assert view.shape[0] > 200 and view.shape[1] > 300, view.shape
    rect = expected_rect(true_lonlat_bounds(resolve(source)), view.shape[1], view.shape[0], crs)
    inside, outside = inside_outside(view.shape, rect)
    painted = drawn(view)
    assert inside.any() and painted[inside].mean() > 0.02, f"the layer is not drawn where it lies ({painted.mean():.3f} drawn)"
    assert painted[outside].mean() < 0.005, "the layer is drawn outside where it lies"
