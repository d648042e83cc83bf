"""A function over the dimensions through WCS 2.0 (RENDERINGRULE, where processing is allowed):
the coverage on the native grid equals xarray's reduction of the same steps."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import rasterio
import yaml

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.support import cubes


@pytest.fixture(scope="module")
def client_and_cube(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wcs-analysis")
    cube = cubes.four_d(folder / "cube.nc")
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump({"server": {"data_dir": str(folder / "state")}, "services": [
        {"name": "s", "allow_processing": True, "layers": [{"name": "ta", "source": str(cube), "variable": "ta"}]}]}))
    return create_app(load_settings(path)).test_client(), cube


def get_coverage(client, rule: dict, **extra):
    return client.get("/wcs", query_string={"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                            "COVERAGEID": "ta", "FORMAT": "image/tiff",
                                            "RENDERINGRULE": json.dumps(rule), **extra})


@pytest.mark.parametrize("statistic", ["mean", "std"])
def test_a_coverage_of_an_aggregate_equals_xarray(client_and_cube, statistic):
    client, cube = client_and_cube
    r = get_coverage(client, {"over": {"statistic": statistic, "steps": {"time": "2001-01/2001-03"}}})
    assert r.status_code == 200, r.data[:300]
    with rasterio.open(io.BytesIO(r.data)) as ds:
        got, nodata = ds.read(1), ds.nodata
        assert (ds.width, ds.height, ds.dtypes[0]) == (72, 36, "float32")
    expected = getattr(cubes.decoded(cube, "ta").sel(level=1000.0).isel(time=slice(0, 3)), statistic)("time").values
    holes = ~np.isfinite(expected)
    assert ((got == nodata) | np.isnan(got)).tolist() == holes.tolist()
    np.testing.assert_allclose(got[~holes], expected[~holes].astype("float32"), rtol=2e-6, atol=1e-4)


def test_a_trimmed_time_axis_is_the_aggregates_input_one_band(client_and_cube):
    """SUBSET=time(...) names the steps the rule aggregates: one band, not one per step."""
    client, cube = client_and_cube
    r = get_coverage(client, {"over": {"statistic": "max"}},
                     SUBSET='time("2001-01-31T00:00:00Z","2001-04-01T00:00:00Z")')
    assert r.status_code == 200, r.data[:300]
    with rasterio.open(io.BytesIO(r.data)) as ds:
        assert ds.count == 1
        got = ds.read(1)
    expected = cubes.decoded(cube, "ta").sel(level=1000.0).isel(time=slice(1, 4)).max("time").values
    valid = np.isfinite(expected)
    np.testing.assert_array_equal(got[valid], expected[valid].astype("float32"))


def test_a_coverage_of_an_anomaly_equals_xarray(client_and_cube):
    client, cube = client_and_cube
    r = get_coverage(client, {"over": {"operation": "anomaly", "steps": {"time": "2001-03/2001-04"},
                                       "reference": {"time": "2001-01-01"}}})
    with rasterio.open(io.BytesIO(r.data)) as ds:
        got = ds.read(1)
    ta = cubes.decoded(cube, "ta").sel(level=1000.0)
    expected = (ta.isel(time=slice(2, 4)).mean("time") - ta.isel(time=0)).values
    valid = np.isfinite(expected)
    np.testing.assert_allclose(got[valid], expected[valid].astype("float32"), rtol=1e-5, atol=1e-4)


def test_a_rule_naming_a_dimension_the_coverage_lacks_is_refused(client_and_cube):
    """WCS 2.0.1 words every dimension value naming no step as InvalidSubsetting (404)."""
    client, _cube = client_and_cube
    r = get_coverage(client, {"over": {"statistic": "mean", "steps": {"depth": "0/10"}}})
    assert r.status_code == 404 and b'exceptionCode="InvalidSubsetting"' in r.data
    assert b"no dimension 'depth'" in r.data
