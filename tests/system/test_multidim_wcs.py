"""Multidimensional layers over WCS: values on the native grid equal xarray's decoded values bit
for bit (with nodata), a slice takes one step, a trim one band per step named by its step,
limits.max_steps bounds a trim, WCS 1.0.0 takes TIME and ELEVATION, and GDAL's WCS driver reads a
time slice from a live server."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rasterio
import yaml
from lxml import etree

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.conftest import serving
from tests.support import cubes
from tests.support.schemas import assert_valid
from tests.system.test_wcs_documents import wcs_schema

OWS = "{http://www.opengis.net/ows/2.0}"


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wcs-cubes")
    cube = cubes.four_d(folder / "cube.nc")
    store = cubes.zarr_store(folder / "obs.zarr", zarr_format=3)
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")}, "limits": {"max_steps": 6},
        "services": [{"name": "cubes", "layers": [{"name": "ta", "source": str(cube), "variable": "ta"},
                                                   {"name": "tas", "source": str(store)}]}]}))
    return path


@pytest.fixture(scope="module")
def client(config):
    return create_app(load_settings(config)).test_client()


def coverage(client, query: str):
    r = client.get("/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&FORMAT=image/tiff&" + query)
    assert r.status_code == 200, r.data[:400]
    with rasterio.open(io.BytesIO(r.data)) as ds:
        return ds.read(), ds.descriptions, ds.transform, ds.nodata


@pytest.mark.parametrize("subsets, steps", [
    ("", [(3, 2)]),  # defaults: the latest time, the level nearest the surface
    ('&SUBSET=time("2001-01-31T00:00:00Z")&SUBSET=elevation(500)', [(1, 0)]),
    ('&SUBSET=time("2001-01-01","2001-03-31")&SUBSET=elevation(850)', [(0, 1), (1, 1), (2, 1)]),
    ('&SUBSET=ansi("2001-03-02")&SUBSET=elevation(500,1000)', [(2, 0), (2, 1), (2, 2)]),
])
def test_native_grid_values_equal_xarray_bit_for_bit(client, config, subsets, steps):
    data, names, transform, nodata = coverage(client, "COVERAGEID=ta" + subsets)
    truth = cubes.decoded(config.parent / "cube.nc", "ta")
    assert np.isnan(nodata) and transform == rasterio.Affine(5, 0, -180, 0, -5, 90)
    assert len(data) == len(steps)
    for band, (t, z), name in zip(data, steps, names):
        expected = truth.isel(time=t, level=z)
        np.testing.assert_array_equal(band, expected.values)  # NaN (nodata) exactly where xarray has NaN
        assert name == f"ta time={truth.time.values[t].strftime('%Y-%m-%dT%H:%M:%SZ')}, elevation={cubes.LEVELS[::-1][z]:g}"


def test_a_zarr_v3_store_and_a_window(client, config):
    data, names, transform, _ = coverage(client, 'COVERAGEID=tas&SUBSET=Lat(41,43)&SUBSET=Long(6,9)&SUBSET=time("2020-01-02")')
    truth = cubes.decoded(config.parent / "obs.zarr", "tas").isel(time=1).sel(lat=slice(43, 41), lon=slice(6, 9))
    np.testing.assert_array_equal(data[0], truth.values)
    assert names == ("tas time=2020-01-02T00:00:00Z",)


@pytest.mark.parametrize("subsets, message", [
    ('SUBSET=time("1999-01-01")', b"names no time step of this layer"),
    ('SUBSET=elevation(700)', b"names no elevation step of this layer"),
    ('SUBSET=time("2001-01-01","2001-04-01")&SUBSET=elevation(500,1000)', b"names 12 steps; at most 6 (limits.max_steps)"),
    ('SUBSET=time("2001-04-01","2001-01-01")', b"ends before it starts"),
])
def test_subsets_naming_no_step_or_too_many_are_invalid_subsetting(client, subsets, message):
    r = client.get("/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=ta&" + subsets)
    assert r.status_code == 404
    exception = etree.fromstring(r.data).find(f"{OWS}Exception")
    assert exception.get("exceptionCode") == "InvalidSubsetting" and message in r.data


def test_wcs_100_takes_time_and_elevation(client, config):
    truth = cubes.decoded(config.parent / "cube.nc", "ta")
    r = client.get("/wcs?SERVICE=WCS&VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=ta&CRS=EPSG:4326&BBOX=-180,-90,180,90"
                   "&WIDTH=72&HEIGHT=36&FORMAT=GeoTIFF&TIME=2001-01-31&ELEVATION=850")
    assert r.status_code == 200, r.data[:300]
    with rasterio.open(io.BytesIO(r.data)) as ds:
        np.testing.assert_array_equal(ds.read(1), truth.isel(time=1, level=1).values)
    bad = client.get("/wcs?SERVICE=WCS&VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=ta&CRS=EPSG:4326"
                     "&BBOX=-180,-90,180,90&WIDTH=72&HEIGHT=36&FORMAT=GeoTIFF&TIME=1999")
    assert bad.status_code == 400 and b'locator="TIME"' in bad.data


def test_gdal_wcs_driver_reads_a_time_slice(config, tmp_path):
    """WCS 1.0.0: GDAL lists the temporal domain's times as subdatasets; 2.0.1: a time subset in the URL."""
    truth = cubes.decoded(config.parent / "cube.nc", "ta")
    with serving(["-c", str(config)], config.parent, workers=1) as (url, _log), rasterio.Env(GDAL_HTTP_TIMEOUT=20):
        with rasterio.open(f"WCS:{url}/wcs?version=1.0.0&coverage=ta", cache=str(tmp_path / "100")) as ds:
            times = ds.subdatasets
        assert len(times) == cubes.TIMES and "time=2001-01-31T00:00:00Z," in times[1]
        with rasterio.open(times[1]) as ds:
            np.testing.assert_array_equal(ds.read(1), truth.isel(time=1, level=2).values)
        with rasterio.open(f"WCS:{url}/wcs?version=2.0.1&coverage=ta&subset=time(%222001-03-02%22)",
                           cache=str(tmp_path / "201")) as ds:
            np.testing.assert_array_equal(ds.read(1), truth.isel(time=2, level=2).values)


