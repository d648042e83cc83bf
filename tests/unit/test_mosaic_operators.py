"""Mosaic operators on a 6x6 view with hand-made items, checked against values worked out by hand."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest

from ogcserver.core.mosaic import mosaic
from ogcserver.model.budget import Budget, request_budget
from ogcserver.model.catalog import CatalogItem, SourceInfo
from ogcserver.model.errors import RenderTimeout, SourceUnavailable
from ogcserver.model.formats import Resampling
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid, Raster
from ogcserver.model.mosaic import Operator

CRS = "EPSG:32632"
SIZE, RES = 6, 100.0
VIEW = Grid.from_bbox(BBox(0, 0, SIZE * RES, SIZE * RES, CRS), SIZE, SIZE)
GARBAGE = 99  # what a fake item holds under its invalid pixels: must never show


@dataclass
class Fake:
    """An item and its values over the whole view (valid only inside its footprint, minus holes)."""

    item: CatalogItem
    data: np.ndarray   # (bands, 6, 6)
    valid: np.ndarray  # (6, 6)


def fake(name: str, rows: tuple[int, int], cols: tuple[int, int], values, holes=(), dtype=np.uint8) -> Fake:
    """An item whose footprint is rows x cols of the view (end excluded); ``values`` per band or (bands, 6, 6)."""
    (r0, r1), (c0, c1) = rows, cols
    valid = np.zeros((SIZE, SIZE), dtype=bool)
    valid[r0:r1, c0:c1] = True
    for hole in holes:
        valid[hole] = False
    values = np.asarray(values, dtype=dtype)
    full = values if values.ndim == 3 else np.broadcast_to(values[:, None, None], (len(values), SIZE, SIZE))
    data = np.where(valid, full, np.asarray(GARBAGE, dtype=dtype))
    bounds = BBox(c0 * RES, (SIZE - r1) * RES, c1 * RES, (SIZE - r0) * RES, CRS)
    source = SourceInfo(
        path=f"/data/{name}.tif", crs=CRS, bounds=bounds, width=c1 - c0, height=r1 - r0, count=len(data),
        dtype=np.dtype(dtype).name, nodata=None, band_names=tuple(f"b{i + 1}" for i in range(len(data))),
        acquired=None,
    )
    return Fake(CatalogItem(id=hash(name) % 1000, collection="scenes", source=source, lonlat_bounds=bounds), data, valid)


class FakeReader:
    """Cuts each item's hand-made values to the requested sub-grid; counts reads; some sources broken."""

    def __init__(self, fakes: list[Fake], broken: tuple[str, ...] = ()) -> None:
        self.fakes = {f.item.source.path: f for f in fakes}
        self.broken = broken
        self.reads: list[str] = []

    def read(self, source: SourceInfo, grid: Grid, bands, resampling) -> Raster | None:
        name = source.path.rsplit("/", 1)[-1][:-4]
        self.reads.append(name)
        if name in self.broken:
            raise SourceUnavailable("gone")
        f = self.fakes[source.path]
        row0, col0 = round((SIZE * RES - grid.transform.f) / RES), round(grid.transform.c / RES)
        rows, cols = slice(row0, row0 + grid.height), slice(col0, col0 + grid.width)
        valid = f.valid[rows, cols]
        if not valid.any():
            return None
        data = f.data[[b - 1 for b in bands]][:, rows, cols]
        return Raster(data.copy(), valid.copy(), grid, source.band_names)


def run(fakes: list[Fake], operator=Operator.FIRST, blend_width=0, bands=(1, 2), broken=(), deadline=None):
    reader = FakeReader(fakes, broken)
    budget = Budget(time.monotonic() + 60 if deadline is None else deadline, 1 << 30)
    with request_budget(budget):
        raster, used = mosaic(reader, [f.item for f in fakes], VIEW, bands, Resampling.NEAREST, operator, blend_width)
    return raster, [u.source.path.rsplit("/", 1)[-1][:-4] for u in used], reader.reads


def shown(raster: Raster) -> np.ndarray:
    """The values with 0 where the mosaic has no data (what those pixels hold is unspecified)."""
    return np.where(raster.valid, raster.data, 0)


