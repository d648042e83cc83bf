"""View models of the WCS documents: coverages with their native grid, range and CRSs, as strings.

Numbers are written so that they read back to the very same float (``exact``): a client can
rebuild the source's geotransform from DescribeCoverage without rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ogcserver.core.catalog import Layer
from ogcserver.core.coverage_grid import native_grid
from ogcserver.model.catalog import LayerInfo
from ogcserver.model.geo import BBox, epsg_code, whole_longitudes
from ogcserver.ows.capabilities import DimensionView, bbox_in, dimension_views
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.wcs.axes import crs_axes, crs_uri, crs_urn
from ogcserver.ows.wcs.common import field_names, formats_for
from ogcserver.settings import Settings


def exact(value: float) -> str:
    """The shortest text that reads back to the same float."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _field_description(info: LayerInfo, band: int, name: str) -> str:
    """The band's name, and how its stored values become physical ones where they differ."""
    label = info.band_names[band] or name
    if band >= len(info.scales):
        return label
    return f"{label}: stored values; value * {exact(info.scales[band])} + {exact(info.offsets[band])} " \
           "is the physical value (scale and offset)"


@dataclass(frozen=True)
class FieldView:
    name: str
    description: str
    dtype: str
    nodata: str          # empty when the coverage has none
    interval: str        # "min max" the data type can hold


@dataclass(frozen=True)
class CoverageView:
    """One coverage: coordinates are given in x/y order and, with ``_crs`` suffix, in CRS order."""

    id: str
    title: str
    abstract: str
    keywords: tuple[str, ...]
    lonlat: tuple[str, str, str, str]   # west south east north
    code: str                           # EPSG:n
    uri: str
    urn: str
    high: str                           # "width-1 height-1"
    envelope: tuple[str, str, str, str]  # minx miny maxx maxy
    lower_crs: str                      # envelope corners in CRS axis order
    upper_crs: str
    lower_points_crs: str               # the outermost pixel centres (WCS 1.1 bounds grid points)
    upper_points_crs: str
    origin: tuple[str, str]             # centre of the top-left pixel, x y
    origin_crs: str
    resolution: tuple[str, str]         # pixel width, pixel height (positive)
    offsets_crs: tuple[str, str]        # offset vectors of grid axes i (columns) and j (rows), CRS order
    grid_offsets_crs: str               # WCS 1.1 GridOffsets (2dSimpleGrid), CRS order
    axis_labels: str
    uom_labels: str
    fields: tuple[FieldView, ...]
    formats: tuple[str, ...]
    crs_codes: tuple[str, ...]          # every CRS a request may use, native first
    boxes: tuple[tuple[str, str, str], ...]  # (crs uri, lower, upper) in CRS axis order
    dimensions: tuple[DimensionView, ...] = ()  # axes besides x and y (multidimensional layers)


def _interval(dtype: str) -> str:
    kind = np.dtype(dtype)
    info = np.finfo(kind) if kind.kind == "f" else np.iinfo(kind)
    return f"{exact(info.min) if kind.kind == 'f' else info.min} {exact(info.max) if kind.kind == 'f' else info.max}"


def _in_crs_order(code: str, x: float, y: float) -> str:
    return f"{exact(y)} {exact(x)}" if crs_axes(code)[0].xy == 1 else f"{exact(x)} {exact(y)}"


def _boxes(bounds: BBox, codes: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """The coverage's bounds in each CRS it is offered in (where they can be expressed)."""
    boxes = []
    for code in codes:
        box = bbox_in(bounds, code)
        if box is not None:
            lower, upper = _in_crs_order(code, box.minx, box.miny), _in_crs_order(code, box.maxx, box.maxy)
            boxes.append((crs_uri(code), lower, upper))
    return tuple(boxes)


def wcs_code(layer: Layer) -> str | None:
    """The native CRS as ``EPSG:n``; coverages whose CRS has no EPSG code are not offered."""
    code = epsg_code(layer.info.crs)
    return f"EPSG:{code}" if code is not None else None


def coverage_view(layer: Layer, code: str) -> CoverageView:
    info = layer.info
    grid = native_grid(info)
    t = grid.transform
    rx, ry = t.a, -t.e
    minx, maxy = t.c, t.f
    maxx, miny = minx + grid.width * rx, maxy - grid.height * ry
    cx, cy = minx + rx / 2, maxy - ry / 2
    yx = crs_axes(code)[0].xy == 1
    names = field_names(layer)
    nodata = "" if info.nodata is None else ("NaN" if info.nodata != info.nodata else exact(info.nodata))
    fields = tuple(
        FieldView(name, _field_description(info, i, name), info.dtype, nodata, _interval(info.dtype))
        for i, name in enumerate(names)
    )
    codes = tuple(dict.fromkeys([code, *info.advertised_crs]))
    axes = crs_axes(code)
    lon = whole_longitudes(info.lonlat_bounds)  # lonLatEnvelope, WGS84BoundingBox: west < east
    return CoverageView(
        id=info.name,
        title=info.title,
        abstract=info.abstract,
        keywords=info.keywords,
        lonlat=(exact(lon.minx), exact(lon.miny), exact(lon.maxx), exact(lon.maxy)),
        code=code,
        uri=crs_uri(code),
        urn=crs_urn(code),
        high=f"{grid.width - 1} {grid.height - 1}",
        envelope=(exact(minx), exact(miny), exact(maxx), exact(maxy)),
        lower_crs=_in_crs_order(code, minx, miny),
        upper_crs=_in_crs_order(code, maxx, maxy),
        lower_points_crs=_in_crs_order(code, cx, miny + ry / 2),
        upper_points_crs=_in_crs_order(code, maxx - rx / 2, cy),
        origin=(exact(cx), exact(cy)),
        origin_crs=_in_crs_order(code, cx, cy),
        resolution=(exact(rx), exact(ry)),
        offsets_crs=("0 " + exact(rx), exact(-ry) + " 0") if yx else (exact(rx) + " 0", "0 " + exact(-ry)),
        grid_offsets_crs=f"{exact(-ry)} {exact(rx)}" if yx else f"{exact(rx)} {exact(-ry)}",
        axis_labels=" ".join(a.label for a in axes),
        uom_labels=" ".join(a.uom for a in axes),
        fields=fields,
        formats=formats_for(layer),
        crs_codes=codes,
        boxes=_boxes(info.bounds, codes),
        dimensions=tuple(d for d in dimension_views(info) if not d.nearest),
    )


def offered(layers: list[Layer]) -> list[CoverageView]:
    return [coverage_view(layer, code) for layer in layers if (code := wcs_code(layer)) is not None]


def service_view(settings: Settings, endpoint: Endpoint) -> dict:
    """Title, contact and constraints of the endpoint (a configured service, or all of them)."""
    scoped = next((s for s in settings.services if s.name == endpoint.service), None)
    return {
        "title": scoped.title if scoped and scoped.title else settings.title,
        "abstract": scoped.abstract if scoped and scoped.abstract else settings.abstract,
        "keywords": list((scoped.keywords if scoped else ()) or settings.keywords),
        "contact": scoped.contact if scoped and scoped.contact else settings.contact,
        "fees": scoped.fees if scoped else settings.fees,
        "access_constraints": scoped.access_constraints if scoped else settings.access_constraints,
        "url": endpoint.url,
    }
