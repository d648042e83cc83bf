"""What an OGC handler returns: bytes, a content type and a status, free of any web framework."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Freshness:
    """What HTTP caching needs to know about a response (the web layer writes the headers)."""

    etag: str
    modified: float  # seconds since the epoch; 0 when unknown
    max_age: int


@dataclass(frozen=True)
class OwsResponse:
    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    freshness: Freshness | None = None
    stream: Iterator[bytes] | None = None  # large bodies, sent piece by piece instead of ``body``
    length: int | None = None              # of the streamed body, when known
