"""Typed WCS requests, after parsing and version normalisation."""

from __future__ import annotations

from dataclasses import dataclass

from ogcserver.core.query import CoverageQuery


@dataclass(frozen=True)
class GetCoverage:
    version: str
    query: CoverageQuery
    multipart: bool = False  # 1.1 store=false, or 2.0 mediaType=multipart/related
