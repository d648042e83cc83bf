"""Named colour ramps and the one mapping of values onto them: linear or logarithmic between a
minimum and a maximum, optionally in a number of equal colour bands, with their own colours (or
none) for values past either end. Maps, tiles and legends all colour values through here."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal, get_args

import numpy as np
from pydantic import AfterValidator

RampName = Literal["greys", "viridis", "plasma", "inferno", "terrain", "rdylgn", "rdbu", "blues", "rainbow"]
RAMP_NAMES: tuple[str, ...] = get_args(RampName)

# (position 0..1, "#rrggbb"); the perceptual ramps are matplotlib's at quarter steps
RAMPS: dict[str, list[tuple[float, str]]] = {
    "greys": [(0.0, "#000000"), (1.0, "#ffffff")],
    "viridis": [(0.0, "#440154"), (0.25, "#3b528b"), (0.5, "#21918c"), (0.75, "#5ec962"), (1.0, "#fde725")],
    "plasma": [(0.0, "#0d0887"), (0.25, "#7e03a8"), (0.5, "#cc4778"), (0.75, "#f89540"), (1.0, "#f0f921")],
    "inferno": [(0.0, "#000004"), (0.25, "#570f6d"), (0.5, "#bb3754"), (0.75, "#f98e09"), (1.0, "#fcffa4")],
    "terrain": [(0.0, "#2166ac"), (0.15, "#67a9cf"), (0.3, "#1a9850"), (0.55, "#d9ef8b"), (0.75, "#a6611a"),
                (0.9, "#bababa"), (1.0, "#ffffff")],
    "rdylgn": [(0.0, "#a50026"), (0.25, "#f46d43"), (0.5, "#ffffbf"), (0.75, "#66bd63"), (1.0, "#006837")],
    "rdbu": [(0.0, "#67001f"), (0.25, "#d6604d"), (0.5, "#f7f7f7"), (0.75, "#4393c3"), (1.0, "#053061")],
    "blues": [(0.0, "#f7fbff"), (0.25, "#c6dbef"), (0.5, "#6baed6"), (0.75, "#2171b5"), (1.0, "#08306b")],
    "rainbow": [(0.0, "#0000ff"), (0.25, "#00ffff"), (0.5, "#00ff00"), (0.75, "#ffff00"), (1.0, "#ff0000")],
}

# What values past an end of the range become: the end's own colour, nothing, or a colour.
OUT_OF_RANGE = re.compile(r"^(extend|transparent|#[0-9a-f]{6})$")


def _out_of_range(value: str) -> str:
    if not OUT_OF_RANGE.match(value.lower()):
        raise ValueError("must be 'extend', 'transparent' or a colour #rrggbb")
    return value.lower()


OutOfRange = Annotated[str, AfterValidator(_out_of_range)]


def rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` as integers (callers validate the text first)."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def positions(values: np.ndarray, low: float, high: float, log: bool) -> np.ndarray:
    """Where values fall between ``low`` (0) and ``high`` (1), in float64 so that colour-band
    boundaries do not move with the data type; on a log scale, values <= 0 fall below (-inf)."""
    v = values.astype(np.float64)
    if log:
        logs = np.full(v.shape, -np.inf)
        np.log10(v, out=logs, where=v > 0)
        v, low, high = logs, np.log10(low), np.log10(high)
    v -= low
    v /= high - low
    return v


def banded(t: np.ndarray, bands: int | None) -> np.ndarray:
    """Positions 0..1 (in place) snapped to ``bands`` equal colour bands, each drawn in the ramp's
    colour at its own rank (first band: the ramp's start, last: its end; one band: the middle)."""
    np.fmax(t, 0.0, out=t)  # fmax and fmin take the number over NaN: NaN becomes 0, infinities the ends
    np.fmin(t, 1.0, out=t)
    if bands is None:
        return t
    if bands == 1:
        t.fill(0.5)
        return t
    t *= bands
    np.floor(t, out=t)
    np.minimum(t, bands - 1, out=t)
    t /= bands - 1
    return t


LUT_SIZE = 4096  # colours per ramp: neighbours differ by under 0.2 of a byte level on every ramp


@lru_cache(maxsize=len(RAMP_NAMES))
def ramp_table(ramp: str) -> np.ndarray:
    """A named ramp's colours at LUT_SIZE even positions (LUT_SIZE x 3 bytes), interpolated
    between its stops: looking positions up is ten times faster than interpolating each pixel."""
    stops = RAMPS[ramp]
    at = np.array([p for p, _ in stops], dtype=np.float64)
    colours = np.array([rgb(c) for _, c in stops], dtype=np.float64)
    where = np.linspace(0.0, 1.0, LUT_SIZE)
    table = np.stack([np.interp(where, at, colours[:, c]) for c in range(3)], axis=1)
    return table.astype(np.uint8)


def table_index(t: np.ndarray) -> np.ndarray:
    """The table entries of positions 0..1 (NaN-free), the nearest one each, as 2-byte indices."""
    t *= LUT_SIZE - 1
    t += 0.5
    return t.astype(np.uint16)
