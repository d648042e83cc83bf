"""Who is calling: HTTP Basic, API keys, bearer JWTs, a trusted proxy's header, or anonymous.

Wrong, expired or forged credentials are refused (401), never treated as anonymous. Passwords
are checked against argon2 or bcrypt hashes; a verified pair is remembered briefly so a client
sending Basic credentials with every tile does not pay a slow hash each time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import threading
import time
from collections.abc import Mapping

import bcrypt
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ogcserver.model.access import ANONYMOUS, AuthenticationFailed, Principal
from ogcserver.settings import AccessConfig, ApiKeyConfig, JwtConfig, UserConfig

API_KEY_PARAMS = ("apikey", "api_key", "key")
VERIFIED_TTL = 300.0
_argon2 = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash for the users file (``ogcserver hash-password``)."""
    return _argon2.hash(password)


def _password_ok(user: UserConfig, password: str) -> bool:
    if user.password_hash.startswith("$argon2"):
        try:
            return _argon2.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    try:
        return bcrypt.checkpw(password.encode(), user.password_hash.encode())
    except ValueError:
        return False


class Authenticator:
    def __init__(self, access: AccessConfig | None) -> None:
        self.access = access
        self.users = {u.name: u for u in access.users} if access else {}
        self.keys: tuple[ApiKeyConfig, ...] = access.api_keys if access else ()
        self.jwt: JwtConfig | None = access.jwt if access else None
        self.proxies = (
            [ipaddress.ip_network(n, strict=False) for n in access.proxy.trusted] if access and access.proxy else []
        )
        self._verified: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._jwks = self._load_jwks() if self.jwt else None

    def challenges(self) -> list[str]:
        realm = self.access.realm if self.access else "ogcserver"
        out = [f'Basic realm="{realm}", charset="UTF-8"'] if self.users else []
        if self.jwt:
            out.append(f'Bearer realm="{realm}"')
        return out or [f'Basic realm="{realm}"']

    def authenticate(self, headers: Mapping[str, str], args: Mapping[str, str], remote: str | None) -> Principal:
        if self.access is None:
            return ANONYMOUS
        auth = headers.get("Authorization", "")
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() == "basic" and self.users:
            return self._basic(credentials.strip())
        if scheme.lower() == "bearer" and self.jwt:
            return self._bearer(credentials.strip())
        key = headers.get("X-API-Key") or next(
            (v for k, v in args.items() if k.lower() in API_KEY_PARAMS and v), None
        )
        if key and self.keys:
            return self._api_key(key)
        proxy = self.access.proxy
        if proxy and remote and self._trusted(remote) and headers.get(proxy.user_header):
            groups = frozenset(g.strip() for g in headers.get(proxy.groups_header, "").split(",") if g.strip())
            return Principal(headers[proxy.user_header].strip()[:128], "proxy", groups)
        if auth:
            raise AuthenticationFailed("unsupported authorization scheme", "Basic")
        return ANONYMOUS

    def _trusted(self, remote: str) -> bool:
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        return any(address in net for net in self.proxies)

    def _basic(self, credentials: str) -> Principal:
        try:
            name, _, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise AuthenticationFailed("malformed Basic credentials", "Basic") from None
        user = self.users.get(name)
        if user is None:
            _argon2.hash(password)  # same cost as a real check: no user-name oracle by timing
            raise AuthenticationFailed("wrong user name or password", "Basic")
        token = hashlib.sha256(f"{name}\0{password}\0{user.password_hash}".encode()).digest()
        now = time.monotonic()
        with self._lock:
            fresh = self._verified.get(token, 0.0) > now
        if not fresh:
            if not _password_ok(user, password):
                raise AuthenticationFailed("wrong user name or password", "Basic")
            with self._lock:
                if len(self._verified) > 10_000:
                    self._verified.clear()
                self._verified[token] = now + VERIFIED_TTL
        return Principal(user.name, "user", frozenset(user.groups))

    def _api_key(self, key: str) -> Principal:
        digest = hashlib.sha256(key.encode()).hexdigest()
        for entry in self.keys:
            if hmac.compare_digest(digest, entry.key_sha256):
                return Principal(entry.name, "key", frozenset(entry.groups))
        raise AuthenticationFailed("unknown API key", "Basic")

    def _load_jwks(self) -> jwt.PyJWKSet | jwt.PyJWKClient:
        assert self.jwt is not None
        if self.jwt.jwks_file is not None:
            return jwt.PyJWKSet.from_dict(json.loads(self.jwt.jwks_file.read_text(encoding="utf-8")))
        return jwt.PyJWKClient(self.jwt.jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def _signing_key(self, token: str):  # noqa: ANN202 - a PyJWK
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in self.jwt.algorithms:
            raise jwt.InvalidAlgorithmError("algorithm not allowed")
        if isinstance(self._jwks, jwt.PyJWKClient):
            return self._jwks.get_signing_key_from_jwt(token)
        kid = header.get("kid")
        for key in self._jwks.keys:
            if kid is None or key.key_id == kid:
                return key
        raise jwt.InvalidKeyError("no key for this token")

    def _bearer(self, token: str) -> Principal:
        assert self.jwt is not None
        try:
            key = self._signing_key(token)
            claims = jwt.decode(
                token, key=key.key, algorithms=list(self.jwt.algorithms), audience=self.jwt.audience,
                issuer=self.jwt.issuer, leeway=self.jwt.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, KeyError):
            raise AuthenticationFailed("invalid or expired token", "Bearer") from None
        groups = claims.get(self.jwt.groups_claim) or []
        if isinstance(groups, str):
            groups = groups.split()
        name = str(claims.get(self.jwt.user_claim, ""))[:128]
        if not name:
            raise AuthenticationFailed("the token names no user", "Bearer")
        return Principal(name, "token", frozenset(str(g) for g in groups))
