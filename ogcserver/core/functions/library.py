"""The raster function library. Each function declares bounded parameters (pydantic), the
pixels of context it needs around a view (for seamless tiles), the data type and bands it
produces from its input's (so a writer can be opened before anything is read), and transforms
a Raster."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely
import shapely.geometry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ogcserver.core.functions.expression import Expression
from ogcserver.core.functions.ramps import OutOfRange, RampName, banded, positions, ramp_table, rgb, table_index
from ogcserver.model.budget import check_deadline
from ogcserver.model.errors import ChainError
from ogcserver.model.geo import WGS84, geojson_polygon, is_geographic, transform_coords
from ogcserver.model.image import Raster, alpha_of

METRES_PER_DEGREE = 111_120.0  # gdaldem's scale for metres over lon/lat
STRIP_PIXELS = 1 << 16  # output pixels a neighbourhood function computes between deadline checks


@dataclass(frozen=True)
class BandSet:
    """What a raster holds, without its pixels: its data type and its bands' names (one per band)."""

    dtype: str
    names: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.names)


class Function(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def context(self) -> int:
        """Pixels of context this function needs around the view (neighbourhood functions)."""
        return 0

    def output(self, given: BandSet) -> BandSet:
        """What ``apply`` returns for an input holding ``given``; refuses what ``apply`` refuses.
        Functions that only mask pixels return their input's."""
        return given

    def apply(self, raster: Raster) -> Raster:  # pragma: no cover - every function overrides it
        raise NotImplementedError


def _single(raster: Raster, data: np.ndarray, valid: np.ndarray, name: str) -> Raster:
    return Raster(data[None].astype(np.float32), valid & np.isfinite(data), raster.grid, (name,))


def _check_bands(numbers: tuple[int, ...], count: int) -> None:
    if max(numbers) > count or min(numbers) < 1:
        raise ChainError("bands", f"band numbers must be between 1 and {count}")


class Bands(Function):
    function: Literal["bands"]
    bands: tuple[int, ...] = Field(min_length=1, max_length=16)

    def output(self, given: BandSet) -> BandSet:
        _check_bands(self.bands, given.count)
        return BandSet(given.dtype, self._names(given.names))

    def _names(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(names[b - 1] if b <= len(names) else f"band_{b}" for b in self.bands)

    def apply(self, raster: Raster) -> Raster:
        _check_bands(self.bands, raster.count)
        return Raster(raster.data[[b - 1 for b in self.bands]], raster.valid, raster.grid,
                      self._names(raster.band_names))


class BandMath(Function):
    function: Literal["expression"]
    expression: str = Field(max_length=512)

    @field_validator("expression")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            Expression(value)
        except ChainError as exc:
            raise ValueError(exc.message) from None
        return value

    def output(self, given: BandSet) -> BandSet:
        self._check(Expression(self.expression), given.count)
        return BandSet("float32", ("expression",))

    @staticmethod
    def _check(expr: Expression, count: int) -> None:
        if expr.bands and max(expr.bands) > count:
            raise ChainError("expression", f"the expression uses b{max(expr.bands)}; the input has {count} bands")

    def apply(self, raster: Raster) -> Raster:
        expr = Expression(self.expression)
        self._check(expr, raster.count)
        values = expr.evaluate({b: raster.data[b - 1].astype(np.float32) for b in expr.bands})
        values = np.broadcast_to(values, raster.valid.shape)
        return _single(raster, np.array(values, dtype=np.float32), raster.valid, "expression")


class NormalizedDifference(Function):
    function: Literal["normalized_difference"]
    a: int = Field(ge=1, le=64)  # e.g. NIR for NDVI
    b: int = Field(ge=1, le=64)  # e.g. red

    def output(self, given: BandSet) -> BandSet:
        self._check(given.count)
        return BandSet("float32", ("normalized_difference",))

    def _check(self, count: int) -> None:
        if max(self.a, self.b) > count:
            raise ChainError("normalized_difference", f"band numbers must be at most {count}")

    def apply(self, raster: Raster) -> Raster:
        self._check(raster.count)
        a, b = raster.data[self.a - 1].astype(np.float32), raster.data[self.b - 1].astype(np.float32)
        with np.errstate(all="ignore"):
            nd = (a - b) / (a + b)
        return _single(raster, nd, raster.valid, "normalized_difference")


class Stretch(Function):
    """Values to 0..255: min-max, percent clip, standard deviations, or fixed bounds; then gamma."""

    function: Literal["stretch"]
    method: Literal["minmax", "percent", "stddev", "fixed"] = "percent"
    low: float = Field(2, ge=0, le=50)       # percent clip: lower percentile
    high: float = Field(98, ge=50, le=100)   # percent clip: upper percentile
    stddevs: float = Field(2, gt=0, le=10)
    minimum: float | None = None             # fixed bounds
    maximum: float | None = None
    gamma: float = Field(1.0, gt=0.05, le=20)
    contrast: float = Field(0, ge=0, le=50)  # sigmoidal contrast (0: none), rio-color's curve
    midpoint: float = Field(0.5, gt=0, lt=1)  # where the sigmoid is steepest, in the 0..1 range
    statistics: Literal["view", "dataset"] = "view"  # bounds from the current view, or the whole layer
    band_bounds: tuple[tuple[float, float], ...] = Field((), max_length=16)  # per band; dataset statistics fill it

    def bounds(self, values: np.ndarray, band: int = 0) -> tuple[float, float]:
        if self.band_bounds:
            return self.band_bounds[min(band, len(self.band_bounds) - 1)]
        if self.method == "fixed":
            if self.minimum is None or self.maximum is None:
                raise ChainError("stretch", "a fixed stretch needs minimum and maximum")
            return self.minimum, self.maximum
        if values.size == 0:
            return 0.0, 1.0
        if self.method == "minmax":
            return float(values.min()), float(values.max())
        if self.method == "stddev":
            mean, std = float(values.mean()), float(values.std())
            return mean - self.stddevs * std, mean + self.stddevs * std
        lo, hi = np.percentile(values, [self.low, self.high])
        return float(lo), float(hi)

    def output(self, given: BandSet) -> BandSet:
        return BandSet("uint8", given.names)

    def apply(self, raster: Raster) -> Raster:
        out = np.empty(raster.data.shape, dtype=np.uint8)
        for i in range(raster.count):
            band = raster.data[i].astype(np.float32)
            lo, hi = self.bounds(band[raster.valid & np.isfinite(band)], i)
            hi = hi if hi > lo else lo + 1.0
            scaled = np.clip((band - lo) / (hi - lo), 0, 1)
            if self.gamma != 1.0:
                scaled = scaled ** (1.0 / self.gamma)
            if self.contrast > 0:
                scaled = sigmoid(scaled, self.contrast, self.midpoint)
            out[i] = np.nan_to_num(scaled * 255 + 0.5, nan=0).astype(np.uint8)
        return Raster(out, raster.valid, raster.grid, raster.band_names)


def sigmoid(x: np.ndarray, contrast: float, midpoint: float) -> np.ndarray:
    """Sigmoidal contrast on 0..1 values, rescaled so 0 and 1 stay fixed (rio-color's formula)."""
    def curve(v: np.ndarray | float) -> np.ndarray:
        return 1 / (1 + np.exp(contrast * (midpoint - v)))

    low, high = curve(0.0), curve(1.0)
    return (curve(x) - low) / (high - low)


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    if len(value) != 6:
        raise ChainError("colormap", f"colour '{colour[:12]}' is not #rrggbb")
    return rgb(colour)


class Colormap(Function):
    """One band to colours: a named ramp between minimum and maximum, or explicit stops.

    A ramp may also be logarithmic, cut into ``color_bands`` equal bands, give values past
    either end their own colour (``above``, ``below``: ``extend`` the end's colour,
    ``transparent`` or ``#rrggbb``), and ``fit: view`` its range to each view's values."""

    function: Literal["colormap"]
    ramp: RampName | None = "viridis"
    stops: tuple[tuple[float, str], ...] | None = Field(None, max_length=256)  # (value, "#rrggbb")
    minimum: float = Field(0.0, allow_inf_nan=False)
    maximum: float = Field(1.0, allow_inf_nan=False)
    classes: Literal["continuous", "intervals", "exact"] = "continuous"  # exact: only the stops' values
    scale: Literal["linear", "log"] = "linear"
    color_bands: int | None = Field(None, ge=1, le=255)
    above: OutOfRange = "extend"
    below: OutOfRange = "extend"
    fit: Literal["fixed", "view"] = "fixed"

    @model_validator(mode="after")
    def _ramp_options(self) -> Colormap:
        ramp_only = (self.scale != "linear" or self.color_bands is not None or self.fit != "fixed"
                     or self.above != "extend" or self.below != "extend")
        if self.stops:
            if ramp_only:
                raise ValueError("scale, color_bands, above, below and fit apply to a named ramp, not to stops")
            return self
        if self.fit == "fixed" and not self.maximum > self.minimum:
            raise ValueError("maximum must be greater than minimum")
        if self.scale == "log" and self.fit == "fixed" and not self.minimum > 0:
            raise ValueError("a logarithmic scale needs a positive minimum")
        return self

    def output(self, given: BandSet) -> BandSet:
        return BandSet("uint8", ("red", "green", "blue", "alpha"))

    def apply(self, raster: Raster) -> Raster:
        band = raster.data[0]
        valid = raster.valid & np.isfinite(band)
        if not self.stops:
            return self._ramp(raster, band, valid)
        values = np.array([v for v, _ in self.stops], dtype=np.float32)
        colours = np.array([_rgb(c) for _, c in self.stops], dtype=np.float32)
        band = band.astype(np.float32)
        out = np.empty((4,) + band.shape, dtype=np.uint8)
        if self.classes == "exact":
            index = np.clip(np.searchsorted(values, band), 0, len(values) - 1)
            valid &= values[index] == band
            for c in range(3):
                out[c] = colours[index, c].astype(np.uint8)
        elif self.classes == "intervals":
            index = np.clip(np.searchsorted(values, band, side="right") - 1, 0, len(values) - 1)
            for c in range(3):
                out[c] = colours[index, c].astype(np.uint8)
        else:
            for c in range(3):
                out[c] = np.nan_to_num(np.interp(band, values, colours[:, c])).astype(np.uint8)
        out[3] = alpha_of(valid)
        return Raster(out, valid, raster.grid, ("red", "green", "blue", "alpha"))

    def range_for(self, band: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
        """The ramp's ends: as configured, or (``fit: view``) the view's smallest and largest
        values (positive ones on a log scale); a flat or empty view gets a unit-wide range."""
        if self.fit == "fixed":
            return self.minimum, self.maximum
        values = band[valid & (band > 0)] if self.scale == "log" else band[valid]
        if not values.size:
            return (1.0, 10.0) if self.scale == "log" else (0.0, 1.0)
        low, high = float(values.min()), float(values.max())
        if not high > low:
            high = low * 10 if self.scale == "log" else low + 1
        return low, high

    def _ramp(self, raster: Raster, band: np.ndarray, valid: np.ndarray) -> Raster:
        low, high = self.range_for(band, valid)
        t = positions(band, low, high, self.scale == "log")
        below, above = valid & (t < 0), valid & (t > 1)
        index = table_index(banded(t, self.color_bands))  # in place: a float64 copy of a view is 8 bytes a pixel
        table = ramp_table(self.ramp or "viridis")
        out = np.empty((4,) + band.shape, dtype=np.uint8)
        for c in range(3):
            np.take(table[:, c], index, out=out[c], mode="clip")  # indices are in range: no checking pass
        for past, rule in ((below, self.below), (above, self.above)):
            if rule == "transparent":
                valid = valid & ~past
            elif rule != "extend":
                out[:3, past] = np.array(rgb(rule), dtype=np.uint8)[:, None]
        out[3] = alpha_of(valid)
        return Raster(out, valid, raster.grid, ("red", "green", "blue", "alpha"))


def _cell_sizes(raster: Raster) -> tuple[float, float]:
    """Pixel sizes in metres (lon/lat grids: degrees scaled at the view's latitude)."""
    t = raster.grid.transform
    ew, ns = abs(t.a), abs(t.e)
    if is_geographic(raster.grid.crs):
        lat = t.f + t.e * raster.grid.height / 2
        return ew * METRES_PER_DEGREE * math.cos(math.radians(lat)), ns * METRES_PER_DEGREE
    return ew, ns


def _all_neighbours_valid(valid: np.ndarray) -> np.ndarray:
    """Where a pixel and its 8 neighbours are all valid (the view's edge has no outer
    neighbours): a 3x3 erosion done as a pass along rows, then one along columns."""
    v = np.pad(valid, 1, mode="constant", constant_values=False)
    across = v[:, :-2] & v[:, 1:-1]
    across &= v[:, 2:]
    ok = across[:-2] & across[1:-1]
    ok &= across[2:]
    return ok


def _horn_strips(raster: Raster, z: float) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Horn's 3x3 gradients (as gdaldem computes them), one strip of output rows at a time:
    (rows, dx, dy), dx growing eastwards, dy southwards (down the rows).

    Horn's kernel is separable (a 1-2-1 smoothing across, a difference along), so each strip costs
    two smoothing passes and two differences over one edge-padded copy, and a strip's few
    temporaries stay in the processor's cache; the deadline is checked between strips."""
    d = np.pad(raster.data[0].astype(np.float64, copy=False), 1, mode="edge")
    h, w = raster.valid.shape
    ew, ns = _cell_sizes(raster)
    kx, ky = z / (8 * ew), z / (8 * ns)
    rows = max(1, STRIP_PIXELS // max(w, 1))
    for r0 in range(0, h, rows):
        check_deadline()
        r1 = min(h, r0 + rows)
        s = d[r0:r1 + 2]
        down = s[:-2] + s[2:]           # 1-2-1 down the columns: (strip, w + 2)
        down += s[1:-1]
        down += s[1:-1]
        dx = down[:, 2:] - down[:, :-2]
        dx *= kx
        across = s[:, :-2] + s[:, 2:]   # 1-2-1 along the rows: (strip + 2, w)
        across += s[:, 1:-1]
        across += s[:, 1:-1]
        dy = across[2:] - across[:-2]
        dy *= ky
        yield slice(r0, r1), dx, dy


class Hillshade(Function):
    function: Literal["hillshade"]
    azimuth: float = Field(315, ge=0, le=360)
    altitude: float = Field(45, ge=0, le=90)
    z_factor: float = Field(1, gt=0, le=100_000)
    multidirectional: bool = False  # gdaldem -multidirectional: lights at 225, 270, 315, 360 degrees

    def context(self) -> int:
        return 1

    def output(self, given: BandSet) -> BandSet:
        return BandSet("uint8", ("hillshade",))

    def apply(self, raster: Raster) -> Raster:
        alt = math.radians(self.altitude)
        ok = _all_neighbours_valid(raster.valid)
        out = np.empty(ok.shape, dtype=np.uint8)
        with np.errstate(invalid="ignore", divide="ignore"):
            for rows, dx, dy in _horn_strips(raster, self.z_factor):
                if self.multidirectional:
                    shade = _multidirectional(dx, dy, alt)
                else:
                    shade = _shade(dx, dy, alt, math.radians(self.azimuth))
                shade += 0.5
                np.copyto(out[rows], shade, casting="unsafe")  # values are >= 1.5: truncation is floor
        out[~ok] = 0
        return Raster(out[None], ok, raster.grid, ("hillshade",))


def _shade(dx: np.ndarray, dy: np.ndarray, alt: float, az: float) -> np.ndarray:
    """gdaldem's hillshade 1 + 254 cos(angle to the light), 1 where the light does not reach;
    dy grows southwards (down the rows), the light's vector northwards. Overwrites dx and dy."""
    cang = dy * (math.cos(az) * math.cos(alt))
    dx_part = dx * (math.sin(az) * math.cos(alt))
    cang -= dx_part
    cang += math.sin(alt)
    dx *= dx
    dy *= dy
    dx += dy
    dx += 1
    np.sqrt(dx, out=dx)
    cang /= dx
    np.maximum(cang, 0, out=cang)
    cang *= 254
    cang += 1
    return cang


def _multidirectional(dx: np.ndarray, dy: np.ndarray, alt: float) -> np.ndarray:
    """gdaldem's multidirectional hillshade: four lights weighted by the slope's aspect
    (USGS open-file report 92-422), in gdaldem's terms x = -dx, y = -dy."""
    x, y = -dx, -dy
    sin_alt, cos_alt, half = math.sin(alt), math.cos(alt), -1 / math.sqrt(2)  # cos 225 = cos 315 in gdaldem

    def light(value: np.ndarray) -> np.ndarray:
        return np.maximum(127 * value, 0)

    v225 = light(sin_alt + (x - y) * half * cos_alt)
    v270 = light(sin_alt - x * cos_alt)
    v315 = light(sin_alt + (x + y) * half * cos_alt)
    v360 = light(sin_alt - y * cos_alt)
    xx, yy = x * x, y * y
    both = xx + yy
    w225 = 0.5 * both - x * y
    w315 = both - w225
    mixed = (w225 * v225 + xx * v270 + w315 * v315 + yy * v360) / both / np.sqrt(1 + both)
    return np.where(both == 0, 1 + 254 * sin_alt, 1 + mixed)


class Slope(Function):
    function: Literal["slope"]
    units: Literal["degrees", "percent"] = "degrees"
    z_factor: float = Field(1, gt=0, le=100_000)

    def context(self) -> int:
        return 1

    def output(self, given: BandSet) -> BandSet:
        return BandSet("float32", ("slope",))

    def apply(self, raster: Raster) -> Raster:
        ok = _all_neighbours_valid(raster.valid)
        out = np.empty(ok.shape, dtype=np.float32)
        with np.errstate(invalid="ignore"):
            for rows, dx, dy in _horn_strips(raster, self.z_factor):
                dx *= dx
                dy *= dy
                dx += dy
                rise = np.sqrt(dx, out=dx)
                if self.units == "percent":
                    rise *= 100
                else:
                    np.degrees(np.arctan(rise, out=rise), out=rise)
                out[rows] = rise
        return _terrain(raster, out, ok, "slope")


class Aspect(Function):
    function: Literal["aspect"]

    def context(self) -> int:
        return 1

    def output(self, given: BandSet) -> BandSet:
        return BandSet("float32", ("aspect",))

    def apply(self, raster: Raster) -> Raster:
        ok = _all_neighbours_valid(raster.valid)
        out = np.empty(ok.shape, dtype=np.float32)
        with np.errstate(invalid="ignore"):
            for rows, dx, dy in _horn_strips(raster, 1.0):
                flat = (dx == 0) & (dy == 0)
                angle = np.degrees(np.arctan2(dy, -dx, out=dy), out=dy)  # east 0, counter-clockwise
                aspect = np.subtract(np.where(angle > 90, 450, 90), angle, out=dx)  # clockwise from north
                aspect[aspect >= 360] -= 360
                aspect[flat] = np.nan
                out[rows] = aspect
        return _terrain(raster, out, ok, "aspect")


def _terrain(raster: Raster, values: np.ndarray, ok: np.ndarray, name: str) -> Raster:
    """A terrain measure's band: NaN and invalid where the neighbourhood is not all data or the
    measure is undefined."""
    values[~ok] = np.nan
    return Raster(values[None], ok & np.isfinite(values), raster.grid, (name,))


class Convolve(Function):
    """Smoothing, sharpening or edge detection with a square kernel (context: half the kernel)."""

    function: Literal["convolve"]
    kernel: Literal["smooth", "sharpen", "edges"] = "smooth"
    size: int = Field(3, ge=3, le=31)

    def context(self) -> int:
        return self.size // 2

    def output(self, given: BandSet) -> BandSet:
        return BandSet("float32", given.names)

    def _weights(self) -> np.ndarray:
        n = self.size
        if self.kernel == "smooth":
            return np.full((n, n), 1.0 / (n * n))
        if self.kernel == "sharpen":
            k = np.full((n, n), -1.0 / (n * n - 1))
            k[n // 2, n // 2] = 2.0
            return k
        k = np.full((n, n), -1.0)
        k[n // 2, n // 2] = n * n - 1.0
        return k

    def apply(self, raster: Raster) -> Raster:
        """Row strips of the output one after the other (a 31 x 31 kernel costs 961 passes over
        each), so that the request's deadline is checked between them."""
        n, r = self.size, self.size // 2
        k = self._weights()
        h, w = raster.valid.shape
        valid = np.pad(raster.valid, r, mode="constant", constant_values=False)
        ok = np.ones((h, w), dtype=bool)
        out = np.zeros(raster.data.shape, dtype=np.float32)
        rows = max(1, STRIP_PIXELS // max(w, 1))
        for i in range(raster.count):
            band = np.pad(raster.data[i].astype(np.float32), r, mode="edge")
            for r0 in range(0, h, rows):
                check_deadline()
                r1 = min(h, r0 + rows)
                strip = out[i, r0:r1]
                for dy in range(n):
                    for dx in range(n):
                        strip += k[dy, dx] * band[r0 + dy:r1 + dy, dx:dx + w]
        for dy in range(n):
            for dx in range(n):
                ok &= valid[dy:dy + h, dx:dx + w]
        return Raster(out, ok, raster.grid, raster.band_names)


class Mask(Function):
    """Make values (or a range) of band 1 transparent, or keep only a range."""

    function: Literal["mask"]
    values: tuple[float, ...] = Field((), max_length=256)
    minimum: float | None = None  # keep only values in [minimum, maximum]
    maximum: float | None = None

    def apply(self, raster: Raster) -> Raster:
        band = raster.data[0]
        keep = raster.valid & ~np.isin(band, self.values)
        if self.minimum is not None:
            keep &= band >= self.minimum
        if self.maximum is not None:
            keep &= band <= self.maximum
        return Raster(raster.data, keep, raster.grid, raster.band_names)


class Remap(Function):
    """Reclassify band 1: values in [from, to) become the class value; others keep or become nodata."""

    function: Literal["remap"]
    ranges: tuple[tuple[float, float, float], ...] = Field(min_length=1, max_length=256)  # (from, to, value)
    others: Literal["keep", "nodata"] = "nodata"

    def output(self, given: BandSet) -> BandSet:
        return BandSet("float32", ("class",))

    def apply(self, raster: Raster) -> Raster:
        band = raster.data[0].astype(np.float32)
        out = band.copy()
        hit = np.zeros(band.shape, dtype=bool)
        for lo, hi, value in self.ranges:
            sel = (band >= lo) & (band < hi) & ~hit
            out[sel] = value
            hit |= sel
        valid = raster.valid & (hit if self.others == "nodata" else True)
        return _single(raster, out, valid, "class")


class Clip(Function):
    """Keep only the pixels whose centres lie inside a polygon given in lon/lat (GeoJSON), or
    outside it with ``invert``."""

    function: Literal["clip"]
    geometry: dict
    invert: bool = False

    @field_validator("geometry")
    @classmethod
    def _polygon(cls, value: dict) -> dict:
        geojson_polygon(value, 10_000)
        return value

    def apply(self, raster: Raster) -> Raster:
        grid = raster.grid
        cols, rows = np.meshgrid(np.arange(grid.width) + 0.5, np.arange(grid.height) + 0.5)
        t = grid.transform
        xs, ys = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
        lon, lat = transform_coords(xs.ravel(), ys.ravel(), grid.crs, WGS84)
        inside = shapely.contains_xy(shapely.geometry.shape(self.geometry), lon, lat).reshape(grid.height, grid.width)
        return Raster(raster.data, raster.valid & (inside != self.invert), grid, raster.band_names)


class Equalize(Function):
    """Histogram equalization of each band to 0..255 over the view's valid pixels."""

    function: Literal["equalize"]

    def output(self, given: BandSet) -> BandSet:
        return BandSet("uint8", given.names)

    def apply(self, raster: Raster) -> Raster:
        out = np.zeros(raster.data.shape, dtype=np.uint8)
        for i in range(raster.count):
            band = raster.data[i]
            values = band[raster.valid & np.isfinite(band)]
            if values.size == 0:
                continue
            ranks = np.sort(values)
            cdf = np.searchsorted(ranks, band, side="right") / ranks.size
            out[i] = np.clip(cdf * 255 + 0.5, 0, 255).astype(np.uint8)
        return Raster(out, raster.valid, raster.grid, raster.band_names)


AnyFunction = (Bands | BandMath | NormalizedDifference | Stretch | Colormap | Hillshade | Slope | Aspect
               | Convolve | Mask | Remap | Equalize | Clip)
