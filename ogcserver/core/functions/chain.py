"""Processing templates applied to a read: which bands to read, how much context, the chain."""

from __future__ import annotations

from ogcserver.model.image import Grid, Raster
from ogcserver.settings import ProcessingTemplate

MAX_READ_BANDS = 16


def read_bands(template: ProcessingTemplate, count: int) -> tuple[int, ...]:
    return template.bands or tuple(range(1, min(count, MAX_READ_BANDS) + 1))


def context_pixels(template: ProcessingTemplate) -> int:
    """Pixels read around the view so that neighbourhood functions have no seams at its edges."""
    return sum(f.context() for f in template.chain)


def apply_chain(raster: Raster, template: ProcessingTemplate, view: Grid, context: int) -> Raster:
    for function in template.chain:
        raster = function.apply(raster)
    if context:
        c = context
        raster = Raster(raster.data[:, c:-c, c:-c].copy(), raster.valid[c:-c, c:-c].copy(), view, raster.band_names)
    return raster
