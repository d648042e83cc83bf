"""What each raster function (and each chain) declares it produces is what running it produces:
the data type, the band count and the band names, for inputs of several types and band counts."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from ogcserver.core.functions.chain import apply_chain, chain_output
from ogcserver.core.functions.library import AnyFunction, BandSet
from ogcserver.model.errors import InvalidValue
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid, Raster
from ogcserver.settings import ProcessingTemplate

SIZE = 9
GRID = Grid.from_bbox(BBox(500_000, 5_000_000, 500_000 + SIZE * 10, 5_000_000 + SIZE * 10, "EPSG:32632"), SIZE, SIZE)
SQUARE = [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]

FUNCTIONS = [
    {"function": "bands", "bands": [2, 1]},
    {"function": "bands", "bands": [5]},
    {"function": "expression", "expression": "b1 * 2 + b2"},
    {"function": "expression", "expression": "b4 - b1"},
    {"function": "normalized_difference", "a": 2, "b": 1},
    {"function": "normalized_difference", "a": 4, "b": 1},
    {"function": "stretch", "method": "minmax"},
    {"function": "stretch", "method": "fixed", "minimum": 0, "maximum": 100, "gamma": 2, "contrast": 5},
    {"function": "colormap", "ramp": "terrain", "minimum": 0, "maximum": 200},
    {"function": "colormap", "stops": [[0, "#000000"], [50, "#ff0000"]], "classes": "exact"},
    {"function": "hillshade", "multidirectional": True},
    {"function": "slope", "units": "percent"},
    {"function": "aspect"},
    {"function": "convolve", "kernel": "edges", "size": 5},
    {"function": "mask", "values": [3], "minimum": 1},
    {"function": "remap", "ranges": [[0, 50, 1], [50, 300, 2]], "others": "keep"},
    {"function": "equalize"},
    {"function": "clip", "geometry": {"type": "Polygon", "coordinates": SQUARE}, "invert": True},
]
INPUTS = [("uint8", 1), ("uint8", 3), ("uint16", 4), ("int16", 2), ("float32", 3), ("float64", 1)]


def _raster(dtype: str, count: int) -> Raster:
    rng = np.random.default_rng(count)
    data = rng.integers(0, 250, (count, SIZE, SIZE)).astype(dtype)
    valid = rng.random((SIZE, SIZE)) > 0.1
    return Raster(data, valid, GRID, tuple(f"b{i}" for i in range(1, count + 1)))


def _declared(dtype: str, names: tuple[str, ...], declare) -> BandSet | InvalidValue:
    try:
        return declare(BandSet(dtype, names))
    except InvalidValue as exc:
        return exc


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s["function"])
@pytest.mark.parametrize(("dtype", "count"), INPUTS)
def test_each_function_declares_what_it_returns(spec, dtype, count):
    function = TypeAdapter(AnyFunction).validate_python(spec)
    raster = _raster(dtype, count)
    declared = _declared(dtype, raster.band_names, function.output)
    if isinstance(declared, InvalidValue):
        with pytest.raises(InvalidValue):
            function.apply(raster)
        return
    out = function.apply(raster)
    assert (out.data.dtype.name, out.count, out.band_names) == (declared.dtype, declared.count, declared.names)


def test_bands_beyond_the_names_are_named_by_number():
    function = TypeAdapter(AnyFunction).validate_python({"function": "bands", "bands": [3, 1]})
    raster = Raster(np.zeros((3, SIZE, SIZE), np.uint8), np.ones((SIZE, SIZE), bool), GRID, ("red",))
    declared = function.output(BandSet("uint8", ("red", "", "")))
    assert function.apply(raster).band_names == ("band_3", "red")
    assert declared.names == ("", "red")  # a coverage's unnamed band stays unnamed


TEMPLATES = [
    {"name": "ndvi", "chain": [{"function": "normalized_difference", "a": 2, "b": 1}]},
    {"name": "shade", "bands": [1], "chain": [{"function": "hillshade"}, {"function": "stretch", "method": "minmax"}]},
    {"name": "change", "chain": [{"function": "expression", "expression": "b1 + b2"}],
     "compare": {"reference": "2021"}, "then": [{"function": "colormap", "ramp": "rdylgn"}]},
    {"name": "ratio", "chain": [{"function": "bands", "bands": [2]}],
     "compare": {"reference": "2021", "operation": "ratio"}},
    {"name": "each", "per_item": True, "chain": [{"function": "remap", "ranges": [[0, 100, 1]]}]},
]


@pytest.mark.parametrize("spec", TEMPLATES, ids=lambda s: s["name"])
@pytest.mark.parametrize(("dtype", "count"), [("uint8", 3), ("uint16", 4), ("float32", 2)])
def test_each_chain_declares_what_it_returns(spec, dtype, count):
    template = ProcessingTemplate.model_validate(spec)
    raster = _raster(dtype, count)
    declared = chain_output(template, BandSet(dtype, raster.band_names))
    context = max(f.context() for f in template.chain)
    view = GRID.subgrid((context, SIZE - context, context, SIZE - context))
    current = raster
    reference = Raster(raster.data[:, ::-1].copy(), raster.valid.copy(), GRID, raster.band_names)
    if template.per_item:  # the chain ran on each item before the mosaic
        current = apply_chain(current, template.model_copy(update={"per_item": False}), GRID, 0)
    out = apply_chain(current, template, view, context, reference if template.compare else None)
    assert (out.data.dtype.name, out.count, out.band_names) == (declared.dtype, declared.count, declared.names)
