"""What an OGC handler returns: bytes, a content type and a status, free of any web framework."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OwsResponse:
    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
