"""CORS: readable routes answer other origins (errors too), preflights are answered before the
core, credentials go only to listed origins, and a hostile Origin gets nothing."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from ogcserver.app import create_app
from ogcserver.settings import ConfigError, load_settings
from tests.conftest import write_config
from tests.support.one_layer import one_layer_client, rate_limited_client
from tests.support.tiles import tile_at

SITE = "https://maps.example.org"
PARTNER = "https://partner.example.com:8443"
CAPABILITIES = "/wms?SERVICE=WMS&REQUEST=GetCapabilities"
GETMAP = ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=p&STYLES=&CRS=EPSG:32632"
          "&BBOX=500000,5197000,503000,5200000&WIDTH=64&HEIGHT=64&FORMAT=image/png")


def with_cors(data_dir, folder, **cors):
    config = write_config(data_dir, folder / "c.yaml")
    raw = yaml.safe_load(config.read_text())
    raw["cors"] = cors
    config.write_text(yaml.safe_dump(raw))
    return config


@pytest.fixture(scope="module")
def credentialed(data_dir, tmp_path_factory):
    config = with_cors(data_dir, tmp_path_factory.mktemp("cors"), credentials_origins=[PARTNER], max_age=120)
    return create_app(load_settings(config)).test_client()


def test_readable_routes_allow_every_origin_by_default(client):
    x, y = tile_at(14)
    for url in (CAPABILITIES, f"/tiles/parent/WebMercatorQuad/14/{x}/{y}.png",
                "/tiles/parent/WebMercatorQuad/tilejson.json", "/catalog/mosaic/items", "/healthz",
                "/wms?SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER=dem&FORMAT=image/png"):
        r = client.get(url, headers={"Origin": SITE})
        assert r.status_code == 200, url
        assert r.headers["Access-Control-Allow-Origin"] == "*", url
        assert "Access-Control-Allow-Credentials" not in r.headers, url
        assert "Origin" in r.headers["Vary"], url
        assert "ETag" in r.headers["Access-Control-Expose-Headers"], url


def test_errors_carry_the_headers_a_page_needs_to_read_them(client):
    missing = client.get("/tiles/nothing/WebMercatorQuad/1/0/0.png", headers={"Origin": SITE})
    exception = client.get("/wms?SERVICE=WMS&REQUEST=GetMap&LAYERS=nothing", headers={"Origin": SITE})
    for r in (missing, exception):
        assert r.status_code >= 400
        assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_refusals_carry_the_headers(data_dir, tmp_path):
    key = {"name": "k", "key_sha256": hashlib.sha256(b"k").hexdigest()}
    client = one_layer_client(data_dir, tmp_path, access={  # everyone may list the layer, nobody view it
        "rate_limits": {"per_principal_per_minute": 1}, "api_keys": [key],
        "grants": [{"to": "anonymous", "service": "s", "actions": ["discover"]}]})
    codes = {}
    for url, headers in ((CAPABILITIES, {}), (CAPABILITIES, {}), (CAPABILITIES, {"Authorization": "Basic bm9ib2R5Ong="}),
                         (GETMAP, {"X-API-Key": "k"})):
        r = client.get(url, headers={"Origin": SITE, **headers})
        codes[r.status_code] = r.headers.get("Access-Control-Allow-Origin")
    assert codes == {200: "*", 429: "*", 401: "*", 403: "*"}


def test_preflight_is_answered_before_authentication_and_rate_limits(data_dir, tmp_path):
    client = rate_limited_client(data_dir, tmp_path, 1)
    for _ in range(3):  # with bad credentials too: a preflight never carries any
        client.options("/wms", headers={"Origin": SITE, "Access-Control-Request-Method": "GET",
                                        "Authorization": "Basic bm9ib2R5OndoYXRldmVy"})
    r = client.options("/wms", headers={"Origin": SITE, "Access-Control-Request-Method": "POST",
                                        "Access-Control-Request-Headers": "content-type, authorization"})
    assert r.status_code == 204 and r.data == b""
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")}
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "authorization"} <= allowed
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert {"Origin", "Access-Control-Request-Method"} <= {v.strip() for v in r.headers["Vary"].split(",")}
    assert [client.get(CAPABILITIES).status_code for _ in range(2)] == [200, 429]  # preflights spent nothing
    refused = client.options("/wms", headers={"Origin": SITE, "Access-Control-Request-Method": "DELETE"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_credentials_only_for_listed_origins_and_never_with_a_wildcard(credentialed):
    partner = credentialed.get(CAPABILITIES, headers={"Origin": PARTNER})
    assert partner.headers["Access-Control-Allow-Origin"] == PARTNER
    assert partner.headers["Access-Control-Allow-Credentials"] == "true"
    other = credentialed.get(CAPABILITIES, headers={"Origin": SITE})
    assert other.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in other.headers
    preflight = credentialed.options("/wms", headers={"Origin": PARTNER, "Access-Control-Request-Method": "GET"})
    assert preflight.headers["Access-Control-Allow-Origin"] == PARTNER
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert preflight.headers["Access-Control-Max-Age"] == "120"
    for r in (partner, other, preflight):
        assert not (r.headers.get("Access-Control-Allow-Origin") == "*"
                    and r.headers.get("Access-Control-Allow-Credentials"))


def test_listed_origins_only(data_dir, tmp_path):
    client = create_app(load_settings(with_cors(data_dir, tmp_path, origins=[SITE]))).test_client()
    assert client.get(CAPABILITIES, headers={"Origin": SITE}).headers["Access-Control-Allow-Origin"] == SITE
    assert "Access-Control-Allow-Origin" not in client.get(CAPABILITIES, headers={"Origin": PARTNER}).headers
    assert "Access-Control-Allow-Origin" not in client.get(CAPABILITIES).headers


@pytest.mark.parametrize("origin", [
    "https://evil.example\r\nSet-Cookie: a=b", "https://evil.example\nx", "x" * 10_000,
    "https://" + "a" * 300 + ".example", "not a url", "https://maps.example.org/path", "javascript:alert(1)",
    "https://maps.example.org:99999999", "", "*",
])
def test_a_hostile_origin_gets_no_cors_header_and_no_error(credentialed, origin):
    environ = {"HTTP_ORIGIN": origin}
    r = credentialed.get(CAPABILITIES, environ_base=environ)
    assert r.status_code == 200
    assert not any(name.startswith("Access-Control-") for name, _value in r.headers.items())
    preflight = credentialed.options("/wms", environ_base={**environ, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"})
    assert preflight.status_code == 204
    assert not any(name.startswith("Access-Control-") for name, _value in preflight.headers.items())


def test_the_short_path_for_cached_tiles_carries_the_same_headers(client):
    x, y = tile_at(15)
    url = f"/tiles/parent/WebMercatorQuad/15/{x}/{y}.png"
    client.get(url)  # fill
    assert client.application.wsgi_app.__class__.__name__ == "FastTiles"
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": url, "QUERY_STRING": ""}
    assert client.application.wsgi_app._hit(environ) is not None  # the next request takes the short path
    fast = client.get(url, headers={"Origin": SITE})
    full = client.get(url, headers={"Origin": SITE, "If-None-Match": '"other"'})
    for header in ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary"):
        assert fast.headers[header] == full.headers[header], header


def test_pages_and_metrics_are_not_shared(client):
    for url in ("/metrics", "/"):
        r = client.get(url, headers={"Origin": SITE})
        assert "Access-Control-Allow-Origin" not in r.headers, url


def test_cors_can_be_turned_off(data_dir, tmp_path):
    client = create_app(load_settings(with_cors(data_dir, tmp_path, origins=[]))).test_client()
    r = client.get(CAPABILITIES, headers={"Origin": SITE})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    preflight = client.options("/wms", headers={"Origin": SITE, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


@pytest.mark.parametrize(("cors", "message"), [
    ({"credentials_origins": ["*"]}, "must name origins"),
    ({"origins": ["https://a.example/"]}, "is not an origin"),
    ({"origins": ["*", SITE]}, "list it alone"),
    ({"methods": ["GET\r\nX: y"]}, "not an HTTP method"),
    ({"max_age": -1}, "max_age"),
])
def test_bad_cors_settings_are_configuration_errors(data_dir, tmp_path, cors, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(with_cors(data_dir, tmp_path, **cors))
