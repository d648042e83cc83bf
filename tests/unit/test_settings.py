"""Configuration: validated once with messages naming file, key and reason; frozen."""

from __future__ import annotations

import subprocess
import sys

import pydantic
import pytest

from ogcserver.settings import ConfigError, load_settings, settings_from_paths


def write(tmp_path, text):
    path = tmp_path / "ogcserver.yaml"
    path.write_text(text)
    return path


def test_valid_config_loads_and_is_frozen(config_path):
    settings = load_settings(config_path)
    assert settings.services[0].layers[1].name == "mosaic"
    assert settings.limits_for(settings.services[1]).max_width == 2048
    assert settings.limits_for(settings.services[0]).max_width == 4096
    with pytest.raises(pydantic.ValidationError):
        settings.title = "changed"


@pytest.mark.parametrize(
    "text, key, reason",
    [
        ("services: []", "services", "at least 1"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: .}\n  colour: red", "services.0.colour", "Extra inputs"),
        ("services:\n- name: 'bad name'\n  layers:\n  - {name: x, source: .}", "services.0.name", "not a valid name"),
        ("limits: {max_width: 0}\nservices:\n- name: a\n  layers:\n  - {name: x, source: .}", "limits.max_width", "greater than"),
        ("services:\n- name: a\n  crs: [WGS84]\n  layers:\n  - {name: x, source: .}", "services.0.crs", "EPSG:n"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: ., bands: [1, 2]}", "services.0.layers.0.bands", "1 or 3"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: missing.tif}", "services.0.layers.0.source", "does not exist"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: .}\n  - {name: x, source: .}", "(top level)", "used twice"),
        ("services:\n- name: a\n  layers:\n  - {name: x}", "services.0.layers.0", "exactly one of 'source' and 'collection'"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: ., order: 'by:a;b'}", "services.0.layers.0.order", "not an attribute"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: ., operator: median}", "services.0.layers.0.operator", "first"),
        ("catalog: {backend: postgis}\nservices:\n- name: a\n  layers:\n  - {name: x, source: .}", "catalog", "dsn"),
        ("processing:\n- name: t\n  chain: [{function: hillshade}]\n  compare: {reference: soon}\n"
         "services:\n- name: a\n  layers:\n  - {name: x, source: .}", "processing.0.compare.reference", "ISO 8601"),
        ("processing:\n- name: t\n  per_item: true\n  chain: [{function: hillshade}]\n"
         "services:\n- name: a\n  layers:\n  - {name: x, source: .}", "processing.0", "cannot run per item"),
        ("processing:\n- name: t\n  chain: [{function: hillshade}]\n  then: [{function: hillshade}]\n"
         "services:\n- name: a\n  layers:\n  - {name: x, source: .}", "processing.0", "add 'compare'"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: 's3://Bad_Bucket/a.tif'}",
         "services.0.layers.0.source", "not a valid bucket name"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: 's3://bucket/a.tif?v=2'}",
         "services.0.layers.0.source", "must name one object"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: 's3://bucket/a//b/'}",
         "services.0.layers.0.source", "s3://bucket/prefix/"),
        ("analysis: {output_url: 's3://Bad_Bucket/products'}\nservices:\n- name: a\n  layers:\n  - {name: x, source: .}",
         "analysis.output_url", "should match pattern"),
        ("cache: {store: s3}\nservices:\n- name: a\n  layers:\n  - {name: x, source: .}", "cache", "needs a 'bucket'"),
        ("storage: {s3: {access_key_id: k}}\nservices:\n- name: a\n  layers:\n  - {name: x, source: .}",
         "storage.s3", "both access_key_id and secret_access_key"),
        ("storage: {s3: {endpoint_url: 'ftp://x'}}\nservices:\n- name: a\n  layers:\n  - {name: x, source: .}",
         "storage.s3.endpoint_url", "should match"),
        ("storage: {s3: {buckets: [UPPER]}}\nservices:\n- name: a\n  layers:\n  - {name: x, source: .}",
         "storage.s3.buckets", "not a valid bucket name"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: ., band_files: [B4, B4]}",
         "services.0.layers.0.band_files", "distinct band tokens"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: ., band_files: ['B{4}']}",
         "services.0.layers.0.band_files", "letters and digits"),
        ("services:\n- name: a\n  layers:\n  - {name: x, source: ., band_files: sometimes}",
         "services.0.layers.0.band_files", "'auto' or 'off'"),
    ],
)
def test_problems_name_file_key_and_reason(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert str(path) in message and key in message and reason in message


def test_yaml_errors_and_unsafe_tags(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "services: [unclosed"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, '!!python/object/apply:os.system ["touch pwned"]'))
    assert not (tmp_path / "pwned").exists()


def test_sources_are_relative_to_the_config_file(tmp_path, data_dir):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "c.yaml"
    import os

    rel = os.path.relpath(data_dir / "dem.tif", path.parent)
    path.write_text(f"services:\n- name: a\n  layers:\n  - {{name: x, source: {rel}}}\n")
    assert load_settings(path).services[0].layers[0].source == (data_dir / "dem.tif").resolve()


def test_paths_become_layers(data_dir):
    settings = settings_from_paths([data_dir / "dem.tif", data_dir / "tiles", data_dir / "order"])
    assert [layer.name for layer in settings.services[0].layers] == ["dem", "tiles", "order"]
    with pytest.raises(ConfigError, match="does not exist"):
        settings_from_paths([data_dir / "nothing.tif"])


def test_validate_config_command(config_path, tmp_path):
    ok = subprocess.run([sys.executable, "-m", "ogcserver", "validate-config", str(config_path)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "OK (2 service(s), 8 layer(s))" in ok.stdout
    bad = write(tmp_path, "services:\n- name: a\n  layers:\n  - {name: x, source: nowhere}")
    run = subprocess.run([sys.executable, "-m", "ogcserver", "validate-config", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "services.0.layers.0.source" in run.stderr and "Traceback" not in run.stderr


def test_object_sources_stay_urls_and_secrets_stay_hidden(tmp_path):
    path = write(tmp_path, "storage: {s3: {access_key_id: AKEXAMPLE, secret_access_key: hidden-secret, buckets: [extra]}}\n"
                           "services:\n- name: a\n  layers:\n  - {name: x, source: 's3://imagery/ortho/a.tif'}\n"
                           "  - {name: y, source: .}")
    settings = load_settings(path)
    assert settings.services[0].layers[0].source == "s3://imagery/ortho/a.tif"  # not folded into a path
    assert settings.services[0].layers[1].local_source == tmp_path.resolve()
    assert settings.source_buckets == ("extra", "imagery")
    for dump in (repr(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert "hidden-secret" not in dump and "AKEXAMPLE" not in dump
