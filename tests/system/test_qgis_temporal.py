"""QGIS 3 (Debian python3-qgis, headless) as a temporal client of a live server: a WMS layer
with a time dimension (a folder of daily netCDF tiles, and the real NCEP air temperature file
when present) loads as a WMS-T layer, as QGIS's WMS dialog adds it (``type=wmst`` with the
capabilities' time extent), its temporal properties and its provider see the time axis, and the
map QGIS renders at two steps differ, each the server's own map of that step."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import requests
from lxml import etree
from PIL import Image

from tests.conftest import SHARED, serving
from tests.support import cubes
from tests.support.clients import needs_qgis, run_qgis

pytestmark = [needs_qgis]
WMS = "{http://www.opengis.net/wms}"
SIZE = (360, 180)
NCEP = SHARED / "data" / "netcdf-ncep-air" / "air_temperature_small.nc"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qgis-temporal")
    cubes.daily_tiles(folder / "daily")
    paths = [str(folder / "daily")] + ([str(NCEP)] if NCEP.exists() else [])
    with serving([*paths, "--data-dir", str(folder / "state")], folder) as (url, _log):
        yield url, folder


def time_dimensions(url: str) -> dict[str, tuple[str, str]]:
    """Each layer's time extent as capabilities give it, and its bounding box in EPSG:4326."""
    root = etree.fromstring(requests.get(f"{url}/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
                                         timeout=60).content)
    found = {}
    for layer in root.iter(f"{WMS}Layer"):
        for dim in layer.findall(f"{WMS}Dimension"):
            if dim.get("name") == "time":
                box = next(b for b in layer.findall(f"{WMS}BoundingBox") if b.get("CRS") == "EPSG:4326")
                south, west, north, east = (float(box.get(k)) for k in ("minx", "miny", "maxx", "maxy"))
                found[layer.findtext(f"{WMS}Name")] = (dim.text, (west, south, east, north))
    return found


def wmst_uri(url: str, layer: str, extent: str) -> str:
    """A WMS-T data source as QGIS's WMS dialog writes it for a layer with a time dimension."""
    return (f"allowTemporalUpdates=true&contextualWMSLegend=0&crs=EPSG:4326&dpiMode=7&featureCount=10"
            f"&format=image/png&layers={layer}&styles=&temporalSource=provider"
            f"&timeDimensionExtent={extent}&type=wmst&url={url}/wms")


def steps_of(extent: str) -> list[str]:
    """The first and last steps of an extent, a list or start/end/period."""
    parts = extent.split("/") if "/" in extent else extent.split(",")
    return [parts[0], parts[1] if "/" in extent else parts[-1]]


@pytest.fixture(scope="module")
def rendered(server):
    url, folder = server
    jobs = []
    for name, (extent, box) in time_dimensions(url).items():
        jobs.append({"id": name, "name": name, "provider": "wms", "uri": wmst_uri(url, name, extent),
                     "crs": "EPSG:4326", "extent": list(box), "size": list(SIZE), "times": steps_of(extent),
                     "out": str(folder / f"{name}.png"), "extent_text": extent})
    return {job["id"]: job for job in jobs}, run_qgis(jobs, folder)


def layers() -> list[str]:
    return ["daily_tas"] + (["air_temperature_small_air"] if NCEP.exists() else [])


@pytest.mark.parametrize("layer", layers())
def test_qgis_sees_a_temporal_layer(rendered, layer):
    jobs, results = rendered
    result = results[layer]
    assert result["valid"] and not result["errors"], result
    assert result["temporal_active"] and result["provider_temporal"], result
    first, last = jobs[layer]["times"]
    assert [t.removesuffix("Z") for t in result["available"]] == [first.removesuffix("Z"), last.removesuffix("Z")]


@pytest.mark.parametrize("layer", layers())
def test_qgis_renders_two_steps_differently_each_the_servers_map(server, rendered, layer):
    url, _ = server
    jobs, results = rendered
    job = jobs[layer]
    west, south, east, north = results[layer]["rendered"]
    pictures = []
    for index, time in enumerate(job["times"]):
        picture = np.asarray(Image.open(job["out"].removesuffix(".png") + f"-{index}.png").convert("RGBA"))
        r = requests.get(f"{url}/wms", timeout=60, params={
            "SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "LAYERS": layer, "STYLES": "",
            "CRS": "EPSG:4326", "BBOX": f"{south},{west},{north},{east}", "WIDTH": picture.shape[1],
            "HEIGHT": picture.shape[0], "FORMAT": "image/png", "TRANSPARENT": "TRUE", "TIME": time})
        assert r.status_code == 200, r.content[:300]
        served = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
        assert (picture[..., 3] > 0).mean() > 0.5, f"{layer} at {time}: QGIS drew almost nothing"
        assert (picture == served).all(axis=2).mean() > 0.98, f"{layer} at {time}: not the server's map of that step"
        pictures.append(picture)
    assert (pictures[0] != pictures[1]).any(axis=2).mean() > 0.1


def wmts_uri(url: str, layer: str, tms: str, time: str) -> str:
    """A WMTS data source as QGIS's dialog writes it for a layer with a Time dimension."""
    return (f"contextualWMSLegend=0&crs=EPSG:4326&dpiMode=7&featureCount=10&format=image/png&layers={layer}"
            f"&styles=default&tileDimensions=Time%3D{time}&tileMatrixSet={tms}"
            f"&url={url}/wmts?SERVICE%3DWMTS%26REQUEST%3DGetCapabilities")


def air_at(text: str) -> float:
    found = re.search(r"^\s*air = (\S+)$", text, re.M)
    assert found, text
    return float(found.group(1))


@pytest.mark.skipif(not NCEP.exists(), reason="the shared NCEP air temperature file is not present")
def test_qgis_identify_on_a_wmts_layer_answers_for_the_step_it_shows(server, tmp_path):
    """QGIS's Identify tool on a WMTS layer asks a RESTful FeatureInfo resource in a format it
    reads (text, not the JSON it would parse as GML), with the layer's time in the path: each
    step answers its own value, the one WMS GetFeatureInfo gives for that step."""
    url, _ = server
    layer, steps, point = "air_temperature_small_air", ["2014-02-24T00:00:00Z", "2014-02-28T18:00:00Z"], (-100.0, 40.0)
    jobs = [{"id": step, "name": layer, "provider": "wms", "uri": wmts_uri(url, layer, f"{layer}_native", step),
             "crs": "EPSG:4326", "extent": [-161.25, 13.75, -28.75, 76.25], "size": [265, 125],
             "identify": list(point), "out": str(tmp_path / f"{i}.png")} for i, step in enumerate(steps)]
    results = run_qgis(jobs, tmp_path)
    values = []
    for step in steps:
        result = results[step]
        assert result["valid"] and not result["errors"], result
        x, y = point
        wms = requests.get(f"{url}/wms", timeout=60, params={
            "SERVICE": "WMS", "REQUEST": "GetFeatureInfo", "VERSION": "1.3.0", "LAYERS": layer, "QUERY_LAYERS": layer,
            "STYLES": "", "CRS": "CRS:84", "BBOX": f"{x - 0.5},{y - 0.5},{x + 0.5},{y + 0.5}", "WIDTH": 1, "HEIGHT": 1,
            "I": 0, "J": 0, "INFO_FORMAT": "text/plain", "TIME": step})
        assert air_at(result["identified"]) == air_at(wms.text), (step, result)
        values.append(air_at(wms.text))
    assert values[0] != values[1]
