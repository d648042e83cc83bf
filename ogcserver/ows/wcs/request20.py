"""A WCS 2.0.1 GetCoverage as the client wrote it (KVP or XML): values still text, not yet checked
against a coverage. kvp20.py and xml20.py fill it, query20.py turns it into the core query."""

from __future__ import annotations

from dataclasses import dataclass, field

from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.core.query import EVERY_ITEM, ItemQuery


@dataclass(frozen=True)
class Subset:
    axis: str
    crs: str | None   # WCS 2.0.0 KVP may name it inside the subset
    low: str | None   # None: unbounded ("*")
    high: str | None
    slice: bool


@dataclass(frozen=True)
class Scaling:
    """One of the four forms of the scaling extension: factor, axes, size or extent."""

    kind: str
    items: tuple[tuple[str, ...], ...]  # (axis, value) or (axis, low, high); factor: (("", value),)


@dataclass
class Request20:
    coverage_ids: tuple[str, ...]
    subsets: list[Subset] = field(default_factory=list)
    format: str | None = None
    media_type: str | None = None
    subsetting_crs: str | None = None
    output_crs: str | None = None
    scaling: Scaling | None = None
    interpolation: str | None = None
    interpolation_per_axis: list[tuple[str, str]] = field(default_factory=list)
    range_subset: list[tuple[str, str | None]] | None = None  # (component, None) or (start, end)
    geotiff: dict[str, str] = field(default_factory=dict)      # by extension name: compression, ...
    items: ItemQuery = EVERY_ITEM  # FILTER and the mosaic rule (KVP vendor parameters)
    processing: str = ""          # PROCESSING: a processing template's values
    rendering: ProcessingTemplate | None = None  # RENDERINGRULE: an ad-hoc chain
