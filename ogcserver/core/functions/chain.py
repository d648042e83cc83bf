"""Processing templates applied to a read: which bands to read, how much context, what the chain
produces (declared by its functions), the chain itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ogcserver.core.functions.library import AnyFunction, BandSet, Stretch
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.model.budget import check_deadline
from ogcserver.model.image import Grid, Raster

MAX_READ_BANDS = 16


def read_bands(template: ProcessingTemplate, count: int) -> tuple[int, ...]:
    return template.bands or tuple(range(1, min(count, MAX_READ_BANDS) + 1))


def context_pixels(template: ProcessingTemplate) -> int:
    """Pixels read around the view so that neighbourhood functions have no seams at its edges."""
    return sum(f.context() for f in (*template.chain, *template.then))


def chain_output(template: ProcessingTemplate, given: BandSet) -> BandSet:
    """The data type and bands the template produces from an input holding ``given``, as each
    function declares them (a comparison, and a function over dimensions, is float32, named as
    its input)."""
    out = BandSet("float32", given.names) if template.over is not None else given
    for function in template.chain:
        out = function.output(out)
    if template.compare is not None:
        out = BandSet("float32", out.names)
        for function in template.then:
            out = function.output(out)
    return out


def _run(raster: Raster, functions: Iterable[AnyFunction]) -> Raster:
    for function in functions:
        check_deadline()
        raster = function.apply(raster)
    return raster


def compare(current: Raster, reference: Raster, operation: str) -> Raster:
    """Change between two inputs, in float32, where both have values (a ratio also needs a
    non-zero reference)."""
    a, b = current.data.astype(np.float32), reference.data.astype(np.float32)
    valid = current.valid & reference.valid
    if operation == "ratio":
        valid &= (b != 0).all(axis=0)
        out = np.divide(a, b, out=np.zeros_like(a), where=b != 0)
    else:
        out = a - b
    out[:, ~valid] = 0
    return Raster(out, valid, current.grid, current.band_names)


def per_item(template: ProcessingTemplate | None) -> Callable[[Raster], Raster] | None:
    """The chain as a step applied to each mosaic item before mosaicking, if it asks for that."""
    if template is None or not template.per_item:
        return None
    return lambda raster: _run(raster, template.chain)


def apply_chain(raster: Raster, template: ProcessingTemplate, view: Grid, context: int,
                reference: Raster | None = None) -> Raster:
    """The template's chain (unless it ran per item already); with a reference, the chain on
    both, their change, then ``then``."""
    if not template.per_item:
        raster = _run(raster, template.chain)
        reference = _run(reference, template.chain) if reference is not None else None
    if template.compare is not None and reference is not None:
        raster = _run(compare(raster, reference, template.compare.operation), template.then)
    if context:
        c = context
        raster = Raster(raster.data[:, c:-c, c:-c].copy(), raster.valid[c:-c, c:-c].copy(), view, raster.band_names)
    return raster


def needs_dataset_statistics(template: ProcessingTemplate) -> bool:
    return not template.per_item and any(
        isinstance(f, Stretch) and f.statistics == "dataset" and not f.band_bounds for f in template.chain)


def with_dataset_statistics(template: ProcessingTemplate, sample: Raster) -> ProcessingTemplate:
    """The template with its dataset-statistics stretches fixed to bounds computed on a sample
    of the whole layer (run through the functions before each stretch, as a view would be)."""
    chain, raster = [], sample
    for function in template.chain:
        if isinstance(function, Stretch) and function.statistics == "dataset" and not function.band_bounds:
            bounds = []
            for i in range(raster.count):
                band = raster.data[i].astype(np.float32)
                bounds.append(function.bounds(band[raster.valid & np.isfinite(band)]))
            function = function.model_copy(update={"band_bounds": tuple(bounds)})
        raster = function.apply(raster)
        chain.append(function)
    return template.model_copy(update={"chain": tuple(chain)})
