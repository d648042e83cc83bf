"""Lon/lat boxes on a round globe: normalizing, splitting at the antimeridian and unions."""

from __future__ import annotations

import pytest

from ogcserver.model.geo import (
    WGS84,
    BBox,
    lonlat_intersects,
    lonlat_parts,
    lonlat_union,
    normalized_lonlat,
    to_lonlat,
)


def box(minx: float, miny: float, maxx: float, maxy: float) -> BBox:
    return BBox(minx, miny, maxx, maxy, WGS84)


@pytest.mark.parametrize(("given", "normal"), [
    (box(10, 0, 20, 1), box(10, 0, 20, 1)),
    (box(178, 0, -178.5, 1), box(178, 0, 181.5, 1)),      # west > east: across 180
    (box(180, 0, 182, 1), box(-180, 0, -178, 1)),         # wholly east of 180: back in range
    (box(-190, 0, -170, 1), box(170, 0, 190, 1)),
    (box(-180, 0, 180, 1), box(-180, 0, 180, 1)),
    (box(-30, 0, 330, 1), box(-180, 0, 180, 1)),          # the globe, whatever its start
])
def test_normalized_lonlat(given: BBox, normal: BBox) -> None:
    assert normalized_lonlat(given) == normal


def test_parts_split_at_180() -> None:
    assert lonlat_parts(box(178, 0, 181.5, 1)) == (box(178, 0, 180, 1), box(-180, 0, -178.5, 1))
    assert lonlat_parts(box(10, 0, 20, 1)) == (box(10, 0, 20, 1),)


@pytest.mark.parametrize(("boxes", "union"), [
    ([box(0, 0, 10, 1), box(20, 2, 30, 3)], box(0, 0, 30, 3)),
    ([box(178, 0, 180, 1), box(-180, 0, -178, 1)], box(178, 0, 182, 1)),   # the two parts of a cut footprint
    ([box(178, 0, 181.5, 1), box(-179, 0, -178, 1)], box(178, 0, 182, 1)),
    ([box(170, 0, 175, 1), box(-175, 0, -170, 1)], box(170, 0, 190, 1)),    # the short way round
    ([box(-170, 0, -10, 1), box(20, 0, 170, 1)], box(20, 0, 350, 1)),       # the largest gap is left out
    ([box(-180, 0, 180, 1), box(20, 0, 30, 1)], box(-180, 0, 180, 1)),
])
def test_union_goes_round_the_shorter_way(boxes: list[BBox], union: BBox) -> None:
    assert lonlat_union(boxes) == union


def test_intersects_across_180() -> None:
    assert lonlat_intersects(box(178, 0, 181.5, 1), box(-179, 0, -178.9, 1))
    assert not lonlat_intersects(box(178, 0, 181.5, 1), box(-178, 0, -170, 1))
    assert lonlat_intersects(box(179.9, 0, 180.1, 1), box(-180, 0, -179.95, 1))


def test_views_across_180_in_projected_crss() -> None:
    """A Pacific-centred Mercator view over 180, and a Web Mercator one beyond its x range."""
    pacific = to_lonlat(BBox(3320000.0, 6645000.0, 3360000.0, 6665000.0, "EPSG:3832"))
    assert 179.7 < pacific.minx < 180 < pacific.maxx < 180.3 and pacific.width < 0.4
    beyond = to_lonlat(BBox(20017000.0, 6645000.0, 20057000.0, 6665000.0, "EPSG:3857"))
    assert 179.8 < beyond.minx < 180 < beyond.maxx < 180.2
