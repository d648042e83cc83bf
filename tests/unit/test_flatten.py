"""Flattening a picture onto a background colour, against the compositing formula in floats."""

from __future__ import annotations

import numpy as np
import pytest

from ogcserver.core.render.style import flatten, without_alpha
from ogcserver.model.geo import BBox
from ogcserver.model.image import Grid, RGBAImage

GRID = Grid.from_bbox(BBox(0, 0, 1, 1, "EPSG:3857"), 61, 47)


def over_background(rgba: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    a = rgba[..., 3:].astype(np.float64) / 255
    return np.floor(rgba[..., :3] * a + np.asarray(background) * (1 - a) + 0.5).astype(np.uint8)


@pytest.mark.parametrize("alphas", [(0, 255), (0, 17, 128, 254, 255), (255,), (0,)])
def test_flatten_matches_compositing(alphas):
    rng = np.random.default_rng(len(alphas))
    rgba = rng.integers(0, 256, (47, 61, 4), dtype=np.uint8)
    rgba[..., 3] = rng.choice(np.asarray(alphas, dtype=np.uint8), (47, 61))
    for background in [(255, 255, 255), (10, 200, 30)]:
        got = flatten(RGBAImage(rgba, GRID), background)
        assert got.shape == (47, 61, 3) and got.dtype == np.uint8
        np.testing.assert_array_equal(got, over_background(rgba, background))


def test_an_opaque_picture_is_unchanged_and_alpha_is_dropped_exactly():
    rgb = np.random.default_rng(3).integers(0, 256, (47, 61, 3), dtype=np.uint8)
    assert flatten(RGBAImage(rgb, GRID), (0, 0, 0)) is rgb
    rgba = np.dstack([rgb, np.full((47, 61), 200, np.uint8)])
    np.testing.assert_array_equal(without_alpha(rgba[:, ::-1]), rgb[:, ::-1])  # a strided view too