# Three overlapping items, top first. Band 1: A=20, B=30, C=10; band 2: A=1, B=7, C=3.
# Which items are valid where:      Union of valid pixels:
#   -  A  AC  AC  C   -               0 1 1 1 1 0
#   A  A  AC  AC  C   C               1 1 1 1 1 1
#   A  A  BC  ABC BC  BC              1 1 1 1 1 1
#   A  A  AB  AB  B   B               1 1 1 1 1 1
#   -  -  B   B   B   B               0 0 1 1 1 1
#   -  -  B   B   B   -               0 0 1 1 1 0
def scene() -> list[Fake]:
    return [
        fake("A", (0, 4), (0, 4), (20, 1), holes=[(0, 0), (2, 2)]),
        fake("B", (2, 6), (2, 6), (30, 7), holes=[(5, 5)]),
        fake("C", (0, 3), (2, 6), (10, 3), holes=[(0, 5)]),
    ]


UNION = np.array([
    [0, 1, 1, 1, 1, 0],
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1],
    [0, 0, 1, 1, 1, 1],
    [0, 0, 1, 1, 1, 0],
], dtype=bool)

BAND1 = {
    Operator.FIRST: [
        [0, 20, 20, 20, 10, 0],
        [20, 20, 20, 20, 10, 10],
        [20, 20, 30, 20, 30, 30],
        [20, 20, 20, 20, 30, 30],
        [0, 0, 30, 30, 30, 30],
        [0, 0, 30, 30, 30, 0],
    ],
    Operator.LAST: [
        [0, 20, 10, 10, 10, 0],
        [20, 20, 10, 10, 10, 10],
        [20, 20, 10, 10, 10, 10],
        [20, 20, 30, 30, 30, 30],
        [0, 0, 30, 30, 30, 30],
        [0, 0, 30, 30, 30, 0],
    ],
    Operator.MIN: [
        [0, 20, 10, 10, 10, 0],
        [20, 20, 10, 10, 10, 10],
        [20, 20, 10, 10, 10, 10],
        [20, 20, 20, 20, 30, 30],
        [0, 0, 30, 30, 30, 30],
        [0, 0, 30, 30, 30, 0],
    ],
    Operator.MAX: [
        [0, 20, 20, 20, 10, 0],
        [20, 20, 20, 20, 10, 10],
        [20, 20, 30, 30, 30, 30],
        [20, 20, 30, 30, 30, 30],
        [0, 0, 30, 30, 30, 30],
        [0, 0, 30, 30, 30, 0],
    ],
    Operator.MEAN: [
        [0, 20, 15, 15, 10, 0],
        [20, 20, 15, 15, 10, 10],
        [20, 20, 20, 20, 20, 20],
        [20, 20, 25, 25, 30, 30],
        [0, 0, 30, 30, 30, 30],
        [0, 0, 30, 30, 30, 0],
    ],
}


def reference(fakes: list[Fake], operator: Operator) -> np.ndarray:
    """The same operators in plain numpy over the stacked full-view values (NaN where invalid)."""
    stack = np.stack([np.where(f.valid, f.data, np.nan) for f in fakes])
    seen = ~np.isnan(stack)
    if operator is Operator.FIRST:
        picked = np.take_along_axis(stack, seen.argmax(axis=0)[None], axis=0)[0]
    elif operator is Operator.LAST:
        bottom = len(fakes) - 1 - seen[::-1].argmax(axis=0)
        picked = np.take_along_axis(stack, bottom[None], axis=0)[0]
    elif operator is Operator.MIN:
        picked = np.fmin.reduce(stack, axis=0)
    elif operator is Operator.MAX:
        picked = np.fmax.reduce(stack, axis=0)
    else:
        picked = np.rint(np.nansum(stack, axis=0) / np.maximum(seen.sum(axis=0), 1))
    return np.where(seen.any(axis=0), picked, 0)


@pytest.mark.parametrize("operator", list(BAND1), ids=lambda o: o.value)
def test_each_operator_matches_hand_computed_values(operator):
    raster, used, reads = run(scene(), operator)
    assert raster.data.dtype == np.uint8 and raster.band_names == ("b1", "b2")
    np.testing.assert_array_equal(raster.valid, UNION)
    np.testing.assert_array_equal(shown(raster)[0], BAND1[operator])
    np.testing.assert_array_equal(shown(raster), reference(scene(), operator))
    assert used == ["A", "B", "C"] and reads == ["A", "B", "C"]


