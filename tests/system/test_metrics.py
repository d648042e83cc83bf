"""/metrics: readable only from the configured addresses, labels from a closed set, bounded."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from ogcserver.web.metrics import OPERATIONS, OTHER, SERVICES
from tests.conftest import write_config


@pytest.fixture(scope="module")
def app(data_dir, tmp_path_factory):
    config = write_config(data_dir, tmp_path_factory.mktemp("metrics") / "c.yaml", trusted_proxies=["10.0.0.1/32"])
    return create_app(load_settings(config))


@pytest.fixture()
def client(app):
    return app.test_client()


def families(client) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(r.data.decode())}


def test_metrics_are_readable_from_loopback_only_by_default(client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 403


def test_a_client_behind_a_trusted_proxy_is_judged_by_its_own_address(client):
    via_proxy = {"REMOTE_ADDR": "10.0.0.1"}
    assert client.get("/metrics", environ_base=via_proxy, headers={"X-Forwarded-For": "192.0.2.10"}).status_code == 403
    assert client.get("/metrics", environ_base=via_proxy, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    # a client's own claim, not from a trusted proxy, changes nothing
    spoofed = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.10"}, headers={"X-Forwarded-For": "127.0.0.1"})
    assert spoofed.status_code == 403


def test_metrics_can_be_closed_or_opened_by_configuration(data_dir, tmp_path):
    closed = create_app(load_settings(write_config(data_dir, tmp_path / "a.yaml", metrics_allow=[]))).test_client()
    assert closed.get("/metrics").status_code == 403
    wide = create_app(load_settings(write_config(data_dir, tmp_path / "b.yaml", metrics_allow=["192.0.2.0/24"])))
    assert wide.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 200


def test_a_bad_metrics_network_is_a_configuration_error(data_dir, tmp_path):
    from ogcserver.settings import ConfigError

    with pytest.raises(ConfigError, match="not an IP address or network"):
        load_settings(write_config(data_dir, tmp_path / "a.yaml", metrics_allow=["everyone"]))


def test_a_newline_in_request_cannot_forge_a_series(client):
    forged = 'GetMap\nogcserver_forged_total{service="WMS"} 1e9\n# x'
    client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": forged})
    client.get("/catalog/mosaic/items/a\nb\"c")
    text = client.get("/metrics").data.decode()
    assert "ogcserver_forged" not in text
    assert set(families(client)) == {"ogcserver_requests", "ogcserver_request_seconds"}


def test_labels_come_from_a_closed_set_and_series_stay_bounded(client):
    def hostile_round(start: int, count: int) -> None:
        for i in range(start, start + count):
            client.get("/wms", query_string={"SERVICE": f"S{i}", "REQUEST": f"Get{i}"})
            client.get("/ows", query_string={"SERVICE": "WMS", "REQUEST": f"GetThing{i}"})
            client.get(f"/nowhere/{i}")

    hostile_round(0, 3)  # the closed set's series for such requests now exist (whatever ran before)
    before = sum(len(f.samples) for f in families(client).values())
    hostile_round(3, 300)  # 900 more distinct values: not one new series
    after = families(client)
    assert sum(len(f.samples) for f in after.values()) == before
    endpoints = set(client.application.view_functions) | {"none"}
    for family in after.values():
        for sample in family.samples:
            assert sample.labels["service"] in (*SERVICES, OTHER)
            assert sample.labels["request"] in (*OPERATIONS, OTHER) or sample.labels["request"] in endpoints


def test_known_operations_are_counted_by_name(client):
    client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "getcapabilities"})
    requests_total = families(client)["ogcserver_requests"]
    assert any(s.labels["request"] == "GetCapabilities" and s.labels["service"] == "WMS"
               and s.labels["status"] == "200" and s.value >= 1 for s in requests_total.samples)
