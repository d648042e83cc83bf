"""/metrics: readable only from the configured addresses, labels from a closed set, bounded."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from ogcserver.web.metrics import MULTIPLE, OPERATIONS, OTHER, SERVICES
from tests.conftest import write_config
from tests.support.one_layer import rate_limited_client

FAMILIES = {"ogcserver_requests", "ogcserver_request_seconds", "ogcserver_response_bytes", "ogcserver_tile_cache",
            "ogcserver_renders", "ogcserver_errors", "ogcserver_refusals", "ogcserver_requests_in_progress"}


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
    assert set(families(client)) <= FAMILIES


def test_labels_come_from_a_closed_set_and_series_stay_bounded(client, settings):
    def hostile_round(start: int, count: int) -> None:
        for i in range(start, start + count):
            client.get("/wms", query_string={"SERVICE": f"S{i}", "REQUEST": f"Get{i}"})
            client.get("/ows", query_string={"SERVICE": "WMS", "REQUEST": f"GetThing{i}"})
            client.get(f"/nowhere/{i}")
            client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetMap", "LAYERS": f"dem,x{i}"})
            client.get(f"/tiles/layer{i}/WebMercatorQuad/1/0/0.png")

    hostile_round(0, 3)  # the closed set's series for such requests now exist (whatever ran before)
    families(client)  # and those of a scrape itself
    before = sum(len(f.samples) for f in families(client).values())
    hostile_round(3, 300)  # 900 more distinct values: not one new series
    after = families(client)
    assert sum(len(f.samples) for f in after.values()) == before
    endpoints = set(client.application.view_functions) | {"none"}
    layers = {layer.name for service in settings.services for layer in service.layers} | {"", OTHER, MULTIPLE}
    for family in after.values():
        for sample in family.samples:
            labels = sample.labels
            assert labels.get("service", "WMS") in (*SERVICES, OTHER)
            assert labels.get("request", OTHER) in (*OPERATIONS, OTHER) or labels["request"] in endpoints
            assert labels.get("layer", "") in layers


def test_known_operations_are_counted_by_name(client):
    client.get("/wms", query_string={"SERVICE": "WMS", "REQUEST": "getcapabilities"})
    requests_total = families(client)["ogcserver_requests"]
    assert any(s.labels["request"] == "GetCapabilities" and s.labels["service"] == "WMS"
               and s.labels["status"] == "200" and s.value >= 1 for s in requests_total.samples)


def value(client, family: str, **labels: str) -> float:
    found = families(client).get(family)
    return sum(s.value for s in (found.samples if found else ())
               if all(s.labels.get(k) == v for k, v in labels.items()) and not s.name.endswith("_created"))


def test_renders_bytes_and_errors_by_code(client):
    getmap = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "dem", "STYLES": "",
              "CRS": "EPSG:32632", "BBOX": "500000,5197000,503000,5200000", "WIDTH": "64", "HEIGHT": "64",
              "FORMAT": "image/png"}
    renders = value(client, "ogcserver_renders", request="GetMap", layer="dem")
    sent = value(client, "ogcserver_response_bytes", service="WMS", request="GetMap")
    errors = value(client, "ogcserver_errors", service="WMS", code="LayerNotDefined")
    r = client.get("/wms", query_string=getmap)
    assert r.status_code == 200
    client.get("/wms", query_string={**getmap, "LAYERS": "nothing"})
    assert value(client, "ogcserver_renders", request="GetMap", layer="dem") == renders + 1
    assert value(client, "ogcserver_response_bytes", service="WMS", request="GetMap") >= sent + len(r.data)
    assert value(client, "ogcserver_errors", service="WMS", code="LayerNotDefined") == errors + 1
    assert value(client, "ogcserver_requests", request="GetMap", layer="dem", status="200") >= 1


def test_tile_cache_hits_and_misses(client):
    from tests.support.tiles import tile_at

    x, y = tile_at(18, 900, 900)
    url = f"/tiles/masked/WebMercatorQuad/18/{x}/{y}.png"
    hits, misses = (value(client, "ogcserver_tile_cache", result=r, layer="masked") for r in ("hit", "miss"))
    assert client.get(url).headers["X-Cache"] == "MISS"
    assert client.get(url).headers["X-Cache"] == "HIT"  # from the short path
    assert client.get(url, headers={"If-None-Match": '"x"'}).headers["X-Cache"] == "HIT"  # from the full path
    assert value(client, "ogcserver_tile_cache", result="miss", layer="masked") == misses + 1
    assert value(client, "ogcserver_tile_cache", result="hit", layer="masked") == hits + 2


def test_rate_limit_refusals_are_counted(data_dir, tmp_path):
    client = rate_limited_client(data_dir, tmp_path, 2)
    codes = [client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities").status_code for _ in range(5)]
    assert codes.count(429) == 3
    assert value(client, "ogcserver_refusals", reason="rate_limit") == 3
    assert value(client, "ogcserver_errors", service="WMS", code="ServerBusy") == 3
