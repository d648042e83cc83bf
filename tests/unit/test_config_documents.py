"""Configuration documents: parsed as plain data within bounds, secrets redacted by their type,
and the server-wide "admin" grant validated."""

from __future__ import annotations

import json
import re
import tracemalloc
import typing

import pytest
from pydantic import BaseModel

from ogcserver.core.access import Policy
from ogcserver.model.access import ANONYMOUS, Principal
from ogcserver.model.redaction import REDACTED, redacted, secret_marker
from ogcserver.model.safe_yaml import DocumentBounds, DocumentRefused, parse_document
from ogcserver.settings import ConfigError, Settings, load_settings

# nine levels of nine aliases each: 9^9 (387 million) strings once expanded, 300-odd bytes as text
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def test_plain_yaml_and_json_with_anchors_are_read():
    text = "base: &b {k: 1}\nother: *b\nmerged: {<<: *b, z: 2}\nlist: [1, 2.5, x, null, true]\n"
    assert parse_document(text) == {"base": {"k": 1}, "other": {"k": 1}, "merged": {"k": 1, "z": 2},
                                    "list": [1, 2.5, "x", None, True]}
    assert parse_document(json.dumps({"a": [1, {"b": "c"}]})) == {"a": [1, {"b": "c"}]}


def test_an_alias_bomb_is_refused_before_it_is_expanded():
    tracemalloc.start()
    try:
        with pytest.raises(DocumentRefused, match="expands to more than 100000 values"):
            parse_document(BILLION_LAUGHS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_aliases_are_counted_at_their_expanded_size():
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    parse_document(text, DocumentBounds(max_nodes=200))  # 1 + 2 + 10 + 2 + 12 * 10 = 135 values
    with pytest.raises(DocumentRefused):
        parse_document(text, DocumentBounds(max_nodes=100))


@pytest.mark.parametrize("text", [
    '!!python/object/apply:os.system ["touch pwned"]',
    "a: !!python/name:os.system ''",
    "a: !!python/object:collections.OrderedDict {}",
])
def test_python_tags_are_refused_and_nothing_runs(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DocumentRefused, match="only plain data"):
        parse_document(text)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("text", ["[" * 100_000, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 200)),
                                  '{"a": ' * 5000 + "1" + "}" * 5000])
def test_deep_nesting_is_refused(text):
    with pytest.raises(DocumentRefused, match="nested deeper than 64|not valid YAML"):
        parse_document(text)


def test_a_config_file_with_an_alias_bomb_names_the_file(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS.replace("a: &a", "services: []\na: &a"))
    with pytest.raises(ConfigError, match=r"bomb\.yaml: the document expands"):
        load_settings(path)


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for kind in _types(field.annotation):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                _models(kind, seen)


def _types(annotation: object) -> list:
    args = typing.get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _types(a)]


SECRET_NAME = re.compile(r"password|secret|token|credential|dsn|(^|_)key($|_)|passphrase|jwks_url", re.IGNORECASE)
NOT_SECRET = {"CorsConfig.credentials_origins"}  # named for the CORS credentials mode: origins, public


def test_every_field_named_like_a_secret_is_declared_secret():
    """A secret field added later without its marker fails here, before it could be shown."""
    models: set[type[BaseModel]] = set()
    _models(Settings, models)
    assert len(models) > 10
    unmarked = [f"{m.__name__}.{name}" for m in models for name in m.model_fields
                if SECRET_NAME.search(name) and secret_marker(m, name) is None]
    assert sorted(set(unmarked) - NOT_SECRET) == []


def test_redaction_leaves_no_secret_value(tmp_path):
    secrets = {"hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$UNIQUEHASHVALUE",
               "digest": "9f" * 32, "dbpass": "s3cr3t-db", "urlpass": "jwks-pw-42", "uripass": "uri-pw-7",
               "s3key": "AKIAEXAMPLEKEY42", "s3secret": "s3-secret-value-9", "s3token": "s3-session-token-3"}
    settings = Settings.model_validate({
        "services": [{"name": "s", "layers": [{"name": "a", "source": str(tmp_path)}]}],
        "catalog": {"backend": "postgis", "dsn": f"host=db user=ogc password='{secrets['dbpass']}' dbname=x"},
        "access": {
            "users": [{"name": "ann", "password_hash": secrets["hash"]}],
            "api_keys": [{"name": "seeder", "key_sha256": secrets["digest"]}],
            "jwt": {"issuer": "i", "audience": "a", "jwks_url": f"https://idp:{secrets['urlpass']}@idp.example/jwks"},
            "grants": [{"to": "group:admins", "actions": ["admin"]}],
        },
        "storage": {"s3": {"access_key_id": secrets["s3key"], "secret_access_key": secrets["s3secret"],
                           "session_token": secrets["s3token"]}},
    })
    shown = json.dumps(redacted(settings))
    for value in secrets.values():
        if value != secrets["uripass"]:
            assert value not in shown
    assert shown.count(REDACTED) == 7
    assert "host=db user=ogc password=<redacted> dbname=x" in shown  # the rest of the DSN stays readable
    uri = settings.catalog.model_copy(update={"dsn": f"postgresql://ogc:{secrets['uripass']}@db:5432/x"})
    assert redacted(uri)["dsn"] == "postgresql://ogc:<redacted>@db:5432/x"


def _grant_settings(tmp_path, **grant) -> Settings:
    return Settings.model_validate({"services": [{"name": "s", "layers": [{"name": "a", "source": str(tmp_path)}]}],
                                    "access": {"grants": [grant]}})


@pytest.mark.parametrize("grant, message", [
    ({"to": "group:admins", "service": "s", "actions": ["admin"]}, "granted alone and server-wide"),
    ({"to": "group:admins", "actions": ["admin", "view"]}, "granted alone and server-wide"),
    ({"to": "anonymous", "actions": ["admin"]}, "cannot be granted to anonymous"),
    ({"to": "authenticated", "actions": ["admin"]}, "cannot be granted to authenticated"),
    ({"to": "user:ann", "actions": ["admin"], "max_resolution": 2}, "takes no area"),
    ({"to": "user:ann", "actions": ["view"]}, "a grant needs a 'service'"),
])
def test_admin_grants_are_validated(tmp_path, grant, message):
    with pytest.raises(ValueError, match=message):
        _grant_settings(tmp_path, **grant)


def test_only_an_admin_grant_makes_an_administrator(tmp_path):
    policy = Policy(_grant_settings(tmp_path, to="group:admins", actions=["admin"]).access)
    assert policy.may_administer(Principal("ann", "user", frozenset({"admins"})))
    assert not policy.may_administer(Principal("bob", "user", frozenset({"analysts"})))
    assert not policy.may_administer(ANONYMOUS)
    assert not Policy(None).may_administer(Principal("ann", "user", frozenset({"admins"})))  # open server
