"""Who is asking, what they may do, and within which limits."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from ogcserver.model.errors import OgcServerError


class Action(str, enum.Enum):
    DISCOVER = "discover"  # see that a layer exists (capabilities, landing page)
    VIEW = "view"          # maps, legends
    QUERY = "query"        # feature info, catalog, samples
    DOWNLOAD = "download"  # coverages and original files
    PROCESS = "process"    # custom processing chains
    ADMIN = "admin"        # the server's configuration, caches and jobs (server-wide, never a layer's)


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str  # "anonymous", "user", "key", "token" or "proxy"
    groups: frozenset[str] = frozenset()

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"


ANONYMOUS = Principal("anonymous", "anonymous")


@dataclass(frozen=True)
class Constraints:
    """Limits a grant puts on an action; empty means none."""

    area: tuple[tuple[tuple[float, float], ...], ...] | None = None  # polygon rings, lon/lat
    max_resolution: float | None = None  # finest pixel size, in the layer's CRS units
    time: tuple[datetime, datetime] | None = None  # items acquired in this window only
    items: dict[str, tuple[str, ...]] = field(default_factory=dict)  # attribute -> allowed values

    @property
    def unconstrained(self) -> bool:
        return self.area is None and self.max_resolution is None and self.time is None and not self.items


UNCONSTRAINED = Constraints()


class AccessDenied(OgcServerError):
    """The caller may see the layer but not do this with it (401 or 403 at the edge)."""

    def __init__(self, message: str, authenticated: bool) -> None:
        super().__init__(message)
        self.authenticated = authenticated


class AuthenticationFailed(OgcServerError):
    """Credentials were given and are wrong, expired or forged."""

    def __init__(self, message: str, scheme: str) -> None:
        super().__init__(message)
        self.scheme = scheme
