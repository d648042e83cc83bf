"""An analysis job as plain values: what to compute, on which grid, cut into which chunks.

The spec travels to the cluster's workers as it is (no handles, no open files), so two equal
specs compute the same pixels; its digest names a job's chunks, so a re-run with the same
parameters resumes where the last one stopped and one with other parameters never mixes with it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from affine import Affine

from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.model.access import UNCONSTRAINED, Constraints
from ogcserver.model.catalog import TimeRange
from ogcserver.model.errors import InvalidValue, ResourceLimitExceeded
from ogcserver.model.image import Grid

Window = tuple[int, int, int, int]  # row0, row1, col0, col1 of the product's grid
# How chunks are written; part of the digest, so a run never resumes from chunks of another
# format. 2: each chunk carries its share of the product's overview levels.
CHUNK_FORMAT = 2


@dataclass(frozen=True)
class AnalysisSpec:
    """One product: a layer (through a template's or an ad-hoc chain, or as it is) over an area
    of an output CRS at a resolution, within a time range and a lon/lat polygon if given."""

    layer: str
    output: str
    crs: str
    bounds: tuple[float, float, float, float]  # minx, miny, maxx, maxy in ``crs``
    resolution: float
    template: ProcessingTemplate | None = None
    time: TimeRange | None = None
    polygon: dict | None = None  # GeoJSON in lon/lat: pixels outside are nodata
    chunk_size: int = 1024
    owner: str = "operator"
    constraints: Constraints = field(default=UNCONSTRAINED, compare=False)  # the owner's grant, checked on submission

    def digest(self) -> str:
        """A short hash of every parameter that decides the product's pixels."""
        values = asdict(self)
        values.pop("owner")
        values["template"] = self.template.model_dump(mode="json") if self.template else None
        values["constraints"] = repr(self.constraints)
        values["chunk_format"] = CHUNK_FORMAT
        text = json.dumps(values, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def grid(self) -> Grid:
        """The product's grid: the bounds widened to whole pixels of the resolution, aligned on
        its multiples (products of one resolution line up with each other and with sources)."""
        minx, miny, maxx, maxy = self.bounds
        res = self.resolution
        x0, y1 = math.floor(minx / res + 1e-9) * res, math.ceil(maxy / res - 1e-9) * res
        width = max(1, math.ceil((maxx - x0) / res - 1e-9))
        height = max(1, math.ceil((y1 - miny) / res - 1e-9))
        return Grid(self.crs, Affine(res, 0.0, x0, 0.0, -res, y1), width, height)


def check_spec(spec: AnalysisSpec, max_pixels: int) -> Grid:
    """The product's grid, after checking it is one the server will compute."""
    minx, miny, maxx, maxy = spec.bounds
    if not all(math.isfinite(v) for v in spec.bounds) or minx >= maxx or miny >= maxy:
        raise InvalidValue("bbox", "the area's minimum values must be less than its maximum values")
    if not math.isfinite(spec.resolution) or spec.resolution <= 0:
        raise InvalidValue("resolution", "the resolution must be a positive number")
    if (maxx - minx) / spec.resolution * ((maxy - miny) / spec.resolution) > max_pixels:
        raise ResourceLimitExceeded(f"the product would exceed {max_pixels} pixels; choose a coarser resolution "
                                    "or a smaller area")
    return spec.grid()


def check_new_output(spec: AnalysisSpec, existing: bool, overwrite: bool) -> None:
    """A product never replaces a collection of the same name unless asked to."""
    if existing and not overwrite:
        raise InvalidValue("output", f"a product or collection named '{spec.output}' exists; choose another name "
                                     "or overwrite it")


@dataclass(frozen=True)
class Chunk:
    """One task: a window of the product's grid, named by its position."""

    row: int
    col: int
    window: Window

    @property
    def name(self) -> str:
        return f"r{self.row:05d}_c{self.col:05d}"


def chunks(grid: Grid, size: int) -> Iterator[Chunk]:
    """The product's grid in ``size`` x ``size`` windows, row by row (the last ones clipped)."""
    for i, row0 in enumerate(range(0, grid.height, size)):
        for j, col0 in enumerate(range(0, grid.width, size)):
            yield Chunk(i, j, (row0, min(row0 + size, grid.height), col0, min(col0 + size, grid.width)))
