"""Hypothesis strategies for hostile request values: numbers past any bound, times at and past
the calendar's edges with any offset, CQL2 text built from real and unknown pieces, processing
chains with wrong types and sizes, and plain odd text."""

from __future__ import annotations

import json
from datetime import datetime

from hypothesis import strategies as st

from ogcserver.core.functions import library

ODD = ["", " ", "1e400", "-1e400", "nan", "inf", "-inf", "9" * 400, "-9" * 30, "1_000", "\u00b2", "\u0661\u0662",
       "0x10", "1e-300", "-0", "+5", "5 ", "\x00", "%00", "..", "/", ",", ";", "'", '"', "(", ")", "*",
       "\u202e", "\ufeff1"]
OFFSETS = ["", "Z", "+00:00", "+14:00", "-14:00", "+23:59", "-23:59"]

integers = st.one_of(st.integers(min_value=-(10**30), max_value=10**30), st.integers()).map(str)
floats = st.floats(allow_nan=True, allow_infinity=True).map(repr)
numbers = st.one_of(integers, floats, st.sampled_from(ODD))
times = st.one_of(
    st.builds(lambda d, offset: d.isoformat() + offset,
              st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
              st.sampled_from(OFFSETS)),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001", "9999-12", "2020-02-30",
                     "2020-13-01", "../..", "2020/2019", "2020/2021/P1D", "2020/2021/X", "current", "..", "/"]),
)
ranges = st.builds(lambda a, b: f"{a}/{b}", times, st.one_of(times, st.just("..")))
lists = st.lists(numbers, max_size=7).map(",".join)
text = st.text(max_size=40)
any_value = st.one_of(numbers, times, ranges, lists, text)

# -- CQL2 text ---------------------------------------------------------------------------------
PROPERTIES = ["eo:cloud_cover", "datetime", "id", "platform", "footprint", "no_such", "a" * 80, '"quoted"']
literal = st.one_of(numbers, st.builds(lambda t: f"'{t}'", text),
                    st.builds(lambda t: f"TIMESTAMP('{t}')", times), st.builds(lambda t: f"DATE('{t}')", times),
                    st.sampled_from(["TRUE", "FALSE", "NULL"]))
geometry = st.one_of(
    st.builds(lambda v: f"BBOX({v})", lists),
    st.builds(lambda v: f"POLYGON(({v}))", st.lists(st.builds(lambda a, b: f"{a} {b}", numbers, numbers),
                                                     max_size=6).map(", ".join)),
    st.builds(lambda v: f"POINT({v})", lists),
)
comparison = st.one_of(
    st.builds(lambda p, op, v: f"{p} {op} {v}", st.sampled_from(PROPERTIES),
              st.sampled_from(["=", "<>", "<", "<=", ">", ">=", "LIKE", "<<"]), literal),
    st.builds(lambda p, a, b: f"{p} BETWEEN {a} AND {b}", st.sampled_from(PROPERTIES), literal, literal),
    st.builds(lambda p, v: f"{p} IN ({v})", st.sampled_from(PROPERTIES), lists),
    st.builds(lambda p: f"{p} IS NULL", st.sampled_from(PROPERTIES)),
    st.builds(lambda f, p, t: f"{f}({p}, {t})", st.sampled_from(["T_BEFORE", "T_AFTER", "T_DURING", "T_EQUALS",
                                                                  "T_INTERSECTS", "T_NOSUCH"]),
              st.sampled_from(PROPERTIES),
              st.one_of(st.builds(lambda t: f"TIMESTAMP('{t}')", times),
                        st.builds(lambda a, b: f"INTERVAL('{a}', '{b}')", times, times))),
    st.builds(lambda f, g: f"{f}(footprint, {g})", st.sampled_from(["S_INTERSECTS", "S_WITHIN", "NOSUCH"]), geometry),
    st.builds(lambda f, v: f"{f}({v}) = 1", st.sampled_from(["upper", "casei", "nosuch"]), st.sampled_from(PROPERTIES)),
)
cql2 = st.one_of(
    st.recursive(comparison, lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["AND", "OR"]), inner),
        st.builds(lambda a: f"NOT ({a})", inner),
        st.builds(lambda a: f"({a})", inner),
    ), max_leaves=12),
    st.builds(lambda n: "(" * n + "a = 1" + ")" * n, st.integers(0, 300)),
    st.builds(lambda n: " AND ".join(["a = 1"] * n), st.integers(1, 400)),
    text,
)

# -- processing chains (RENDERINGRULE) -----------------------------------------------------------
FUNCTIONS = {cls.model_fields["function"].annotation.__args__[0]: [n for n in cls.model_fields if n != "function"]
             for cls in library.Function.__subclasses__()}
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
                      st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -1e308, 1e-308]),
                      text, st.sampled_from(["viridis", "b1 + b2", "b1 / 0", "minmax", "percent", "#ff0000"]))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.sampled_from(["type", "coordinates", "a", "b", "value"]),
                                                 inner, max_size=4)), max_leaves=20)
polygon = st.builds(lambda ring: {"type": "Polygon", "coordinates": [ring]},
                    st.lists(st.lists(st.one_of(st.floats(), st.integers(-(10**30), 10**30)), min_size=0, max_size=3),
                             max_size=6))


@st.composite
def function_step(draw) -> dict:
    name = draw(st.sampled_from([*FUNCTIONS, "nosuch"]))
    params = FUNCTIONS.get(name, ["x"])
    step = {"function": name}
    chosen = draw(st.lists(st.sampled_from(params), max_size=len(params), unique=True)) if params else []
    for key in chosen:
        step[key] = draw(polygon if key == "geometry" else json_value)
    return step


chain_rule = st.one_of(
    st.builds(lambda bands, chain: json.dumps({**({"bands": bands} if bands is not None else {}), "chain": chain}),
              st.one_of(st.none(), st.lists(st.integers(-3, 70), max_size=5), json_value),
              st.lists(function_step(), max_size=4)),
    st.builds(json.dumps, json_value),
    text,
)