def test_min_and_max_are_per_band():
    """Band 2 does not follow band 1: where A, B and C overlap, band 1 is least in C, band 2 in A."""
    low, _, _ = run(scene(), Operator.MIN)
    high, _, _ = run(scene(), Operator.MAX)
    assert low.data[:, 2, 3].tolist() == [10, 1]
    assert high.data[:, 2, 3].tolist() == [30, 7]


def test_mean_of_integers_is_rounded():
    """Band 2 of row 2: B and C give (7+3)/2 = 5; A, B and C give 11/3 = 3.67, rounded to 4."""
    raster, _, _ = run(scene(), Operator.MEAN)
    assert shown(raster)[1, 2].tolist() == [1, 1, 5, 4, 5, 5]


def test_mean_keeps_a_float_dtype_unrounded():
    items = [fake("P", (0, 6), (0, 4), (1.0,), dtype=np.float32), fake("Q", (0, 6), (2, 6), (2.0,), dtype=np.float32)]
    raster, _, _ = run(items, Operator.MEAN, bands=(1,))
    assert raster.data.dtype == np.float32
    assert raster.data[0, 0].tolist() == [1.0, 1.0, 1.5, 1.5, 2.0, 2.0]


def test_min_and_max_keep_the_dtype():
    items = [fake("P", (0, 6), (0, 4), (-300,), dtype=np.int16), fake("Q", (0, 6), (2, 6), (250,), dtype=np.int16)]
    low, _, _ = run(items, Operator.MIN, bands=(1,))
    high, _, _ = run(items, Operator.MAX, bands=(1,))
    assert low.data.dtype == high.data.dtype == np.int16
    assert low.data[0, 3].tolist() == [-300, -300, -300, -300, 250, 250]
    assert high.data[0, 3].tolist() == [-300, -300, 250, 250, 250, 250]


def test_blend_ramps_across_the_overlap():
    """P covers columns 0-3, Q columns 2-5; with a 2-pixel ramp the weights on the overlap are
    P: 1, 1/2 and Q: 1/2, 1, so (10*1 + 40*0.5)/1.5 = 20 and (10*0.5 + 40*1)/1.5 = 30.
    Rows 0 and 5 are the same as the others: the view's border is not an item edge."""
    items = [fake("P", (0, 6), (0, 4), (10,)), fake("Q", (0, 6), (2, 6), (40,))]
    raster, used, _ = run(items, Operator.BLEND, blend_width=2, bands=(1,))
    assert raster.valid.all() and used == ["P", "Q"]
    np.testing.assert_array_equal(raster.data[0], [[10, 10, 20, 30, 40, 40]] * SIZE)


@pytest.mark.parametrize("width", [0, 1])
def test_blend_without_a_ramp_is_the_plain_mean(width):
    items = [fake("P", (0, 6), (0, 4), (10,)), fake("Q", (0, 6), (2, 6), (40,))]
    raster, _, _ = run(items, Operator.BLEND, blend_width=width, bands=(1,))
    np.testing.assert_array_equal(raster.data[0], [[10, 10, 25, 25, 40, 40]] * SIZE)


def brute_weights(f: Fake, width: int) -> np.ndarray:
    """min(d, width) / width, d the distance to the nearest invalid pixel of the view (border padded valid)."""
    padded = np.pad(f.valid, width, constant_values=True)
    holes = np.argwhere(~padded)
    rows, cols = np.indices(padded.shape)
    d = np.hypot(rows[..., None] - holes[:, 0], cols[..., None] - holes[:, 1]).min(axis=-1, initial=np.inf)
    w = np.minimum(d, width)[width:-width, width:-width] / width
    return np.where(f.valid, w, 0.0)


def test_blend_matches_a_brute_force_weighted_mean_and_single_items_exactly():
    rng = np.random.default_rng(7)
    layout = [("P", (0, 5), (0, 4)), ("Q", (1, 6), (1, 6)), ("R", (0, 6), (3, 6))]
    items = []
    for name, rows, cols in layout:
        holes = [tuple(h) for h in rng.integers(0, SIZE, (4, 2))]
        items.append(fake(name, rows, cols, rng.uniform(0, 1000, (2, SIZE, SIZE)), holes, dtype=np.float64))
    raster, used, _ = run(items, Operator.BLEND, blend_width=3)
    weights = np.stack([brute_weights(f, 3) for f in items])
    values = np.stack([np.where(f.valid, f.data, 0.0) for f in items])
    total = weights.sum(axis=0)
    expected = (weights[:, None] * values).sum(axis=0) / np.where(total > 0, total, 1)
    np.testing.assert_array_equal(raster.valid, total > 0)
    np.testing.assert_allclose(shown(raster), np.where(total > 0, expected, 0), rtol=1e-12)
    alone = (weights > 0).sum(axis=0) == 1
    assert alone.any() and (~alone & raster.valid).any()
    np.testing.assert_array_equal(raster.data[:, alone], values.sum(axis=0)[:, alone])
    assert used == ["P", "Q", "R"]


