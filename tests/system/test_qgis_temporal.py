"""QGIS 3 (Debian python3-qgis, headless) as a temporal client of a live server: a WMS layer
with a time dimension (a folder of daily netCDF tiles, and the real NCEP air temperature file
when present) loads as a WMS-T layer, as QGIS's WMS dialog adds it (``type=wmst`` with the
capabilities' time extent), its temporal properties and its provider see the time axis, and the
map QGIS renders at two steps differ, each the server's own map of that step."""

from __future__ import annotations

import io

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
