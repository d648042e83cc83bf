"""The public root URL that documents link to (capabilities, TileJSON, KML, catalog links).

Never taken from the client's ``Host`` header, which anyone can forge to plant their own host in
documents that caches and other users then receive. In order: ``server.public_url``; the
``X-Forwarded-Proto/-Host/-Prefix`` headers of a trusted proxy; the configured ``server.host``
and ``server.port`` (as configured, so a server bound to 0.0.0.0 needs ``public_url``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ogcserver.settings import ServerConfig
from ogcserver.web.proxies import AddressList

SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:\d{1,5})?$")
SAFE_PREFIX = re.compile(r"^(/[A-Za-z0-9._\-]+)*$")


def configured_root(server: ServerConfig) -> str:
    """``http://host:port`` from the configuration (IPv6 literals in brackets)."""
    host = server.host
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{server.port}"


def public_root(server: ServerConfig, proxies: AddressList, headers: Mapping[str, str], remote: str | None) -> str:
    if server.public_url:
        return server.public_url.rstrip("/")
    forwarded = (headers.get("X-Forwarded-Host") or "").split(",")[0].strip()
    if forwarded and proxies.contains(remote):
        proto = (headers.get("X-Forwarded-Proto") or "https").split(",")[0].strip()
        prefix = (headers.get("X-Forwarded-Prefix") or "").rstrip("/")
        if proto in ("http", "https") and SAFE_HOST.match(forwarded) and SAFE_PREFIX.match(prefix):
            return f"{proto}://{forwarded}{prefix}"
    return configured_root(server)
