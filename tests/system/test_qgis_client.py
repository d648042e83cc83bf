"""QGIS 3 (Debian python3-qgis, headless) as a client of a live server: the ``wms`` provider for WMS
and for WMTS in every tile matrix set, the ``wcs`` provider for WCS 1.0.0, on layers in EPSG:4326,
UTM and EPSG:3035. Each layer must load with its CRS and extent, and a map QGIS renders of it must
show the source where gdalwarp puts it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from lxml import etree
from PIL import Image
from rasterio.warp import transform_bounds

from tests.conftest import serving
from tests.support.clients import Grid, agreement, gdal, needs_gdal, needs_qgis, run_qgis, warp_reference
from tests.support.rasters import CLIENT_LAYERS

pytestmark = [needs_qgis, needs_gdal]
LAYERS = list(CLIENT_LAYERS)
WIDTH = 240  # about the sources' own resolution
# the tile matrix sets and their CRS as QGIS names it (None: the layer's own)
TILE_MATRIX_SETS = {"WebMercatorQuad": "EPSG:3857", "WorldCRS84Quad": "OGC:CRS84", "native": None}


def layer_crs(path: Path) -> str:
    with rasterio.open(path) as src:
        return f"EPSG:{src.crs.to_epsg()}"


def bounds_in(path: Path, crs: str) -> tuple[float, float, float, float]:
    with rasterio.open(path) as src:
        return transform_bounds(src.crs, "EPSG:4326" if crs == "OGC:CRS84" else crs, *src.bounds)


def wms_uri(url: str, layer: str, crs: str, tms: str | None = None) -> str:
    """A data source as QGIS's WMS/WMTS connection dialog writes it."""
    base = f"contextualWMSLegend=0&crs={crs}&dpiMode=7&featureCount=10&format=image/png&layers={layer}"
    if tms is None:
        return f"{base}&styles=&url={url}/wms"
    return f"{base}&styles=default&tileMatrixSet={tms}&url={url}/wmts?SERVICE%3DWMTS%26REQUEST%3DGetCapabilities"


def cases(url: str, layers: dict[str, Path]) -> dict[str, dict]:
    """Every protocol and tile matrix set for every layer: a QGIS job each, by test id."""
    jobs = {}
    for name, path in layers.items():
        native = layer_crs(path)
        sources = {"wms": ("wms", wms_uri(url, name, native), native),
                   "wcs": ("wcs", f"url={url}/wcs&identifier={name}&version=1.0.0&crs={native}&format=GeoTIFF", native)}
        for tms, crs in TILE_MATRIX_SETS.items():
            tms_id = f"{name}_native" if tms == "native" else tms
            sources[f"wmts-{tms}"] = ("wms", wms_uri(url, name, crs or native, tms_id), crs or native)
        for kind, (provider, uri, crs) in sources.items():
            west, south, east, north = bounds_in(path, crs)
            height = round(WIDTH * (north - south) / (east - west))
            jobs[f"{name}-{kind}"] = {"name": name, "provider": provider, "uri": uri, "crs": crs,
                                      "extent": [west, south, east, north], "size": [WIDTH, height]}
    return jobs


@pytest.fixture(scope="module")
def rendered(client_server, client_layers, tmp_path_factory):
    """All jobs in one QGIS process: (jobs, results) by test id."""
    folder = tmp_path_factory.mktemp("qgis")
    jobs = cases(client_server, client_layers)
    for key, job in jobs.items():
        job.update(id=key, out=str(folder / f"{key}.png"))
    return jobs, run_qgis(list(jobs.values()), folder), folder


def check(rendered, client_layers, key: str, exact: float, shift: float, spread: float) -> None:
    jobs, results, folder = rendered
    job, result = jobs[key], results[key]
    assert result["valid"], result
    want_crs, want_extent = job["crs"], job["extent"]
    assert result["crs"] == want_crs and not result["errors"], result
    pixel = (want_extent[2] - want_extent[0]) / WIDTH
    assert result["extent"] == pytest.approx(want_extent, abs=pixel), result
    picture = np.moveaxis(np.asarray(Image.open(job["out"])), 2, 0)
    grid = Grid.of_extent("EPSG:4326" if want_crs == "OGC:CRS84" else want_crs, tuple(result["rendered"]),
                          *job["size"])
    found = agreement(picture, warp_reference(client_layers[job["name"]], grid, folder))
    assert found.placed(shift=shift, spread=spread) and found.exact >= exact, found


@pytest.mark.parametrize("layer", LAYERS)
def test_qgis_wms_layer_renders_the_source(rendered, client_layers, layer):
    """QGIS asks for the map of the view itself: the source's own pixels come back."""
    check(rendered, client_layers, f"{layer}-wms", exact=0.99, shift=0.01, spread=0)


