"""Fuzzing the request parsers (hypothesis): any text gives a parsed, bounded value or the
domain's InvalidValue / the protocol's OwsError; nothing else ever escapes."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ogcserver.core.filters import parse_filter
from ogcserver.core.functions.expression import Expression
from ogcserver.model.errors import OgcServerError
from ogcserver.model.mosaic import parse_ordering
from ogcserver.model.time import parse_time
from ogcserver.ows.colour_scale import parse_colour_scale
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.items import parse_item_query, parse_rendering_rule
from ogcserver.ows.kvp import Params
from ogcserver.ows.wcs import kvp20
from ogcserver.ows.wms import parse as wms_parse
from ogcserver.ows.wmts import parse as wmts_parse
from tests.support import hostile_requests as hostile

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
EXPECTED = (OgcServerError, OwsError)


def total(parse, *args) -> None:
    try:
        parse(*args)
    except EXPECTED:
        pass


@FUZZ
@given(st.one_of(hostile.times, hostile.ranges, hostile.text))
def test_time(text):
    try:
        value = parse_time(text)
    except OgcServerError:
        return
    assert value.start <= value.end


@FUZZ
@given(st.one_of(hostile.text, hostile.numbers, st.builds(lambda a, op, b: f"{a} {op} {b}",
                 st.one_of(hostile.numbers, st.sampled_from(["b1", "b2", "b99", "x"])),
                 st.sampled_from(["+", "-", "*", "/", "**", "<", "==", "and", ","]),
                 st.one_of(hostile.numbers, st.sampled_from(["b1", "sqrt(b1)", "where(b1, 1, 2)"])))))
def test_expression(text):
    try:
        expression = Expression(text)
    except OgcServerError:
        return
    bands = {b: np.linspace(-2, 2, 4, dtype=np.float32).reshape(2, 2) for b in expression.bands}
    assert expression.evaluate(bands).dtype == np.float32  # parsed means computable


@FUZZ
@given(hostile.cql2)
def test_cql2_filter(text):
    total(parse_filter, text)


@FUZZ
@given(hostile.chain_rule)
def test_rendering_rule(text):
    total(parse_rendering_rule, text)


@FUZZ
@given(st.one_of(hostile.text, st.builds(lambda kind, rest: f"{kind}:{rest}",
                                         st.sampled_from(["by", "closest", "lock", "closest:datetime", "x"]),
                                         hostile.any_value)))
def test_mosaic_order(text):
    try:
        parse_ordering(text)
    except ValueError:
        pass


KVP_KEYS = ["SERVICE", "VERSION", "REQUEST", "LAYERS", "LAYER", "STYLES", "STYLE", "CRS", "SRS", "BBOX", "WIDTH",
            "HEIGHT", "FORMAT", "TRANSPARENT", "BGCOLOR", "TIME", "FILTER", "MOSAICORDER", "MOSAICOPERATOR",
            "RESAMPLING", "EXCEPTIONS", "QUERY_LAYERS", "I", "J", "X", "Y", "INFO_FORMAT", "FEATURE_COUNT",
            "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL", "INFOFORMAT", "COVERAGEID", "SUBSET", "SCALEFACTOR",
            "SCALESIZE", "SCALEAXES", "SCALEEXTENT", "RANGESUBSET", "INTERPOLATION", "INTERPOLATIONPERAXIS",
            "OUTPUTCRS", "SUBSETTINGCRS", "MEDIATYPE", "GEOTIFF:TILEWIDTH", "RENDERINGRULE", "PROCESSING",
            "COLORSCALERANGE", "LOGSCALE", "NUMCOLORBANDS", "ABOVEMAXCOLOR", "BELOWMINCOLOR", "COLORBARONLY",
            "PALETTE"]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(KVP_KEYS), hostile.any_value), max_size=12))
def test_kvp_request_parsers(pairs):
    try:
        params = Params(pairs)
    except OwsError:
        return
    for wms in (wms_parse.parse_getmap, wms_parse.parse_getfeatureinfo, wms_parse.parse_getlegendgraphic):
        for version in wms_parse.VERSIONS:
            total(wms, params, version, None)
    for parse in (wmts_parse.parse_kvp_tile, wmts_parse.parse_kvp_feature_info):
        total(parse, params, None)
    total(parse_item_query, params)
    total(kvp20.kvp_request, params)
    total(parse_colour_scale, params)


@FUZZ
@given(st.dictionaries(st.sampled_from(["COLORSCALERANGE", "LOGSCALE", "NUMCOLORBANDS", "ABOVEMAXCOLOR",
                                        "BELOWMINCOLOR"]),
                       st.one_of(hostile.any_value, st.lists(st.floats(), min_size=2, max_size=2).map(
                           lambda v: ",".join(map(repr, v))))))
def test_colour_scales_are_bounded_or_refused_naming_their_parameter(given_params):
    """A colour scale parses into finite, ordered ranges, 1..255 bands and #rrggbb colours, or
    is refused as an InvalidParameterValue naming the parameter at fault."""
    try:
        scale = parse_colour_scale(Params(given_params.items()))
    except OwsError as exc:
        assert exc.code == "InvalidParameterValue" and exc.locator in given_params
        return
    if scale.range is not None:
        low, high = scale.range
        assert np.isfinite(low) and np.isfinite(high) and low < high and (not scale.log or low > 0)
    assert scale.color_bands is None or 1 <= scale.color_bands <= 255
    for colour in (scale.above, scale.below):
        assert colour is None or colour in ("extend", "transparent") or re.fullmatch("#[0-9a-f]{6}", colour)
