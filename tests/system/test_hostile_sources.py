"""Hostile files published through a folder (zero configuration, in process and as a live server)
and through the catalog: the server starts and serves the good file, no response holds another
file's bytes, nothing connects to a listening local port, and each refused file is logged once
with its reason and listed by ``catalog list`` and ``catalog stats``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml

from ogcserver.app import core_of, create_app
from ogcserver.cli import main
from ogcserver.settings import load_settings, settings_from_paths
from tests.conftest import serving
from tests.support.hostile_files import SECRET, canary, write_hostile_folder
from tests.support.reference import decode

HOSTILE = ("raw_vrt", "curl_vrt", "terapixel", "declared", "bomb", "bands", "zero_pixel", "nan_pixel", "truncated",
           "bad_offsets", "bad_counts", "bad_jpeg")
BBOX = "10,49.936,10.064,50"  # the good file: 64 x 64 pixels of 0.001 degree


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    with canary() as (port, seen):
        root = tmp_path_factory.mktemp("hostile")
        files = write_hostile_folder(root / "files", port)
        yield root, files, seen, port


def requests_for(layer: str) -> list[dict]:
    """A map, a coverage in each WCS version and the capabilities: everything that reads pixels."""
    return [
        {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": layer, "STYLES": "", "SRS": "EPSG:4326",
         "BBOX": BBOX, "WIDTH": 64, "HEIGHT": 64, "FORMAT": "image/png"},
        {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": layer, "CRS": "EPSG:4326",
         "BBOX": BBOX, "WIDTH": 64, "HEIGHT": 64, "FORMAT": "GeoTIFF"},
        {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": layer, "FORMAT": "image/tiff"},
        {"SERVICE": "WMS", "REQUEST": "GetCapabilities"},
        {"SERVICE": "WCS", "REQUEST": "GetCapabilities"},
    ]


def check_responses(get, layer: str, seen: list[str]) -> np.ndarray:
    """Every response is an answer (never a 500) without the secret; returns the map's pixels."""
    image = None
    for query in requests_for(layer):
        status, body = get(query)
        assert status in (200, 400, 404), (query, status, body[:300])
        assert SECRET not in body and SECRET[:16] not in body
        if query.get("REQUEST") == "GetMap":
            assert status == 200, body[:300]
            image = decode(body)
    assert seen == []
    return image


def refused_records(records, files) -> dict[str, list[str]]:
    """The reasons logged for each hostile file, by case name."""
    by_path = {str(p.resolve()): name for name, p in files.items()}
    found: dict[str, list[str]] = {}
    for record in records:
        if record.getMessage() == "source refused":
            found.setdefault(by_path.get(getattr(record, "path", ""), "?"), []).append(record.reason)
    return found


