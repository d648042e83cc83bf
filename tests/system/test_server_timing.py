"""Server-Timing on rendered answers: its phases, their sum, and who gets it."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from ogcserver.app import create_app
from ogcserver.settings import ConfigError, load_settings
from tests.conftest import write_config

KEY = "timing-key"
# dem in EPSG:4326: a warp (the source is UTM), a processing template (functions), then PNG
GETMAP = ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=dem&STYLES=shade&CRS=EPSG:4326"
          "&BBOX=46.93,8.99,46.95,9.03&WIDTH=256&HEIGHT=256&FORMAT=image/png")


def app_with(data_dir, folder, timing: str | None, **extra):
    config = write_config(data_dir, folder / "c.yaml")
    raw = yaml.safe_load(config.read_text())
    if timing is not None:
        raw["server"]["timing"] = timing
    raw.update(extra)
    config.write_text(yaml.safe_dump(raw))
    return create_app(load_settings(config)).test_client()


def phases(response) -> dict[str, float]:
    entries = [part.strip().split(";dur=") for part in response.headers["Server-Timing"].split(",")]
    return {name: float(ms) for name, ms in entries}


def test_absent_for_anonymous_callers_by_default(client):
    r = client.get(GETMAP)
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert "Server-Timing" not in r.headers


def test_a_rendered_map_names_its_phases_and_they_sum_within_the_total(data_dir, tmp_path):
    client = app_with(data_dir, tmp_path, "all")
    r = client.get(GETMAP)
    assert r.status_code == 200 and r.mimetype == "image/png"
    timing = phases(r)
    assert list(timing) == ["select", "read", "warp", "functions", "encode", "total"]
    assert all(ms >= 0 for ms in timing.values())
    assert timing["functions"] > 0 and timing["encode"] > 0
    rounding = 0.05 * (len(timing) - 1)
    assert sum(ms for name, ms in timing.items() if name != "total") <= timing["total"] + rounding


def test_documents_and_errors_get_none(data_dir, tmp_path):
    client = app_with(data_dir, tmp_path, "all")
    assert "Server-Timing" not in client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities").headers
    assert "Server-Timing" not in client.get("/wms?SERVICE=WMS&REQUEST=GetMap&LAYERS=nothing").headers


def test_authenticated_callers_only(data_dir, tmp_path):
    access = {"api_keys": [{"name": "ops", "key_sha256": hashlib.sha256(KEY.encode()).hexdigest()}],
              "grants": [{"to": "anonymous", "service": "demo", "actions": ["discover", "view"]},
                         {"to": "authenticated", "service": "demo", "actions": ["discover", "view"]}]}
    client = app_with(data_dir, tmp_path, None, access=access)
    assert "Server-Timing" not in client.get(GETMAP).headers
    assert "encode" in phases(client.get(GETMAP, headers={"X-API-Key": KEY}))
    (tmp_path / "off").mkdir()
    off = app_with(data_dir, tmp_path / "off", "off", access=access)
    assert "Server-Timing" not in off.get(GETMAP, headers={"X-API-Key": KEY}).headers


def test_an_unknown_timing_setting_is_a_configuration_error(data_dir, tmp_path):
    with pytest.raises(ConfigError, match="timing"):
        app_with(data_dir, tmp_path, "everyone")
