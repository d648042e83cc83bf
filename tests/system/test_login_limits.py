"""Password checks are bounded work: failures limited per address before any hash, a few hashes
at a time, the same answer (and the same hashing work) for unknown and known users, and no key
in the access log whatever form its parameter name takes."""

from __future__ import annotations

import base64
import hashlib
import threading

import pytest
import yaml
from argon2 import PasswordHasher

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from ogcserver.web.auth import hash_password
from ogcserver.web.ratelimit import FailedAttempts

KEY = "k3y-Visible-If-Leaked"
WMS_CAPS = "/wms?SERVICE=WMS&REQUEST=GetCapabilities"


def secured_client(data_dir, folder, **login):
    config = {
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0, "trusted_proxies": ["10.0.0.1/32"]},
        "services": [{"name": "s", "layers": [{"name": "public", "source": str(data_dir / "tiles" / "tile_0.tif")}]}],
        "access": {
            "users": [{"name": "ann", "password_hash": hash_password("right"), "groups": ["g"]}],
            "api_keys": [{"name": "robot", "key_sha256": hashlib.sha256(KEY.encode()).hexdigest()}],
            "login": {"failures_per_address": 3, "failure_window_seconds": 600, **login},
            "grants": [{"to": "anonymous", "service": "s", "actions": ["discover", "view"]}],
        },
    }
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    return create_app(load_settings(path)).test_client()


@pytest.fixture()
def client(data_dir, tmp_path):
    return secured_client(data_dir, tmp_path)


@pytest.fixture()
def hashes(monkeypatch):
    """Counts argon2 verifications, the costly step."""
    calls = []
    original = PasswordHasher.verify

    def counting(self, hash_, password):
        calls.append(hash_)
        return original(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return calls


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def get(client, headers, address="192.0.2.1", **extra):
    return client.get(WMS_CAPS, headers=headers, environ_base={"REMOTE_ADDR": address}, **extra)


def test_unknown_and_known_users_get_the_same_answer_for_the_same_work(client, hashes):
    known = get(client, basic("ann", "wrong"), "192.0.2.1")
    assert len(hashes) == 1
    unknown = get(client, basic("nobody", "wrong"), "192.0.2.2")
    assert len(hashes) == 2  # a dummy hash, not free
    assert known.status_code == unknown.status_code == 401
    assert known.data == unknown.data
    assert known.headers.getlist("WWW-Authenticate") == unknown.headers.getlist("WWW-Authenticate")


@pytest.mark.parametrize("user", ["ann", "nobody"])
def test_an_address_that_keeps_failing_is_refused_before_hashing(client, hashes, user):
    assert [get(client, basic(user, "guess")).status_code for _ in range(3)] == [401] * 3
    before = len(hashes)
    refused = get(client, basic(user, "guess"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert b"ServiceException" in refused.data or b"ExceptionReport" in refused.data
    assert get(client, basic("ann", "right")).status_code == 429  # even the right password: not checked
    assert len(hashes) == before
    assert get(client, basic("ann", "right"), "192.0.2.9").status_code == 200  # other addresses are not affected
    assert get(client, {}).status_code == 200  # anonymous requests from the address still served


def test_known_and_unknown_users_exhaust_the_limit_alike(client):
    for user in ("ann", "nobody"):
        codes = [get(client, basic(user, "guess"), f"192.0.2.{len(user)}").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429], user


def test_remembered_credentials_keep_working_during_a_lockout(client, hashes):
    assert get(client, basic("ann", "right")).status_code == 200
    for _ in range(3):
        get(client, basic("ann", "guess"))
    assert get(client, basic("ann", "guess")).status_code == 429
    before = len(hashes)
    assert get(client, basic("ann", "right")).status_code == 200
    assert len(hashes) == before


def test_wrong_api_keys_count_as_failures(client):
    codes = [get(client, {"X-API-Key": f"guess{i}"}).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]


def test_failures_are_counted_per_client_behind_a_trusted_proxy(client):
    def via_proxy(client_ip, proxy="10.0.0.1"):
        return get(client, {**basic("ann", "guess"), "X-Forwarded-For": f"203.0.113.50, {client_ip}"}, proxy)

    assert [via_proxy("198.51.100.7").status_code for _ in range(4)] == [401, 401, 401, 429]
    assert via_proxy("198.51.100.8").status_code == 401  # another client behind the same proxy
    # from an untrusted address the header is the caller's own claim: counted against the address
    assert [via_proxy(f"198.51.100.{i}", "192.0.2.77").status_code for i in range(20, 24)] == [401, 401, 401, 429]


def test_hashes_beyond_the_cap_wait_briefly_then_get_503(data_dir, tmp_path, monkeypatch):
    client = secured_client(data_dir, tmp_path, concurrent_hashes=1, hash_wait_seconds=0.05)
    entered, release = threading.Event(), threading.Event()
    original = PasswordHasher.verify

    def held(self, hash_, password):
        entered.set()
        release.wait(30)
        return original(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", held)
    first: list = []
    worker = threading.Thread(target=lambda: first.append(get(client, basic("ann", "right"), "192.0.2.1")))
    worker.start()
    try:
        assert entered.wait(30)
        busy = get(client, basic("nobody", "x"), "192.0.2.2")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    finally:
        release.set()
        worker.join(30)
    assert first[0].status_code == 200
    assert get(client, basic("ann", "wrong"), "192.0.2.3").status_code == 401  # the slot is free again


def test_failed_attempts_expire_after_the_window():
    now = [1000.0]
    failures = FailedAttempts(limit=2, window=60.0, clock=lambda: now[0])
    failures.failed("a")
    failures.failed("a")
    assert failures.retry_after("a") == pytest.approx(60.0)
    now[0] += 45
    assert failures.retry_after("a") == pytest.approx(15.0)
    now[0] += 15
    assert failures.retry_after("a") is None


def test_failed_attempts_remember_a_bounded_number_of_addresses():
    failures = FailedAttempts(limit=1, window=60.0, max_addresses=100)
    for i in range(1000):
        failures.failed(f"a{i}")
    assert len(failures._failures) == 100
    assert failures.retry_after("a999") is not None and failures.retry_after("a0") is None


@pytest.mark.parametrize("name", ["apikey", "api%6Bey", "API%5FKEY", "%6B%65%79"])
def test_an_encoded_key_name_authenticates_and_is_not_logged(client, caplog, name):
    caplog.set_level("INFO", logger="ogcserver.access")
    r = client.get(f"{WMS_CAPS}&{name}={KEY}&LAYERS=x")
    assert r.status_code == 200
    record = next(r for r in caplog.records if r.name == "ogcserver.access")
    assert record.principal == "robot"
    assert KEY not in caplog.text and "REDACTED" in record.query and "LAYERS=x" in record.query
