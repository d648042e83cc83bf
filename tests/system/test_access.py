"""Access control through WMS: identities, grants, discovery, constraints, limits, audit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import numpy as np
import pytest
import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from ogcserver.web.auth import hash_password
from tests.conftest import running_server
from tests.support import rasters
from tests.support.reference import decode, opacity, params

X0, Y0 = rasters.ORIGIN
BOX = f"{X0},{Y0 - 2000},{X0 + 2000},{Y0}"
ISSUER, AUDIENCE = "https://idp.example.org/", "ogcserver"
WMS = {"wms": "http://www.opengis.net/wms"}


@pytest.fixture(scope="module")
def keys():
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return good, other


@pytest.fixture(scope="module")
def secured(data_dir, tmp_path_factory, keys):
    folder = tmp_path_factory.mktemp("secured")
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys[0].public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    (folder / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    (folder / "users.yaml").write_text(yaml.safe_dump([
        {"name": "vera", "password_hash": hash_password("viewer-pw"), "groups": ["viewers"]},
    ]))
    tile0 = str(data_dir / "tiles" / "tile_0.tif")
    # west of 9.013 E: the left half of the views below (500000 E in UTM 32N is 9 E)
    left_half = {"type": "Polygon", "coordinates": [[[0, 0], [9.013, 0], [9.013, 89], [0, 89], [0, 0]]]}
    config = {
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "services": [{"name": "s", "allow_download": True, "layers": [
            {"name": "public", "source": tile0},
            {"name": "secret", "source": tile0},
            {"name": "hidden", "source": tile0},
            {"name": "teaser", "source": tile0},
            {"name": "clipped", "source": tile0},
            {"name": "coarse", "source": tile0},
            {"name": "dated", "source": str(data_dir / "order")},
        ]}],
        "access": {
            "users": [{"name": "ann", "password_hash": hash_password("analyst-pw"), "groups": ["analysts"]}],
            "users_file": "users.yaml",
            "api_keys": [{"name": "admin-key", "key_sha256": hashlib.sha256(b"s3cret-key").hexdigest(), "groups": ["admins"]}],
            "jwt": {"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": "jwks.json"},
            "proxy": {"trusted": ["10.9.9.9/32"]},
            "rate_limits": {"per_address_per_minute": 1000},
            "login": {"failures_per_address": 100_000},  # the matrix fails many times from one address
            "grants": [
                {"to": "anonymous", "service": "s", "layers": ["public"], "actions": ["discover", "view", "query"]},
                {"to": "authenticated", "service": "s", "layers": ["secret"], "actions": ["discover", "view"]},
                {"to": "group:analysts", "service": "s", "layers": ["secret"], "actions": ["query"]},
                {"to": "group:admins", "service": "s", "actions": ["discover", "view", "query", "download", "process"]},
                {"to": "anonymous", "service": "s", "layers": ["teaser"], "actions": ["discover"]},
                {"to": "authenticated", "service": "s", "layers": ["teaser"], "actions": ["view"]},
                {"to": "anonymous", "service": "s", "layers": ["clipped"], "actions": ["discover", "view"], "area": left_half},
                {"to": "anonymous", "service": "s", "layers": ["coarse"], "actions": ["discover", "view"], "max_resolution": 40},
                {"to": "anonymous", "service": "s", "layers": ["dated"], "actions": ["discover", "view"],
                 "time": ["2019-01-01T00:00:00Z", "2021-01-01T00:00:00Z"]},
            ],
        },
    }
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    return create_app(load_settings(path)).test_client()


def token(key, **claims):
    body = {"sub": "tom", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600, "groups": ["analysts"], **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def unsigned(claims_header):
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return b64(claims_header) + "." + b64({"sub": "eve", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600,
                                             "groups": ["admins"]})


@pytest.fixture(scope="module")
def principals(keys):
    good, other = keys
    pem = good.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head = unsigned({"alg": "HS256", "kid": "k1", "typ": "JWT"})
    confused = head + "." + base64.urlsafe_b64encode(hmac.new(pem, head.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    return {
        "anonymous": {},
        "viewer": basic("vera", "viewer-pw"),
        "analyst": basic("ann", "analyst-pw"),
        "token": {"Authorization": "Bearer " + token(good)},
        "admin": {"X-API-Key": "s3cret-key"},
        "wrong-password": basic("ann", "nope"),
        "unknown-user": basic("nobody", "nope"),
        "expired-token": {"Authorization": "Bearer " + token(good, exp=int(time.time()) - 3600)},
        "forged-token": {"Authorization": "Bearer " + token(other)},
        "wrong-audience": {"Authorization": "Bearer " + token(good, aud="someone-else")},
        "alg-none": {"Authorization": "Bearer " + unsigned({"alg": "none", "typ": "JWT"}) + "."},
        "key-confusion": {"Authorization": "Bearer " + confused},
        "bad-key": {"X-API-Key": "guess"},
    }


def ogc(client, request, layer, headers):
    if request == "GetCapabilities":
        q = {"SERVICE": "WMS", "REQUEST": "GetCapabilities"}
    elif request == "GetMap":
        q = params(LAYERS=layer, CRS="EPSG:32632", BBOX=BOX, WIDTH=20, HEIGHT=20)
    elif request == "GetFeatureInfo":
        q = {**params(LAYERS=layer, CRS="EPSG:32632", BBOX=BOX, WIDTH=20, HEIGHT=20), "REQUEST": "GetFeatureInfo",
             "QUERY_LAYERS": layer, "I": 5, "J": 5, "INFO_FORMAT": "application/json"}
    else:
        q = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic", "LAYER": layer, "FORMAT": "image/png"}
    return client.get("/wms", query_string=q, headers=headers)


def outcome(r, layer):
    if r.status_code == 200 and r.mimetype == "text/xml" and b"WMS_Capabilities" in r.data:
        return "listed" if f"<Name>{layer}</Name>".encode() in r.data else "unlisted"
    if r.status_code == 200:
        return "ok"
    if r.status_code == 400 and b"LayerNotDefined" in r.data:
        return "hidden"
    return str(r.status_code)


BAD = ("wrong-password", "unknown-user", "expired-token", "forged-token", "wrong-audience", "alg-none",
       "key-confusion", "bad-key")
# request -> layer -> principal -> outcome
EXPECTED = {
    "public": {"anonymous": "ok", "viewer": "ok", "analyst": "ok", "token": "ok", "admin": "ok"},
    "secret": {"anonymous": "hidden", "viewer": "ok", "analyst": "ok", "token": "ok", "admin": "ok"},
    "hidden": {"anonymous": "hidden", "viewer": "hidden", "analyst": "hidden", "token": "hidden", "admin": "ok"},
    "teaser": {"anonymous": "401", "viewer": "ok", "analyst": "ok", "token": "ok", "admin": "ok"},
}


@pytest.mark.parametrize("request_name", ["GetCapabilities", "GetMap", "GetFeatureInfo", "GetLegendGraphic"])
@pytest.mark.parametrize("layer", list(EXPECTED))
def test_access_matrix(secured, principals, request_name, layer):
    for who, headers in principals.items():
        got = outcome(ogc(secured, request_name, layer, headers), layer)
        if who in BAD:
            expected = "401"
        else:
            expected = EXPECTED[layer][who]
            if request_name == "GetCapabilities":
                expected = "unlisted" if expected == "hidden" else "listed"
            elif request_name == "GetFeatureInfo" and expected == "ok":
                may_query = {"public": True, "secret": who in ("analyst", "token", "admin"), "hidden": True,
                             "teaser": who == "admin"}[layer]
                expected = "ok" if may_query else ("401" if who == "anonymous" else "403")
        assert got == expected, (request_name, layer, who)


def test_challenges_and_exception_format(secured, principals):
    r = ogc(secured, "GetMap", "teaser", {})
    assert r.status_code == 401 and any(v.startswith("Basic") for v in r.headers.getlist("WWW-Authenticate"))
    code = etree.fromstring(r.data).find("{http://www.opengis.net/ogc}ServiceException").get("code")
    assert code == "AccessDenied"
    r = ogc(secured, "GetFeatureInfo", "secret", principals["viewer"])
    assert r.status_code == 403 and b"ServiceExceptionReport" in r.data
    r = ogc(secured, "GetMap", "public", principals["expired-token"])
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_hidden_layer_answers_like_a_missing_one(secured):
    hidden = ogc(secured, "GetMap", "hidden", {}).data.replace(b"hidden", b"X")
    missing = ogc(secured, "GetMap", "nosuch", {}).data.replace(b"nosuch", b"X")
    assert hidden == missing


def test_landing_page_and_preview_follow_access(secured, principals):
    anonymous = secured.get("/").data
    assert b"/preview/public" in anonymous and b"/preview/hidden" not in anonymous
    assert b"/preview/hidden" in secured.get("/", headers=principals["admin"]).data
    assert secured.get("/preview/hidden").status_code == 404
    assert secured.get("/preview/hidden", headers=principals["admin"]).status_code == 200


def test_trusted_proxy_header(secured):
    headers = {"X-Remote-User": "pat", "X-Remote-Groups": "admins"}
    assert outcome(ogc(secured, "GetMap", "hidden", headers), "hidden") == "hidden"  # not from a trusted address
    r = secured.get("/wms", query_string=params(LAYERS="hidden", CRS="EPSG:32632", BBOX=BOX, WIDTH=20, HEIGHT=20),
                    headers=headers, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 200


def test_api_key_in_the_url_for_naive_clients(secured):
    q = params(LAYERS="hidden", CRS="EPSG:32632", BBOX=BOX, WIDTH=20, HEIGHT=20, APIKEY="s3cret-key")
    assert secured.get("/wms", query_string=q).status_code == 200


def test_area_constraint_masks_outside(secured):
    # the view spans both sides of the allowed area's east edge
    img = decode(secured.get("/wms", query_string=params(
        LAYERS="clipped", CRS="EPSG:32632", BBOX=f"{X0},{Y0 - 2000},{X0 + 2000},{Y0}", WIDTH=40, HEIGHT=40,
        TRANSPARENT="TRUE")).data)
    alpha = img[..., 3]
    assert alpha[:, 0].min() == 255 and alpha[:, -1].max() == 0  # west inside, east outside


def test_max_resolution_constraint(secured, data_dir):
    img = decode(secured.get("/wms", query_string=params(
        LAYERS="coarse", CRS="EPSG:32632", BBOX=BOX, WIDTH=200, HEIGHT=200)).data)  # 10 m pixels asked
    blocks = img.reshape(50, 4, 50, 4, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()  # every 4x4 block is one 40 m pixel
    public = decode(secured.get("/wms", query_string=params(LAYERS="public", CRS="EPSG:32632", BBOX=BOX,
                                                             WIDTH=200, HEIGHT=200)).data)
    assert not np.array_equal(img, public)


def test_time_window_constraint_hides_newer_items(secured):
    overlap = f"{X0 + 1000},{Y0 - 2000},{X0 + 2000},{Y0 - 1000}"
    img = decode(secured.get("/wms", query_string=params(LAYERS="dated", CRS="EPSG:32632", BBOX=overlap,
                                                          WIDTH=10, HEIGHT=10)).data)
    assert (img == 100).all()  # the 2022 item is outside the grant's window: the 2020 one shows


def test_audit_log_names_principal_and_outcome(secured, principals, caplog):
    caplog.set_level("INFO", logger="ogcserver.audit")
    ogc(secured, "GetFeatureInfo", "secret", principals["viewer"])
    record = next(r for r in caplog.records if r.name == "ogcserver.audit")
    assert (record.principal, record.layer, record.action, record.outcome) == ("vera", "secret", "query", "forbidden")


def test_rate_limit_answers_429(data_dir, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(tmp_path / "state")},
        "services": [{"name": "s", "layers": [{"name": "p", "source": str(data_dir / "dem.tif")}]}],
        "access": {"rate_limits": {"per_principal_per_minute": 3},
                   "grants": [{"to": "anonymous", "service": "s", "actions": ["discover", "view"]}]},
    }))
    client = create_app(load_settings(config)).test_client()
    codes = [client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities")
    assert int(r.headers["Retry-After"]) >= 1


def test_grants_naming_unknown_layers_are_config_errors(data_dir, tmp_path):
    from ogcserver.settings import ConfigError

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "services": [{"name": "s", "layers": [{"name": "p", "source": str(data_dir / "dem.tif")}]}],
        "access": {"grants": [{"to": "anonymous", "service": "s", "layers": ["q"], "actions": ["view"]}]},
    }))
    with pytest.raises(ConfigError, match="layer 'q'"):
        load_settings(config)


def test_owslib_with_basic_auth_and_headers(secured_live, principals):
    from owslib.util import Authentication
    from owslib.wms import WebMapService

    url = secured_live + "/wms"
    anonymous = WebMapService(url, version="1.3.0")
    assert "secret" not in anonymous.contents
    viewer = WebMapService(url, version="1.3.0", auth=Authentication(username="vera", password="viewer-pw"))
    assert "secret" in viewer.contents
    img = viewer.getmap(layers=["secret"], styles=[""], srs="EPSG:32632", bbox=(X0, Y0 - 2000, X0 + 2000, Y0),
                        size=(20, 20), format="image/png")
    assert decode(img.read()).shape == (20, 20, 3)
    admin = WebMapService(url, version="1.3.0", headers={"X-API-Key": "s3cret-key"})
    assert "hidden" in admin.contents
    r = requests.get(url, params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}, auth=("vera", "wrong"), timeout=10)
    assert r.status_code == 401


@pytest.fixture(scope="module")
def secured_live(secured, tmp_path_factory):
    """The secured configuration served by gunicorn in a subprocess."""
    config = next(tmp_path_factory.getbasetemp().glob("secured*/ogcserver.yaml"))
    with running_server(config, workers=1) as url:
        yield url


def test_cached_tile_is_not_served_to_someone_who_may_not_see_it(secured, principals):
    url = "/tiles/hidden/hidden_native/1/0/0.png"
    admin = secured.get(url, headers=principals["admin"])
    assert admin.status_code == 200
    assert secured.get(url, headers=principals["admin"]).headers["X-Cache"] == "HIT"
    for who in ("anonymous", "viewer"):
        r = secured.get(url, headers=principals[who])
        assert r.status_code == 400 and b"InvalidParameterValue" in r.data and b"PNG" not in r.data[:8]
    assert secured.get(url, headers=principals["forged-token"]).status_code == 401
    teaser = secured.get("/tiles/teaser/teaser_native/1/0/0.png")
    assert teaser.status_code == 401 and teaser.headers.get("WWW-Authenticate")


def test_constrained_grants_bypass_the_cache(secured):
    from tests.support.tiles import tile_at

    x, y = tile_at(16)
    r1 = secured.get(f"/tiles/clipped/WebMercatorQuad/16/{x}/{y}.png")
    r2 = secured.get(f"/tiles/clipped/WebMercatorQuad/16/{x}/{y}.png")
    assert r1.status_code == 200 and (opacity(decode(r1.data)) == 255).any()  # drawn, inside the area
    assert r2.headers["X-Cache"] == "MISS"  # rendered for this caller, never cached


def test_wmts_capabilities_list_only_what_may_be_discovered(secured, principals):
    anonymous = secured.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities").data
    admin = secured.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities", headers=principals["admin"]).data
    assert b"<ows:Identifier>hidden</ows:Identifier>" not in anonymous
    assert b"<ows:Identifier>hidden</ows:Identifier>" in admin


def catalog_outcome(r) -> str:
    if r.status_code == 200:
        return "ok"
    return "hidden" if r.status_code == 404 else str(r.status_code)


# the catalog API: query needs "query", an original file needs "download" (admins only here)
CATALOG_QUERY = {
    "public": {"anonymous": "ok", "viewer": "ok", "analyst": "ok", "token": "ok", "admin": "ok"},
    "secret": {"anonymous": "hidden", "viewer": "403", "analyst": "ok", "token": "ok", "admin": "ok"},
    "hidden": {"anonymous": "hidden", "viewer": "hidden", "analyst": "hidden", "token": "hidden", "admin": "ok"},
    "teaser": {"anonymous": "401", "viewer": "403", "analyst": "403", "token": "403", "admin": "ok"},
}
DOWNLOAD = {
    "public": {"anonymous": "401", "viewer": "403", "analyst": "403", "token": "403", "admin": "ok"},
    "secret": {"anonymous": "hidden", "viewer": "403", "analyst": "403", "token": "403", "admin": "ok"},
    "hidden": {"anonymous": "hidden", "viewer": "hidden", "analyst": "hidden", "token": "hidden", "admin": "ok"},
    "teaser": {"anonymous": "401", "viewer": "403", "analyst": "403", "token": "403", "admin": "ok"},
}


@pytest.mark.parametrize("operation", ["search", "item", "download"])
@pytest.mark.parametrize("layer", list(CATALOG_QUERY))
def test_catalog_access_matrix(secured, principals, operation, layer):
    url = {"search": f"/catalog/{layer}/items", "item": f"/catalog/{layer}/items/tile_0",
           "download": f"/catalog/{layer}/items/tile_0/download"}[operation]
    table = DOWNLOAD if operation == "download" else CATALOG_QUERY
    for who, headers in principals.items():
        got = catalog_outcome(secured.get(url, headers=headers))
        expected = "401" if who in BAD else table[layer][who]
        assert got == expected, (operation, layer, who)
        if got == "401":
            assert secured.get(url, headers=headers).headers.get("WWW-Authenticate")
    hidden = secured.get(f"/catalog/{layer}/items").data.replace(layer.encode(), b"X")
    missing = secured.get("/catalog/nosuch/items").data.replace(b"nosuch", b"X")
    if layer in ("secret", "hidden"):
        assert hidden == missing  # no existence leak


@pytest.fixture(scope="module")
def licensed(data_dir, tmp_path_factory):
    """A collection whose items carry a licence; anonymous grants see only the open ones."""
    from ogcserver.cli import main

    folder = tmp_path_factory.mktemp("licensed")
    (folder / "meta.csv").write_text("path,licence\nold.tif,open\nnew.tif,restricted\n")
    config = {
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "services": [{"name": "s", "allow_download": True, "layers": [{"name": "lic", "collection": "lic"}]}],
        "access": {
            "api_keys": [{"name": "admin-key", "key_sha256": hashlib.sha256(b"s3cret-key").hexdigest(), "groups": ["admins"]}],
            "grants": [
                {"to": "anonymous", "service": "s", "actions": ["discover", "view", "query"], "items": {"licence": ["open"]}},
                {"to": "group:admins", "service": "s", "actions": ["discover", "view", "query", "download"]},
            ],
        },
    }
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["catalog", "add", "lic", str(data_dir / "order"), "--metadata", str(folder / "meta.csv"),
                 "-c", str(path)]) == 0
    return create_app(load_settings(path)).test_client()


def test_item_filter_grants_hold_for_maps_tiles_and_the_catalog(licensed):
    admin = {"X-API-Key": "s3cret-key"}
    overlap = f"{X0 + 1000},{Y0 - 2000},{X0 + 2000},{Y0 - 1000}"
    query = params(LAYERS="lic", CRS="EPSG:32632", BBOX=overlap, WIDTH=10, HEIGHT=10)
    assert (decode(licensed.get("/wms", query_string=query, headers=admin).data) == 200).all()  # restricted on top
    assert (decode(licensed.get("/wms", query_string=query).data) == 100).all()                 # only the open one
    listed = licensed.get("/catalog/lic/items").get_json()["features"]
    assert [f["id"] for f in listed] == ["old"]
    assert len(licensed.get("/catalog/lic/items", headers=admin).get_json()["features"]) == 2
    assert licensed.get("/catalog/lic/items/new").status_code == 404  # as if it did not exist
    assert licensed.get("/catalog/lic/items/new", headers=admin).status_code == 200
    assert licensed.get("/catalog/lic/items/old/download").status_code == 401
    assert licensed.get("/catalog/lic/items/old/download", headers=admin).status_code == 200
    # a tile the admin filled into the cache is not what anonymous gets
    from tests.support.tiles import tile_at

    x, y = tile_at(16, 1500, 1500)
    url = f"/tiles/lic/WebMercatorQuad/16/{x}/{y}.png"
    as_admin = licensed.get(url, headers=admin)
    as_anonymous = licensed.get(url)
    assert as_admin.status_code == as_anonymous.status_code == 200
    assert 200 in decode(as_admin.data)[..., 0] and 200 not in decode(as_anonymous.data)[..., 0]


# -- the whole matrix: every operation of every protocol x principal x layer ----------------------
GRANTED = {  # layer -> principal -> actions (d discover, v view, q query, w download)
    "public": {"anonymous": "dvq", "viewer": "dvq", "analyst": "dvq", "token": "dvq", "admin": "dvqw"},
    "secret": {"anonymous": "", "viewer": "dv", "analyst": "dvq", "token": "dvq", "admin": "dvqw"},
    "hidden": {"anonymous": "", "viewer": "", "analyst": "", "token": "", "admin": "dvqw"},
    "teaser": {"anonymous": "d", "viewer": "dv", "analyst": "dv", "token": "dv", "admin": "dvqw"},
}
WCS20 = {"SERVICE": "WCS", "VERSION": "2.0.1"}
WMTS_TILE = {"SERVICE": "WMTS", "VERSION": "1.0.0", "REQUEST": "GetTile", "STYLE": "default", "TILEMATRIX": "1",
             "TILEROW": "0", "TILECOL": "0", "FORMAT": "image/png"}
OPERATIONS = {  # name -> (action needed, (path, query) for a layer)
    "WMS GetCapabilities": ("d", lambda n: ("/wms", {"SERVICE": "WMS", "REQUEST": "GetCapabilities"})),
    "WMS GetMap": ("v", lambda n: ("/wms", params(LAYERS=n, CRS="EPSG:32632", BBOX=BOX, WIDTH=20, HEIGHT=20))),
    "WMS GetFeatureInfo": ("q", lambda n: ("/wms", {**params(LAYERS=n, CRS="EPSG:32632", BBOX=BOX, WIDTH=20, HEIGHT=20),
                                                     "REQUEST": "GetFeatureInfo", "QUERY_LAYERS": n, "I": 5, "J": 5})),
    "WMS GetLegendGraphic": ("v", lambda n: ("/wms", {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic",
                                                       "LAYER": n, "FORMAT": "image/png"})),
    "WCS GetCapabilities": ("d", lambda n: ("/wcs", {**WCS20, "REQUEST": "GetCapabilities"})),
    "WCS DescribeCoverage": ("d", lambda n: ("/wcs", {**WCS20, "REQUEST": "DescribeCoverage", "COVERAGEID": n})),
    "WCS GetCoverage": ("w", lambda n: ("/wcs", {**WCS20, "REQUEST": "GetCoverage", "COVERAGEID": n,
                                                  "FORMAT": "image/tiff"})),
    "WMTS GetCapabilities": ("d", lambda n: ("/wmts", {"SERVICE": "WMTS", "REQUEST": "GetCapabilities"})),
    "WMTS GetTile": ("v", lambda n: ("/wmts", {**WMTS_TILE, "LAYER": n, "TILEMATRIXSET": f"{n}_native"})),
    "WMTS GetFeatureInfo": ("q", lambda n: ("/wmts", {**WMTS_TILE, "REQUEST": "GetFeatureInfo", "LAYER": n,
                                                       "TILEMATRIXSET": f"{n}_native", "I": "3", "J": "3",
                                                       "INFOFORMAT": "application/json"})),
    "XYZ tile": ("v", lambda n: (f"/tiles/{n}/{n}_native/1/0/0.png", {})),
    "KML": ("v", lambda n: (f"/kml/{n}.kml", {})),
    "catalog query": ("q", lambda n: (f"/catalog/{n}/items", {})),
    "item download": ("w", lambda n: (f"/catalog/{n}/items/tile_0/download", {})),
}
LISTED = {"WMS GetCapabilities": b"<Name>{}</Name>", "WCS GetCapabilities": b"<wcs:CoverageId>{}</wcs:CoverageId>",
          "WMTS GetCapabilities": b"<ows:Identifier>{}</ows:Identifier>"}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_operation_of_every_protocol(secured, principals, operation):
    """Each outcome follows from the grants alone: a layer the caller may not discover answers
    byte for byte like one that does not exist; one it may discover but not use answers 401
    (anonymous or bad credentials, with a challenge) or 403."""
    action, request_for = OPERATIONS[operation]
    for layer, grants in GRANTED.items():
        path, query = request_for(layer)
        for who, headers in principals.items():
            if who in BAD and layer != "public":
                continue  # bad credentials fail before any layer is looked at (checked once)
            r = secured.get(path, query_string=query, headers=headers)
            where = (operation, layer, who)
            if who in BAD:
                assert r.status_code == 401 and r.headers.get("WWW-Authenticate"), where
                continue
            allowed = grants[who]
            if operation in LISTED:
                assert r.status_code == 200, where
                assert (LISTED[operation].replace(b"{}", layer.encode()) in r.data) == ("d" in allowed), where
            elif "d" not in allowed:
                missing_path, missing_query = request_for("nosuch")
                missing = secured.get(missing_path, query_string=missing_query, headers=headers)
                assert r.status_code == missing.status_code and r.status_code >= 400, where
                assert r.data.replace(layer.encode(), b"X") == missing.data.replace(b"nosuch", b"X"), where
            elif action in allowed:
                assert r.status_code == 200, (where, r.data[:200])
            else:
                assert r.status_code == (401 if who == "anonymous" else 403), (where, r.status_code, r.data[:200])
