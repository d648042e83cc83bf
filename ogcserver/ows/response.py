"""What an OGC handler returns: bytes, a content type and a status, free of any web framework."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace


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
    error_code: str | None = None          # the OGC exception code of an exception report


SKIPPED_HEADER = "X-Ogcserver-Skipped-Items"


def with_skipped(response: OwsResponse, skipped: int) -> OwsResponse:
    """The response saying how many unreadable mosaic items were left out of it (if any)."""
    if not skipped:
        return response
    return replace(response, headers={**response.headers, SKIPPED_HEADER: str(skipped)})
