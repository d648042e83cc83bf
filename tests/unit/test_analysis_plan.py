"""Analysis jobs as plain values: the product's grid, its chunks, the digest that names a job,
the settings that configure the cluster, and zonal figures merged chunk by chunk."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ogcserver.core.analysis import plan
from ogcserver.core.analysis.plan import AnalysisSpec, check_spec, chunks
from ogcserver.core.analysis.zonal import Partial, parse_zones
from ogcserver.core.config import AnalysisConfig
from ogcserver.model.errors import InvalidValue, ResourceLimitExceeded


def spec(**changes):
    values = {"layer": "dem", "output": "out", "crs": "EPSG:32632", "bounds": (500003.0, 5190001.0, 511000.0, 5200000.0),
              "resolution": 10.0}
    return AnalysisSpec(**{**values, **changes})


def test_the_grid_is_the_area_in_whole_pixels_aligned_on_the_resolution():
    grid = spec().grid()
    assert (grid.transform.c, grid.transform.f) == (500000.0, 5200000.0)
    assert (grid.width, grid.height) == (1100, 1000) and grid.transform.a == 10 and grid.transform.e == -10


@given(st.integers(1, 5000), st.integers(1, 5000), st.sampled_from([512, 1024, 2048]))
@settings(max_examples=60, deadline=None)
def test_chunks_tile_the_grid_exactly_once(width, height, size):
    grid = spec(bounds=(0.0, 0.0, width * 10.0, height * 10.0)).grid()
    covered = np.zeros((grid.height, grid.width), dtype=np.uint8)
    names = set()
    for chunk in chunks(grid, size):
        r0, r1, c0, c1 = chunk.window
        covered[r0:r1, c0:c1] += 1
        names.add(chunk.name)
        assert r0 % size == 0 and c0 % size == 0  # aligned on the product's internal tiles
    assert (covered == 1).all() and len(names) == len(list(chunks(grid, size)))


def test_the_digest_changes_with_what_decides_the_pixels_only():
    assert spec().digest() == spec(owner="someone").digest()
    assert spec().digest() != spec(resolution=20.0).digest()
    assert spec().digest() != spec(bounds=(500003.0, 5190001.0, 511000.0, 5199990.0)).digest()


def test_bad_areas_and_oversized_products_are_refused():
    with pytest.raises(InvalidValue, match="minimum"):
        check_spec(spec(bounds=(1.0, 0.0, 0.0, 1.0)), 10**9)
    with pytest.raises(InvalidValue, match="positive"):
        check_spec(spec(resolution=0.0), 10**9)
    with pytest.raises(ResourceLimitExceeded):
        check_spec(spec(resolution=0.01), 10**9)


@pytest.mark.parametrize("values", [{"cluster": "http://host:1"}, {"cluster": "tcp://host"}, {"chunk_size": 1000},
                                    {"workers": 0}, {"memory_limit_mb": 10}, {"unknown": 1}])
def test_the_analysis_section_is_validated(values):
    with pytest.raises(ValidationError):
        AnalysisConfig(**values)


def test_the_analysis_section_accepts_a_scheduler_address():
    assert AnalysisConfig(cluster="tcp://scheduler.internal:8786").cluster == "tcp://scheduler.internal:8786"


@given(st.lists(st.lists(st.floats(-1e6, 1e6), min_size=0, max_size=50), min_size=1, max_size=8))
@settings(max_examples=100, deadline=None)
def test_merged_partials_equal_the_figures_of_all_values_at_once(parts):
    merged = Partial()
    for values in parts:
        v = np.array(values, dtype=np.float64)
        if v.size:
            merged = merged.add(Partial(v.size, v.mean(), ((v - v.mean()) ** 2).sum(), v.min(), v.max()))
    everything = np.array([x for p in parts for x in p], dtype=np.float64)
    assert merged.count == everything.size
    if everything.size:
        assert merged.mean == pytest.approx(everything.mean(), abs=1e-6)
        assert np.sqrt(merged.m2 / merged.count) == pytest.approx(everything.std(), rel=1e-6, abs=1e-6)
        assert (merged.minimum, merged.maximum) == (everything.min(), everything.max())


@pytest.mark.parametrize("zones, message", [
    ([], "GeoJSON object"), ({"type": "FeatureCollection", "features": []}, "no polygon"),
    ({"type": "Point", "coordinates": [9, 46]}, "zone 0"),
    ({"type": "Polygon", "coordinates": [[[500000, 0], [500100, 0], [500100, 100], [500000, 0]]]}, "longitude"),
])
def test_bad_zones_are_refused_clearly(zones, message):
    with pytest.raises(InvalidValue, match=message):
        parse_zones(zones, 100)


def test_too_many_zones_are_refused():
    square = {"type": "Polygon", "coordinates": [[[9, 46], [9.1, 46], [9.1, 46.1], [9, 46]]]}
    with pytest.raises(InvalidValue, match="at most 2"):
        parse_zones({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": square}] * 3}, 2)


def test_chunks_of_another_format_are_another_job(monkeypatch):
    # a run never resumes from chunks written in another format (e.g. without their overview levels)
    before = spec().digest()
    monkeypatch.setattr(plan, "CHUNK_FORMAT", plan.CHUNK_FORMAT + 1)
    assert spec().digest() != before