def test_used_lists_only_items_showing_in_the_result():
    """T lies inside U: with "last" U covers it entirely; with "first" both show."""
    items = [fake("T", (1, 3), (1, 3), (5,)), fake("U", (0, 6), (0, 6), (9,), holes=[(5, 5)])]
    _, used_last, _ = run(items, Operator.LAST, bands=(1,))
    _, used_first, _ = run(items, Operator.FIRST, bands=(1,))
    assert used_last == ["U"] and used_first == ["T", "U"]


def first_stack() -> list[Fake]:
    """X covers all but (5, 5); H lies under X; Y is read (its window reaches (5, 5)) but adds
    nothing; Z fills (5, 5); W comes after the view is full."""
    return [
        fake("X", (0, 6), (0, 6), (1,), holes=[(5, 5)]),
        fake("H", (0, 2), (0, 2), (2,)),
        fake("Y", (0, 6), (0, 6), (3,), holes=[(5, 5)]),
        fake("Z", (4, 6), (4, 6), (4,)),
        fake("W", (0, 6), (0, 6), (5,)),
    ]


def test_first_skips_hidden_items_and_stops_when_the_view_is_full():
    raster, used, reads = run(first_stack(), Operator.FIRST, bands=(1,))
    assert reads == ["X", "Y", "Z"]
    assert used == ["X", "Z"]
    assert raster.valid.all() and raster.data[0, 5, 5] == 4 and (raster.data[0][UNION] == 1).all()


def test_first_reads_only_an_item_that_fills_the_view():
    items = [fake("F", (0, 6), (0, 6), (8,)), *first_stack()]
    raster, used, reads = run(items, Operator.FIRST, bands=(1,))
    assert reads == used == ["F"] and (raster.data == 8).all() and raster.grid == VIEW


def test_other_operators_read_every_item():
    _, used, reads = run(first_stack(), Operator.LAST, bands=(1,))
    assert reads == ["X", "H", "Y", "Z", "W"] and used == ["W"]


def test_first_is_the_default_operator():
    fakes = scene()
    raster, used = mosaic(FakeReader(fakes), [f.item for f in fakes], VIEW, (1, 2), Resampling.NEAREST)
    np.testing.assert_array_equal(shown(raster)[0], BAND1[Operator.FIRST])
    assert [u.name for u in used] == ["A.tif", "B.tif", "C.tif"]


@pytest.mark.parametrize("operator", list(Operator), ids=lambda o: o.value)
def test_a_broken_item_is_skipped_with_a_log_line(operator, caplog):
    fakes = scene()
    raster, used, reads = run(fakes, operator, blend_width=2, broken=("B",))
    without, _, _ = run([fakes[0], fakes[2]], operator, blend_width=2)
    assert reads == ["A", "B", "C"] and used == ["A", "C"]
    np.testing.assert_array_equal(raster.valid, without.valid)
    np.testing.assert_array_equal(shown(raster), shown(without))
    assert "source skipped" in caplog.text


@pytest.mark.parametrize("operator", list(Operator), ids=lambda o: o.value)
def test_past_the_deadline_rendering_stops(operator):
    with pytest.raises(RenderTimeout):
        run(scene(), operator, deadline=time.monotonic() - 1)


@pytest.mark.parametrize("operator", list(Operator), ids=lambda o: o.value)
def test_nothing_in_view_gives_none(operator):
    outside = fake("O", (0, 6), (0, 6), (1,))
    far = BBox(10_000, 10_000, 11_000, 11_000, CRS)
    item = CatalogItem(1, "scenes", SourceInfo(**{**outside.item.source.__dict__, "bounds": far}), far)
    raster, used = mosaic(FakeReader([outside]), [item], VIEW, (1,), Resampling.NEAREST, operator)
    assert raster is None and used == []