@pytest.mark.parametrize("layer", LAYERS)
def test_qgis_wcs_100_layer_renders_the_source(rendered, client_layers, layer):
    check(rendered, client_layers, f"{layer}-wcs", exact=0.99, shift=0.01, spread=0)


@pytest.mark.parametrize("tms", list(TILE_MATRIX_SETS))
@pytest.mark.parametrize("layer", LAYERS)
def test_qgis_wmts_layer_renders_in_every_tile_matrix_set(rendered, client_layers, layer, tms):
    """QGIS picks the zoom nearest the view and scales its tiles smoothly (which moves pixels by up
    to half a pixel): the right place, within a pixel, but not the same pixels as gdalwarp's."""
    check(rendered, client_layers, f"{layer}-wmts-{tms}", exact=0, shift=0.75, spread=1)


# -- a shared layer whose CRS has no EPSG code -----------------------------------------------------

UNNAMED = "mosaic-landsat7-tiles"  # UTM 18N on a datum only WKT names ("unknown, based on WGS 84")
WMTS_NS = {"wmts": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}


@pytest.fixture(scope="module")
def unnamed_crs_server(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("unnamed-crs")
    with serving([str(shared_data / UNNAMED), "--data-dir", str(folder / "state")], folder) as (url, _):
        yield url


def offered_sets(url: str, layer: str) -> dict[str, str]:
    """The tile matrix sets the WMTS capabilities link to the layer, each with its SupportedCRS."""
    doc = etree.fromstring(requests.get(f"{url}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities", timeout=30).content)
    crs = {s.findtext("ows:Identifier", namespaces=WMTS_NS): s.findtext("ows:SupportedCRS", namespaces=WMTS_NS)
           for s in doc.iterfind("wmts:Contents/wmts:TileMatrixSet", WMTS_NS)}
    found = next(e for e in doc.iterfind("wmts:Contents/wmts:Layer", WMTS_NS)
                 if e.findtext("ows:Identifier", namespaces=WMTS_NS) == layer)
    return {name: crs[name] for name in found.xpath("wmts:TileMatrixSetLink/wmts:TileMatrixSet/text()", namespaces=WMTS_NS)}


def qgis_crs(supported: str) -> str:
    """A SupportedCRS as QGIS names the map's CRS: an authority code, else the text as given."""
    if supported.endswith("CRS84"):
        return "OGC:CRS84"
    if supported.startswith("urn:ogc:def:crs:EPSG::"):
        return "EPSG:" + supported.rsplit(":", 1)[1]
    return supported


def test_qgis_draws_every_tile_matrix_set_offered_for_a_layer_whose_crs_has_no_epsg_code(
        unnamed_crs_server, shared_data, tmp_path):
    """WMTS names a set's CRS by a URI, which a CRS without an EPSG code does not have: such a
    layer is offered in the well-known sets only (a native set in WKT left the document invalid
    and QGIS drew nothing of it), and QGIS draws the layer in each where gdalwarp puts it."""
    sets = offered_sets(unnamed_crs_server, UNNAMED)
    assert set(sets) == {"WebMercatorQuad", "WorldCRS84Quad"}, sets
    tiles = sorted((shared_data / UNNAMED).glob("*.tif"))
    mosaic = tmp_path / "tiles.vrt"
    gdal("gdalbuildvrt", "-q", str(mosaic), *map(str, tiles))
    with rasterio.open(mosaic) as src:
        native, bounds = src.crs, src.bounds
    jobs = []
    for tms, supported in sets.items():
        crs = qgis_crs(supported)
        west, south, east, north = transform_bounds(native, "EPSG:4326" if crs == "OGC:CRS84" else crs, *bounds)
        jobs.append({"id": tms, "name": UNNAMED, "provider": "wms", "uri": wms_uri(unnamed_crs_server, UNNAMED, crs, tms),
                     "crs": crs, "extent": [west, south, east, north], "out": str(tmp_path / f"{tms}.png"),
                     "size": [WIDTH, round(WIDTH * (north - south) / (east - west))]})
    results = run_qgis(jobs, tmp_path)
    for job in jobs:
        result = results[job["id"]]
        assert result["valid"] and not result["errors"], result
        picture = np.moveaxis(np.asarray(Image.open(job["out"]).convert("RGBA")), 2, 0)
        grid = Grid.of_extent("EPSG:4326" if job["crs"] == "OGC:CRS84" else job["crs"], tuple(result["rendered"]),
                              *job["size"])
        want, have = warp_reference(mosaic, grid, tmp_path)[3] > 0, picture[3] > 0
        assert want.mean() > 0.5 and (want != have).mean() < 0.01, (job["id"], want.mean(), (want != have).mean())