@pytest.mark.parametrize("version", ["1.0.0", "2.0.1"])
def test_descriptions_list_the_extra_axes_and_are_valid(client, ogc_schemas, version):
    key = "COVERAGE" if version == "1.0.0" else "COVERAGEID"
    r = client.get(f"/wcs?SERVICE=WCS&VERSION={version}&REQUEST=DescribeCoverage&{key}=ta")
    assert r.status_code == 200
    assert_valid(wcs_schema(ogc_schemas, version), r.data)
    root = etree.fromstring(r.data)
    if version == "1.0.0":
        times = [e.text for e in root.iter("{http://www.opengis.net/gml}timePosition")]
        assert times == ["2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z", "2001-03-02T00:00:00Z", "2001-04-01T00:00:00Z"]
        return
    axes = {d.get("name"): (d.get("units"), d.get("default"), [v.text for v in d])
            for d in root.iter("{urn:ogcserver:wcs:dimensions}Dimension")}
    assert axes == {"time": ("ISO8601", "2001-04-01T00:00:00Z", ["2001-01-01T00:00:00Z", "2001-01-31T00:00:00Z",
                                                                  "2001-03-02T00:00:00Z", "2001-04-01T00:00:00Z"]),
                    "elevation": ("hPa", "1000", ["500", "850", "1000"])}


def test_a_trim_as_cf_netcdf_holds_the_cube(client, config, tmp_path):
    """FORMAT=application/netcdf: one variable over (time, level, lat, lon) with the steps' coordinates
    in the source's calendar, values equal to xarray's decoding, nodata as _FillValue."""
    import xarray as xr

    r = client.get('/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=ta&FORMAT=application/netcdf'
                   '&SUBSET=time("2001-01-01","2001-03-31")&SUBSET=elevation(500,850)&SUBSET=Lat(-40,40)')
    assert r.status_code == 200 and r.mimetype == "application/netcdf", r.data[:300]
    path = tmp_path / "cube.nc"
    path.write_bytes(r.data)
    truth = cubes.decoded(config.parent / "cube.nc", "ta").isel(time=[0, 1, 2], level=[0, 1]).sel(lat=slice(40, -40))
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        got = ds["ta"].load()
        assert got.dims == ("time", "level", "lat", "lon") and ds.attrs["Conventions"] == "CF-1.8"
        assert [t.strftime("%Y-%m-%d") for t in got.time.values] == ["2001-01-01", "2001-01-31", "2001-03-02"]
        assert got.time.values[0].calendar == "noleap" and got.level.values.tolist() == [500.0, 850.0]
        np.testing.assert_array_equal(got.values, truth.values)
        np.testing.assert_array_equal(got.lat.values, truth.lat.values)
        assert ds["crs"].attrs["grid_mapping_name"] == "latitude_longitude"
    r = client.get("/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=ta&FORMAT=image/gif")
    assert r.status_code == 400 and b"application/netcdf for multidimensional coverages" in r.data
