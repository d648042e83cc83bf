"""HDF5 files written without dimension scales (plain h5py datasets): a 2-D dataset with 1-D
``lat`` and ``lon`` datasets of its lengths beside it is served on their grid; one whose axes
cannot be told apart is refused, the variable and the reason logged, and the server starts."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pytest
import rasterio
import requests
import yaml

from ogcserver.app import create_app
from ogcserver.settings import load_settings
from tests.conftest import serving

LATS, LONS = np.linspace(49.5, 40, 20), np.linspace(0.25, 14.75, 30)  # 0.5 degree cell centres, north first


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hdf5-plain")
    values = np.random.default_rng(5).normal(280, 5, (LATS.size, LONS.size)).astype("float32")
    with h5py.File(folder / "grid.h5", "w") as f:
        f["temp"], f["lat"], f["lon"] = values, LATS, LONS
        f["temp"].attrs["units"] = "K"
    with h5py.File(folder / "square.h5", "w") as f:  # lat and lon of one length: which is which axis?
        f["temp"], f["lat"], f["lon"] = np.zeros((10, 10), "float32"), LATS[:10], LONS[:10]
    return folder, values


def test_a_dataset_with_lat_and_lon_siblings_is_served_on_their_grid(files):
    folder, values = files
    config = folder / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({"server": {"data_dir": str(folder / "state")}, "services": [
        {"name": "h", "layers": [{"name": "grid", "source": str(folder / "grid.h5")}]}]}))
    client = create_app(load_settings(config)).test_client()
    r = client.get("/wcs?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=grid&FORMAT=image/tiff")
    assert r.status_code == 200, r.data[:400]
    with rasterio.open(io.BytesIO(r.data)) as ds:
        np.testing.assert_array_equal(ds.read(1), values)
        assert ds.transform == rasterio.Affine(0.5, 0, 0, 0, -0.5, 49.75) and ds.crs.to_epsg() == 4326


def test_a_square_dataset_is_refused_naming_the_variable_and_the_server_starts(files):
    folder, _values = files
    paths = [str(folder / "square.h5"), str(folder / "grid.h5")]
    with serving([*paths, "--data-dir", str(folder / "served")], folder, workers=1) as (url, log_path):
        caps = requests.get(url + "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0", timeout=30).text
    log = log_path.read_text()
    assert "<Name>grid_temp</Name>" in caps and "square" not in caps
    assert '"variable": "temp", "reason": "its dimensions phony_dim_0, phony_dim_1 have no coordinates' in log
    assert "square.h5" in log and "a square grid's are ambiguous" in log
