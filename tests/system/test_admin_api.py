"""The admin API through the app: hidden without the grant, secrets redacted, changes validated
and written whole or not at all, hostile bodies refused; catalog, cache and seed operations."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import yaml

from ogcserver.app import core_of, create_app
from ogcserver.model.tiles import TileKey
from ogcserver.settings import load_settings
from tests.support.admin import ADMIN, ADMIN_YAML, VIEWER_KEY, admin_config, write_admin_config
from tests.unit.test_config_documents import BILLION_LAUGHS

ROUTES = [("get", "/admin/config"), ("put", "/admin/config"), ("patch", "/admin/config"), ("delete", "/admin/config"),
          ("post", "/admin/layers"), ("delete", "/admin/layers/dem"), ("post", "/admin/catalog/dem/refresh"),
          ("post", "/admin/seed"), ("get", "/admin/jobs/0123456789abcdef0123456789abcdef"),
          ("post", "/admin/cache/truncate"), ("get", "/admin"), ("get", "/admin/"), ("options", "/admin/config"),
          ("get", "/admin/no-such-thing")]


@pytest.fixture()
def configured(data_dir, tmp_path):
    path = write_admin_config(data_dir, tmp_path)
    app = create_app(load_settings(path), config_file=path)
    return app, app.test_client(), path


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": VIEWER_KEY}, {"X-API-Key": "wrong"},
                                     {"Authorization": "Basic YWRtaW46YWRtaW4="}])
def test_without_the_grant_every_admin_url_answers_like_a_missing_route(configured, headers):
    _app, client, path = configured
    before = path.read_bytes()
    missing = client.get("/no-such-route", headers=headers)
    for method, url in ROUTES:
        answer = getattr(client, method)(url, headers=headers, data="title: taken over")
        assert (answer.status_code, answer.data, answer.content_type) == \
               (missing.status_code, missing.data, missing.content_type), (method, url)
        assert "Allow" not in answer.headers and "WWW-Authenticate" not in answer.headers
    assert missing.status_code == 404
    assert path.read_bytes() == before


def test_an_open_server_has_no_admin_api(data_dir, tmp_path):
    config = admin_config(data_dir, tmp_path)
    del config["access"]
    path = tmp_path / "open.yaml"
    path.write_text(yaml.safe_dump(config))
    client = create_app(load_settings(path), config_file=path).test_client()
    assert client.get("/admin/config", headers=ADMIN).status_code == 404


def test_the_configuration_is_shown_without_its_secrets(data_dir, tmp_path):
    secrets = {"hash": "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
               "dbpass": "pg-Secret-991", "jwks": "jwks-Secret-17"}
    config = admin_config(data_dir, tmp_path)
    config["access"]["users"] = [{"name": "ann", "password_hash": secrets["hash"]}]
    config["access"]["jwt"] = {"issuer": "i", "audience": "a",
                               "jwks_url": f"https://reader:{secrets['jwks']}@127.0.0.1:9/jwks.json"}
    path = tmp_path / "secret.yaml"
    path.write_text(yaml.safe_dump(config))
    settings = load_settings(path)
    app = create_app(settings, config_file=path)
    # a PostGIS DSN is shown redacted too (the app itself runs on SQLite here)
    app_settings = settings.model_copy(update={"catalog": settings.catalog.model_copy(
        update={"backend": "postgis", "dsn": f"host=db user=ogc password={secrets['dbpass']}"})})
    core = core_of(app)
    shown_app = create_app(app_settings, core, config_file=path).test_client()
    for client in (app.test_client(), shown_app):
        answer = client.get("/admin/config", headers=ADMIN)
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
        text = answer.get_data(as_text=True)
        digests = [k["key_sha256"] for k in config["access"]["api_keys"]]
        for value in [*secrets.values(), *digests]:
            assert value not in text
        shown = answer.json["config"]
        assert shown["services"][0]["layers"][1]["name"] == "dem"
        assert shown["access"]["users"][0] == {"name": "ann", "password_hash": "<redacted>", "groups": []}
    assert "host=db user=ogc password=<redacted>" in text


def _validate_config(path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "ogcserver", "validate-config", str(path)], capture_output=True,
                          text=True, timeout=120)
    return [line.strip() for line in done.stderr.strip().splitlines()]


def test_an_invalid_configuration_is_refused_whole_with_the_messages_of_validate_config(configured, data_dir):
    app, client, path = configured
    before = path.read_bytes()
    config = admin_config(data_dir, path.parent)
    config["limits"] = {"max_width": -3}
    config["services"][0]["layers"].append({"name": "ghost", "source": str(data_dir / "no-such.tif")})
    answer = client.put("/admin/config", headers=ADMIN_YAML, data=yaml.safe_dump(config))
    assert answer.status_code == 422
    candidate = path.parent / "candidate" / path.name
    candidate.parent.mkdir()
    candidate.write_text(yaml.safe_dump(config))
    expected = [line.replace(str(candidate), str(path)) for line in _validate_config(candidate)]
    assert [answer.json["error"], *answer.json["messages"]] == expected
    assert any("limits.max_width" in m for m in answer.json["messages"])
    assert path.read_bytes() == before and not path.with_name(path.name + ".bak").exists()
    assert b"<Name>dem</Name>" in client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities").data  # still serving
    missing = client.put("/admin/config", headers=ADMIN_YAML, data=yaml.safe_dump({**config, "limits": {}}))
    assert missing.status_code == 422 and any("no-such.tif' does not exist" in m for m in missing.json["messages"])


def test_a_valid_configuration_replaces_the_file_atomically_and_keeps_a_backup(configured):
    _app, client, path = configured
    before = path.read_text()
    document = yaml.safe_load(before)
    document["title"] = "Renamed by PUT"
    answer = client.put("/admin/config", headers={**ADMIN, "Content-Type": "application/json"},
                        data=json.dumps(document))
    assert answer.status_code == 200, answer.json
    assert answer.json["layers"] == 2 and answer.json["reload"].startswith("not signalled")  # no server here
    assert path.with_name(path.name + ".bak").read_text() == before
    assert load_settings(path).title == "Renamed by PUT"
    assert not [p for p in path.parent.iterdir() if ".tmp-" in p.name]  # no temporary left


def test_a_merge_patch_changes_only_what_it_names(configured):
    _app, client, path = configured
    answer = client.patch("/admin/config", headers=ADMIN_YAML,
                          data="title: Patched\nlimits: {max_width: 1024}\nserver: {index_refresh_seconds: null}\n")
    assert answer.status_code == 200, answer.json
    assert answer.json["restart_needed_for"] == []
    moved = client.patch("/admin/config", headers=ADMIN_YAML, data="server: {port: 18080, workers: 3}\n")
    assert moved.json["restart_needed_for"] == ["server.port", "server.workers"]
    settings = load_settings(path)
    assert (settings.title, settings.limits.max_width, settings.server.index_refresh_seconds) == ("Patched", 1024, 10.0)
    assert settings.server.port == 18080
    assert [layer.name for layer in settings.services[0].layers] == ["parent", "dem"]
    assert client.patch("/admin/config", headers=ADMIN_YAML, data="[1, 2]").status_code == 400


def test_layers_are_added_and_removed_through_the_same_validation(configured, data_dir):
    _app, client, path = configured
    added = client.post("/admin/layers", headers=ADMIN, json={"service": "demo", "layer": {
        "name": "ms16", "source": str(data_dir / "ms16.tif"), "bands": [3, 2, 1]}})
    assert added.status_code == 201, added.json
    assert [layer.name for layer in load_settings(path).services[0].layers] == ["parent", "dem", "ms16"]
    twice = client.post("/admin/layers", headers=ADMIN, json={"service": "demo", "layer": {
        "name": "ms16", "source": str(data_dir / "ms16.tif")}})
    assert twice.status_code == 422 and any("layer name 'ms16' is used twice" in m for m in twice.json["messages"])
    assert client.post("/admin/layers", headers=ADMIN, json={"service": "nope", "layer": {}}).status_code == 404
    assert client.post("/admin/layers", headers=ADMIN, json={"layer": {}}).status_code == 400
    assert client.delete("/admin/layers/dem", headers=ADMIN).status_code == 200
    assert [layer.name for layer in load_settings(path).services[0].layers] == ["parent", "ms16"]
    assert client.delete("/admin/layers/dem", headers=ADMIN).status_code == 404


def test_hostile_bodies_are_refused_cleanly(configured, tmp_path, monkeypatch):
    _app, client, path = configured
    monkeypatch.chdir(tmp_path)
    before = path.read_bytes()
    cases = {
        "bomb": (BILLION_LAUGHS, 400, "expands to more than"),
        "python": ('!!python/object/apply:os.system ["touch pwned"]', 400, "only plain data"),
        "deep": ("a: " + "[" * 5000 + "]" * 5000, 400, "nested deeper than 64"),
        "huge": (b"title: " + b"x" * (10 * 2**20), 413, "larger than 1048576 bytes"),
        "binary": (b"\xff\xfe\x00garbage", 400, "not UTF-8"),
        "empty": ("", 400, "empty"),
    }
    for name, (body, status, message) in cases.items():
        answer = client.put("/admin/config", headers=ADMIN_YAML, data=body)
        assert answer.status_code == status, name
        assert answer.is_json and message in answer.json["error"], (name, answer.json)
    assert path.read_bytes() == before and not (tmp_path / "pwned").exists()


def test_catalog_refresh_finds_a_new_file_of_a_folder_layer(data_dir, tmp_path):
    import shutil

    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(data_dir / "order" / "old.tif", folder / "old.tif")
    config = admin_config(data_dir, tmp_path, index_refresh_seconds=3600)
    config["services"][0]["layers"].append({"name": "folder", "source": str(folder)})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    app = create_app(load_settings(path), config_file=path)
    client = app.test_client()
    items = lambda: len(list(core_of(app).catalog_store.items("folder")))  # noqa: E731
    assert items() == 1
    shutil.copy(data_dir / "order" / "new.tif", folder / "new.tif")
    answer = client.post("/admin/catalog/folder/refresh", headers=ADMIN)
    assert answer.status_code == 200 and answer.json["layers"] == {"folder": True}
    assert items() == 2
    assert client.post("/admin/catalog/nothing/refresh", headers=ADMIN).status_code == 404


def test_seed_runs_in_the_background_and_truncate_drops_the_tiles(configured):
    app, client, _path = configured
    store = core_of(app).tile_store
    refused = client.post("/admin/seed", headers=ADMIN, json={"layer": "dem", "zooms": "0-24"})
    assert refused.status_code == 400 and "admin.max_seed_tiles" in refused.json["error"]
    assert client.post("/admin/seed", headers=ADMIN, json={"layer": "nope", "zooms": 3}).status_code == 404
    assert client.post("/admin/seed", headers=ADMIN, json={"layer": "dem", "zooms": "5-2"}).status_code == 400
    started = client.post("/admin/seed", headers=ADMIN, json={"layer": "dem", "zooms": "12-13"})
    assert started.status_code == 202, started.json
    deadline = time.monotonic() + 120
    while (state := client.get(started.json["href"], headers=ADMIN).json)["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["state"] == "done" and state["written"] > 0 and state["done"] == state["total"]
    info = core_of(app).engine.operator_layer("dem").info
    tiles = store.stats()["dem"]["tiles"]
    assert tiles == state["written"]
    truncated = client.post("/admin/cache/truncate", headers=ADMIN, json={"layer": "dem", "zooms": 13})
    assert truncated.status_code == 200 and 0 < truncated.json["removed"] < tiles
    assert store.stats()["dem"]["tiles"] == tiles - truncated.json["removed"]
    key = TileKey("dem", info.default_style, "WebMercatorQuad", info.version, 12, 0, 0, "png")
    assert client.post("/admin/cache/truncate", headers=ADMIN, json={"layer": "dem"}).status_code == 200
    assert store.stats().get("dem", {"tiles": 0})["tiles"] == 0 and store.get(key) is None
    assert client.get("/admin/jobs/not-a-job", headers=ADMIN).status_code == 404


def test_an_admin_grant_names_a_known_principal_kind(data_dir, tmp_path):
    config = admin_config(data_dir, tmp_path)
    config["access"]["grants"].append({"to": "anonymous", "actions": ["admin"]})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    assert any("cannot be granted to anonymous" in line for line in _validate_config(path))


def test_what_another_site_could_make_a_browser_send_is_refused(configured):
    """A page elsewhere could post a plain form (or text/plain) with an administrator's remembered
    credentials: such bodies are not documents here, and any request from another origin is refused."""
    _app, client, path = configured
    before = path.read_bytes()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {**ADMIN, **({"Content-Type": content_type} if content_type else {})}
        answer = client.put("/admin/config", headers=headers, data="title: Taken over\n")
        assert answer.status_code == 415 and "Content-Type" in answer.json["error"], content_type
    evil = client.post("/admin/catalog/dem/refresh", headers={**ADMIN, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and "another origin" in evil.json["error"]
    same = client.post("/admin/catalog/dem/refresh", headers={**ADMIN, "Origin": "http://localhost"})
    assert same.status_code == 200
    assert path.read_bytes() == before
