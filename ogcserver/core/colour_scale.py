"""Colour scales for one band of values (scientific data): which styles offer one, and the chain
that draws a layer's band through it.

A scalar style is ``default-scalar.<ramp>`` (a name that fits a URL path segment, as WMTS
RESTful tiles need, and that no processing template can take); a request's colour scale (range, log, bands,
out-of-range colours) overrides the layer's configured one, which overrides the defaults. The
chain is an ordinary processing template ending in the library's ``Colormap``, so maps, tiles
and legends colour values through the one mapping in ``core/functions/ramps.py``; a
processing template of the layer that ends in a ramp takes the same overrides.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ogcserver.core.config import ColourScaleConfig
from ogcserver.core.functions.library import Colormap
from ogcserver.core.functions.ramps import RAMP_NAMES
from ogcserver.core.functions.templates import ProcessingTemplate
from ogcserver.core.query import ColourScale
from ogcserver.model.catalog import LayerInfo, StyleInfo
from ogcserver.model.errors import ColourScaleRefused

if TYPE_CHECKING:  # the catalog describes layers with scalar_styles from here
    from ogcserver.core.catalog import Layer

SCALAR = "default-scalar"
DEFAULTS = ColourScaleConfig()


def scalar_style_name(ramp: str) -> str:
    return f"{SCALAR}.{ramp}"


def scalar_styles(band_count: int) -> tuple[StyleInfo, ...]:
    """The colour scales a layer showing ``band_count`` bands offers as styles (one band only)."""
    if band_count != 1:
        return ()
    return tuple(StyleInfo(scalar_style_name(r), f"Colour scale: {r}",
                           f"The band's values through the {r} ramp") for r in RAMP_NAMES)


def scalar_ramp(style: str) -> str | None:
    """The ramp of a scalar style name (None: not a scalar style; '': the configured ramp)."""
    if style == SCALAR:
        return ""
    head, _, ramp = style.partition(".")
    return ramp if head == SCALAR and ramp in RAMP_NAMES else None


def is_scalar(info: LayerInfo, style: str) -> bool:
    """Whether ``style`` is a colour scale this layer offers."""
    return bool(info.scalar_styles) and scalar_ramp(style) is not None


def _default_range(layer: Layer) -> tuple[float, float]:
    """The layer's statistics (its ``value_range`` when configured), else 0..255 (bytes)."""
    if layer.info.statistics:
        low, high = layer.info.statistics[0].low, layer.info.statistics[0].high
        return (low, high) if high > low else (low, low + 1)
    return 0.0, 255.0


def _colormap(base: Colormap, defaults: tuple[float, float], scale: ColourScale) -> Colormap:
    """``base`` with the request's overrides; its range checked as the request leaves it."""
    low, high = scale.range or ((base.minimum, base.maximum) if base.fit == "fixed" else defaults)
    log = base.scale == "log" if scale.log is None else scale.log
    fit = "view" if scale.fit_view else ("fixed" if scale.range else base.fit)
    if log and fit == "fixed" and low <= 0:
        raise ColourScaleRefused(f"a logarithmic scale needs a positive range; the range is {low:.6g} to {high:.6g}")
    return Colormap.model_validate({
        **base.model_dump(), "minimum": low, "maximum": high, "scale": "log" if log else "linear", "fit": fit,
        "color_bands": scale.color_bands if scale.color_bands is not None else base.color_bands,
        "above": scale.above or base.above, "below": scale.below or base.below,
    })


def scalar_template(layer: Layer, style: str, template: ProcessingTemplate | None,
                    scale: ColourScale) -> ProcessingTemplate | None:
    """The chain drawing the layer in ``style`` with the request's colour scale.

    A scalar style, or the default style of a one-band layer with a configured colour scale or
    a requested one, draws the band through a colour scale; a template ending in a ramp takes
    the request's overrides; any other template (or style) is returned as it was."""
    if template is not None:
        if not template.chain:  # a function over dimensions alone: drawn as the layer is
            return template
        last = template.chain[-1]
        if scale.is_default or template.compare is not None or not isinstance(last, Colormap) or last.stops:
            return template
        limits = (last.minimum, last.maximum)
        return template.model_copy(update={"chain": (*template.chain[:-1], _colormap(last, limits, scale))})
    ramp = scalar_ramp(style) if style else None
    config = layer.config.colour_scale
    if not layer.info.scalar_styles or (ramp is None and config is None and scale.is_default):
        return None
    config = config or DEFAULTS
    low, high = _default_range(layer)
    base = Colormap(function="colormap", ramp=ramp or config.palette, minimum=low, maximum=max(high, low),
                    fit="fixed", color_bands=config.color_bands, above=config.above, below=config.below)
    colormap = _colormap(base, (low, high), scale if scale.log is not None else replace(scale, log=config.log))
    return ProcessingTemplate(name=SCALAR, title=f"Colour scale: {colormap.ramp}", bands=layer.render_bands,
                              chain=(colormap,))
