"""Legend pictures: a swatch per displayed band, or a ramp with its value range; for a
processing template, its own colours; for a colour scale, its bar with ticks, units and
out-of-range colours."""

from __future__ import annotations

import math

import numpy as np
from affine import Affine
from PIL import Image, ImageDraw

from ogcserver.core.catalog import Layer
from ogcserver.core.functions.library import Colormap, Stretch
from ogcserver.core.functions.ramps import rgb
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.model.image import Grid, Raster

SCALE_LEGEND_SIZE = (160, 260)  # a colour scale's legend unless the request sizes it
SWATCH = {0: (220, 40, 40), 1: (40, 170, 60), 2: (40, 80, 220)}


def legend_picture(layer: Layer, width: int | None, height: int | None) -> np.ndarray:
    """An RGBA array describing how the layer's default style shows its values."""
    info = layer.info
    bands = layer.render_bands
    names = [info.band_names[b - 1] or f"band {b}" for b in bands]
    if len(bands) == 3:
        w, h = width or 140, height or 66
        img = Image.new("RGBA", (w, h), (255, 255, 255, 0))
        draw = ImageDraw.Draw(img)
        row = max(1, h // 3)
        for i, name in enumerate(names):
            y = i * row
            draw.rectangle([2, y + 3, 18, y + row - 3], fill=SWATCH[i] + (255,), outline=(0, 0, 0, 255))
            draw.text((24, y + max(0, row // 2 - 6)), f"{'RGB'[i]}: {name}", fill=(0, 0, 0, 255))
        return np.asarray(img)
    w, h = width or 120, height or 140
    img = Image.new("RGBA", (w, h), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    bar_h = max(2, h - 20)
    for y in range(bar_h):
        v = int(round(255 * (1 - y / max(1, bar_h - 1))))
        draw.line([(2, 10 + y), (22, 10 + y)], fill=(v, v, v, 255))
    draw.rectangle([2, 10, 22, 10 + bar_h - 1], outline=(0, 0, 0, 255))
    if info.statistics:
        high, low = info.statistics[0].high, info.statistics[0].low
    else:
        high, low = 255, 0
    draw.text((28, 4), f"{high:.6g}", fill=(0, 0, 0, 255))
    draw.text((28, h - 16), f"{low:.6g}", fill=(0, 0, 0, 255))
    draw.text((28, h // 2 - 6), names[0][:14], fill=(0, 0, 0, 255))
    return np.asarray(img)


def _colours(colormap: Colormap, values: np.ndarray) -> np.ndarray:
    """RGBA of values through the template's own colormap: the legend is what maps show."""
    grid = Grid("EPSG:3857", Affine.identity(), len(values), 1)
    raster = Raster(values.astype(np.float32)[None, None, :], np.ones((1, len(values)), bool), grid, ("v",))
    return np.moveaxis(colormap.apply(raster).data[:, 0, :], 0, 1)


def template_legend(template: ProcessingTemplate, width: int | None, height: int | None) -> np.ndarray | None:
    """A legend for a processing template that ends in a colormap (a ramp, or one swatch per
    class) or a fixed stretch (a grey ramp); None when its last step has no legend of its own."""
    functions = template.then or template.chain
    if not functions:  # a function over the dimensions alone: drawn as the layer is, with its legend
        return None
    last = functions[-1]
    w, h = width or 140, height or 140
    img = Image.new("RGBA", (w, h), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    if isinstance(last, Colormap) and last.classes == "intervals" and last.stops:
        values = np.array([v for v, _ in last.stops], dtype=np.float64)
        row = max(8, min(20, h // len(values)))
        for i, (value, colour) in enumerate(zip(values, _colours(last, values))):
            y = i * row
            draw.rectangle([2, y + 2, 18, y + row - 2], fill=tuple(int(c) for c in colour), outline=(0, 0, 0, 255))
            draw.text((24, y + max(0, row // 2 - 6)), f">= {value:.6g}", fill=(0, 0, 0, 255))
        return np.asarray(img).copy()
    if isinstance(last, Colormap):
        low, high = ((min(v for v, _ in last.stops), max(v for v, _ in last.stops)) if last.stops
                     else (last.minimum, last.maximum))
    elif isinstance(last, Stretch) and last.method == "fixed" and last.minimum is not None and last.maximum is not None:
        low, high = last.minimum, last.maximum
    else:
        return None
    bar_h = max(2, h - 20)
    values = high - (high - low) * np.arange(bar_h) / max(1, bar_h - 1)  # top: the highest value
    if isinstance(last, Colormap):
        colours = _colours(last, values)
    else:
        grey = np.clip((values - low) / ((high - low) or 1) * 255 + 0.5, 0, 255).astype(np.uint8)
        colours = np.stack([grey, grey, grey, np.full_like(grey, 255)], axis=1)
    for y, colour in enumerate(colours):
        draw.line([(2, 10 + y), (22, 10 + y)], fill=tuple(int(c) for c in colour))
    draw.rectangle([2, 10, 22, 10 + bar_h - 1], outline=(0, 0, 0, 255))
    draw.text((28, 4), f"{high:.6g}", fill=(0, 0, 0, 255))
    draw.text((28, h - 16), f"{low:.6g}", fill=(0, 0, 0, 255))
    draw.text((28, h // 2 - 6), template.title[:14] or template.name[:14], fill=(0, 0, 0, 255))
    return np.asarray(img).copy()


def _ticks(low: float, high: float, log: bool) -> list[float]:
    """Values to label along a colour bar: five even steps, or on a log scale the powers of ten
    inside the range (five log-even steps when fewer than two fall inside)."""
    if log:
        decades = [10.0 ** e for e in range(math.ceil(math.log10(low)), math.floor(math.log10(high)) + 1)]
        if len(decades) >= 2:
            return decades[:: max(1, math.ceil(len(decades) / 8))]
        return list(np.logspace(math.log10(low), math.log10(high), 5))
    return list(np.linspace(low, high, 5))


def _bar_values(low: float, high: float, log: bool, rows: int) -> np.ndarray:
    """One value per row of a colour bar, the highest at the top, each at its row's centre (so
    no row shows a value past either end)."""
    centres = (rows - 0.5 - np.arange(rows)) / rows
    if log:
        return 10.0 ** (math.log10(low) + centres * (math.log10(high) - math.log10(low)))
    return low + centres * (high - low)


def _row_of(value: float, low: float, high: float, log: bool, top: int, rows: int) -> int:
    t = ((math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low)) if log
         else (value - low) / (high - low))
    return top + round((1 - t) * (rows - 1))


def _out_of_range_box(draw: ImageDraw.ImageDraw, box: list[int], rule: str, bar_colour: tuple[int, ...]) -> None:
    """What values past one end look like: their colour, the end's colour, or an empty box."""
    fill = None if rule == "transparent" else (bar_colour if rule == "extend" else (*rgb(rule), 255))
    draw.rectangle(box, fill=fill, outline=(0, 0, 0, 255))


def scale_legend(colormap: Colormap, title: str, units: str, width: int | None, height: int | None,
                 bar_only: bool = False) -> np.ndarray:
    """A colour bar for a ramp: its range (ticks on a log scale when it is one), the units, and
    boxes showing what values above and below the range become. ``bar_only``: the bar alone,
    filling the picture (as ncWMS clients ask for it)."""
    fixed = colormap.model_copy(update={"fit": "fixed"})
    low, high, log = colormap.minimum, colormap.maximum, colormap.scale == "log"
    if bar_only:
        w, h = width or 30, height or 200
        colours = _colours(fixed, _bar_values(low, high, log, h))
        return np.ascontiguousarray(np.repeat(colours[:, None, :], w, axis=1))
    w, h = width or SCALE_LEGEND_SIZE[0], height or SCALE_LEGEND_SIZE[1]
    img = Image.new("RGBA", (w, h), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    label = f"{title} ({units})" if units else title
    draw.text((2, 2), label[: max(4, w // 6)], fill=(0, 0, 0, 255))
    box = 10  # the above/below boxes' height
    top, bottom = 18 + box + 4, h - box - 6
    rows = max(2, bottom - top)
    colours = _colours(fixed, _bar_values(low, high, log, rows))
    for y, colour in enumerate(colours):
        draw.line([(4, top + y), (24, top + y)], fill=tuple(int(c) for c in colour))
    draw.rectangle([4, top, 24, top + rows - 1], outline=(0, 0, 0, 255))
    _out_of_range_box(draw, [4, top - box - 3, 24, top - 3], colormap.above, tuple(int(c) for c in colours[0]))
    _out_of_range_box(draw, [4, top + rows + 2, 24, top + rows + 2 + box], colormap.below,
                      tuple(int(c) for c in colours[-1]))
    for value in _ticks(low, high, log):
        y = _row_of(value, low, high, log, top, rows)
        draw.line([(24, y), (28, y)], fill=(0, 0, 0, 255))
        draw.text((31, y - 6), f"{value:.4g}", fill=(0, 0, 0, 255))
    return np.asarray(img).copy()


def message_picture(width: int, height: int, text: str) -> np.ndarray:
    """A transparent RGBA picture with ``text`` wrapped across it (empty text: blank)."""
    img = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    if text:
        draw = ImageDraw.Draw(img)
        chars = max(8, width // 7)
        lines = [text[i : i + chars] for i in range(0, len(text), chars)][: max(1, height // 14)]
        for n, line in enumerate(lines):
            draw.text((4, 4 + 14 * n), line, fill=(200, 0, 0, 255))
    return np.asarray(img).copy()