def test_a_folder_of_hostile_files_published_without_configuration(hostile, tmp_path, caplog, capsys):
    root, files, seen, _ = hostile
    settings = settings_from_paths([root / "files"], {"data_dir": str(tmp_path / "state")})
    app = create_app(settings)
    client = app.test_client()
    layer = settings.services[0].layers[0].name

    def get(query):
        r = client.get("/ows" if "SERVICE" in query else "/wms", query_string=query)
        return r.status_code, r.data

    image = check_responses(get, layer, seen)
    assert image[..., :3].max() > 0  # the good file is drawn
    engine = core_of(app).engine
    engine.catalog.refresh(force=True)  # an unchanged refused file is not examined (or logged) again
    create_app(settings).test_client()  # nor by another process on the same catalog
    logged = refused_records(caplog.records, files)
    assert sorted(logged) == sorted(HOSTILE)
    assert all(len(reasons) == 1 and reasons[0] for reasons in logged.values()), logged
    assert "VRT, not the GeoTIFF" in logged["raw_vrt"][0] and "65535 bands" in logged["bands"][0]
    assert caplog.text.count("layer left out") == 0

    capsys.readouterr()
    config = tmp_path / "c.yaml"  # the catalog command on the same index
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state")},
                                      "services": [{"name": "data", "layers": [
                                          {"name": layer, "source": str(root / "files")}]}]}))
    assert main(["catalog", "stats", "-c", str(config)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["items"] == 1 and stats["refused"] == len(HOSTILE)
    assert {r["key"] for r in stats["refused_files"]} == set(HOSTILE)
    assert main(["catalog", "list", layer, "-c", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("good\t") and len(lines) == 1 + len(HOSTILE)
    assert all(line.startswith("# refused\t") and len(line.split("\t")) == 4 for line in lines[1:])


def test_a_single_refused_file_says_why_once(tmp_path, caplog):
    """A layer of one refused file: the server starts without it, and the log says why, once."""
    text = tmp_path / "notes.tif"
    text.write_bytes(SECRET)
    from tests.support.hostile_files import good_tiff

    good = good_tiff(tmp_path / "good.tif")
    settings = settings_from_paths([text, good], {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0})
    client = create_app(settings).test_client()
    for _ in range(3):  # every request refreshes the index (refresh interval 0)
        caps = client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}).data
        assert b"<Name>good</Name>" in caps and b"<Name>notes</Name>" not in caps
    reasons = [r.reason for r in caplog.records if r.getMessage() == "source refused"]
    assert reasons == ["its content is not a format ogcserver recognises, not the GeoTIFF its extension '.tif' says"]
    assert caplog.text.count("layer left out") == 1


def test_hostile_files_added_to_the_catalog(hostile, tmp_path, capsys):
    root, files, seen, port = hostile
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(tmp_path / "state")},
        "sources": {"allow_vrt": True, "roots": [str(root)]},  # even allowed, these VRTs are refused
        "services": [{"name": "s", "layers": [{"name": "scenes", "collection": "scenes"}]}],
    }))
    stac = tmp_path / "item.json"  # described by metadata alone, on the network: refused unopened
    stac.write_text(json.dumps({
        "type": "Feature", "stac_version": "1.0.0", "id": "remote", "geometry": None, "bbox": [10, 49, 11, 50],
        "properties": {"datetime": "2024-01-01T00:00:00Z", "proj:epsg": 4326, "proj:shape": [64, 64],
                       "proj:transform": [0.001, 0, 10, 0, -0.001, 50], "raster:bands": [{"data_type": "uint8"}]},
        "links": [], "assets": {"data": {"href": f"/vsicurl/http://127.0.0.1:{port}/a.tif",
                                         "type": "image/tiff; application=geotiff", "roles": ["data"]}},
    }))
    assert main(["catalog", "add", "scenes", str(root / "files"), "--stac", str(stac), "-c", str(config)]) == 0
    out = capsys.readouterr()
    assert "added 1, updated 0, skipped 13" in out.out
    assert main(["catalog", "list", "scenes", "-c", str(config)]) == 0
    refused = {line.split("\t")[1]: line.split("\t")[3] for line in capsys.readouterr().out.splitlines()
               if line.startswith("# refused")}
    assert set(refused) == {*HOSTILE, "remote"}
    assert "VRTRawRasterBand" not in refused["raw_vrt"]  # the content check comes first: a VRT is no .tif
    assert "sources are local files" in refused["remote"]
    assert main(["catalog", "add", "scenes", str(files["good"]), "-c", str(config)]) == 0
    assert main(["catalog", "stats", "scenes", "-c", str(config)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["refused"] == len(HOSTILE) + 1
    assert main(["catalog", "remove", "scenes", "remote", "-c", str(config)]) == 0
    assert main(["catalog", "stats", "scenes", "-c", str(config)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["refused"] == len(HOSTILE)

    client = create_app(load_settings(config)).test_client()

    def get(query):
        r = client.get("/ows" if "SERVICE" in query else "/wms", query_string=query)
        return r.status_code, r.data

    assert check_responses(get, "scenes", seen)[..., :3].max() > 0


def test_a_live_server_on_a_hostile_folder(hostile, tmp_path):
    """``ogcserver serve FOLDER`` with two workers: it starts, serves the good file, connects
    nowhere, and each refused file is logged once across all processes."""
    root, _, seen, _ = hostile
    args = [str(root / "files"), "--data-dir", str(tmp_path / "state")]
    with serving(args, tmp_path, workers=2) as (url, log):

        def get(query):
            r = requests.get(url + "/ows", params=query, timeout=30)
            return r.status_code, r.content

        for _ in range(2):  # both workers, most likely
            assert check_responses(get, "files", seen)[..., :3].max() > 0
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    refused = [e for e in entries if e["message"] == "source refused"]
    names = sorted(Path(e["path"]).stem for e in refused)
    assert names == sorted(HOSTILE), names
    assert all(e["reason"] for e in refused)


def test_real_files_not_supported_yet_say_why_once(shared_data, tmp_path, caplog):
    """A VRT (georeferenced by RPCs): left out by the VRT rules, logged once with the reason
    (files placed by GCPs, geostationary views and netCDF files are published)."""
    paths = {
        "cog_gcps": shared_data / "sentinel1-gcps" / "cog_gcps.tif",
        "goes": shared_data / "goes-geostationary" / "goes.tif",
        "RGB.byte.rpc": shared_data / "landsat7-rgb" / "RGB.byte.rpc.vrt",
        "dem": shared_data / "dem-swissalti3d" / "dem.tif",
    }
    settings = settings_from_paths(list(paths.values()), {"data_dir": str(tmp_path / "state"),
                                                          "index_refresh_seconds": 0})
    client = create_app(settings).test_client()
    for _ in range(2):
        assert client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}).status_code == 200
    reasons = {Path(r.path).name.split(".")[0]: r.reason for r in caplog.records if r.getMessage() == "source refused"}
    assert len([r for r in caplog.records if r.getMessage() == "source refused"]) == 1
    assert reasons == {
        "RGB": "VRT sources are not enabled (settings: sources.allow_vrt, or ogcserver serve --allow-vrt)",
    }
