"""Who is calling: HTTP Basic, API keys, bearer JWTs, a trusted proxy's header, or anonymous.

Wrong, expired or forged credentials are refused (401), never treated as anonymous. Passwords
are checked against argon2 or bcrypt hashes; a verified pair is remembered briefly so a client
sending Basic credentials with every tile does not pay a slow hash each time.

Password checks are the one costly step a stranger can trigger, so they are bounded: an
address with too many recent failures is refused (429) before any hash, and only a few hashes
run at once per worker process (others wait briefly, then 503). An unknown user name costs one
check against a dummy hash and gets the same answer as a wrong password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import bcrypt
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ogcserver.model.access import ANONYMOUS, AuthenticationFailed, Principal
from ogcserver.settings import AccessConfig, ApiKeyConfig, JwtConfig, LoginLimits, UserConfig
from ogcserver.web.proxies import AddressList
from ogcserver.web.ratelimit import FailedAttempts

API_KEY_PARAMS = ("apikey", "api_key", "key")
VERIFIED_TTL = 300.0
T = TypeVar("T")
_argon2 = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash for the users file (``ogcserver hash-password``)."""
    return _argon2.hash(password)


def _argon2_ok(password_hash: str, password: str) -> bool:
    try:
        return _argon2.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _password_ok(user: UserConfig, password: str) -> bool:
    if user.password_hash.startswith("$argon2"):
        return _argon2_ok(user.password_hash, password)
    try:
        return bcrypt.checkpw(password.encode(), user.password_hash.encode())
    except ValueError:
        return False


class AuthenticationThrottled(Exception):
    """Credentials were not checked: the address failed too often (429) or the server is busy
    hashing other passwords (503). ``retry_after`` is in seconds."""

    def __init__(self, status: int, retry_after: float) -> None:
        super().__init__(f"authentication refused ({status})")
        self.status = status
        self.retry_after = retry_after


class Authenticator:
    def __init__(self, access: AccessConfig | None) -> None:
        self.access = access
        self.users = {u.name: u for u in access.users} if access else {}
        self.keys: tuple[ApiKeyConfig, ...] = access.api_keys if access else ()
        self.jwt: JwtConfig | None = access.jwt if access else None
        self.proxies = AddressList(access.proxy.trusted if access and access.proxy else ())
        login = access.login if access else LoginLimits()
        self.login = login
        self.failures = FailedAttempts(login.failures_per_address, login.failure_window_seconds)
        self._hashing = threading.BoundedSemaphore(login.concurrent_hashes)
        # an unknown user is checked against this, so it costs what a known user's check costs
        self._dummy_hash = _argon2.hash(secrets.token_urlsafe(16)) if self.users else ""
        self._verified: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._jwks = self._load_jwks() if self.jwt else None

    def challenges(self) -> list[str]:
        realm = self.access.realm if self.access else "ogcserver"
        out = [f'Basic realm="{realm}", charset="UTF-8"'] if self.users else []
        if self.jwt:
            out.append(f'Bearer realm="{realm}"')
        return out or [f'Basic realm="{realm}"']

    def authenticate(self, headers: Mapping[str, str], args: Mapping[str, str], remote: str | None,
                     client: str | None = None) -> Principal:
        """The caller; ``remote`` is the connection's address, ``client`` the caller's address
        behind trusted proxies (failed attempts are counted against it)."""
        if self.access is None:
            return ANONYMOUS
        client = client if client is not None else remote or ""
        auth = headers.get("Authorization", "")
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() == "basic" and self.users:
            return self._basic(credentials.strip(), client)
        if scheme.lower() == "bearer" and self.jwt:
            return self._attempt(client, lambda: self._bearer(credentials.strip()))
        key = headers.get("X-API-Key") or next(
            (v for k, v in args.items() if k.lower() in API_KEY_PARAMS and v), None
        )
        if key and self.keys:
            return self._attempt(client, lambda: self._api_key(key))
        proxy = self.access.proxy
        if proxy and self.proxies.contains(remote) and headers.get(proxy.user_header):
            groups = frozenset(g.strip() for g in headers.get(proxy.groups_header, "").split(",") if g.strip())
            return Principal(headers[proxy.user_header].strip()[:128], "proxy", groups)
        if auth:
            raise AuthenticationFailed("unsupported authorization scheme", "Basic")
        return ANONYMOUS

    def _attempt(self, client: str, check: Callable[[], T]) -> T:
        """Run a credential check unless ``client`` failed too often; count its failure."""
        wait = self.failures.retry_after(client)
        if wait is not None:
            raise AuthenticationThrottled(429, wait)
        try:
            return check()
        except AuthenticationFailed:
            self.failures.failed(client)
            raise

    def _basic(self, credentials: str, client: str) -> Principal:
        try:
            name, _, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise AuthenticationFailed("malformed Basic credentials", "Basic") from None
        user = self.users.get(name)
        token = hashlib.sha256(f"{name}\0{password}\0{user.password_hash if user else ''}".encode()).digest()
        with self._lock:
            fresh = user is not None and self._verified.get(token, 0.0) > time.monotonic()
        if not fresh:
            self._attempt(client, lambda: self._check_password(user, password))
            with self._lock:
                if len(self._verified) > 10_000:
                    self._verified.clear()
                self._verified[token] = time.monotonic() + VERIFIED_TTL
        return Principal(user.name, "user", frozenset(user.groups))

    def _check_password(self, user: UserConfig | None, password: str) -> None:
        """One hash, in a bounded number of slots; an unknown user pays it against a dummy."""
        if not self._hashing.acquire(timeout=self.login.hash_wait_seconds):
            raise AuthenticationThrottled(503, 1.0)
        try:
            if user is None:
                _argon2_ok(self._dummy_hash, password)
                ok = False
            else:
                ok = _password_ok(user, password)
        finally:
            self._hashing.release()
        if not ok:
            raise AuthenticationFailed("wrong user name or password", "Basic")

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
