"""Where a request arrived: the public URL to write into documents and the service scope."""

from __future__ import annotations

from dataclasses import dataclass

from ogcserver.model.access import ANONYMOUS, Principal


@dataclass(frozen=True)
class Endpoint:
    url: str                 # public URL of this endpoint, without query string
    service: str | None      # a configured service's name, or None for the all-services endpoint
    base_url: str = ""       # public root of the server, for links to other endpoints
    principal: Principal = ANONYMOUS  # who is calling, as the web layer authenticated them
