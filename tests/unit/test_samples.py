"""Tests for the demo data generator samples/generate.py (run at scale 0.125)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp, MaskFlags

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from samples.area import LAKE_C  # noqa: E402
from samples.generate import generate  # noqa: E402

SCALE = 0.125


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples") / "data"
    return out, generate(out, scale=SCALE)


def _files(manifest, kind):
    return [f for f in manifest["files"] if f["kind"] == kind]


def _ortho_paths(out: Path):
    return sorted((out / "ortho").glob("ortho_r*c*_*.tif"))


def test_files_and_manifest_exist(generated):
    out, manifest = generated
    assert (out / "MANIFEST.json").is_file()
    assert json.loads((out / "MANIFEST.json").read_text()) == manifest
    assert (out / "dem.tif").is_file()
    assert (out / "scene_multispectral.tif").is_file()
    assert len(_ortho_paths(out)) == 6
    assert len(manifest["files"]) == 8
    assert manifest["scale"] == SCALE
    for entry in manifest["files"]:
        path = out / entry["path"]
        assert path.is_file()
        assert entry["size_bytes"] == path.stat().st_size
        assert entry["sha256"] == _sha256(path)
        assert len(entry["bounds"]) == 4
    assert manifest["total_bytes"] == sum(f["size_bytes"] for f in manifest["files"])
    # no sidecar or temporary files are left behind
    leftovers = [p for p in out.rglob("*") if p.is_file()
                 and (p.suffix in (".xml", ".part") or p.name.endswith(".aux.xml"))]
    assert leftovers == []


def test_crs_dtypes_and_bands(generated):
    out, manifest = generated
    with rasterio.open(out / "dem.tif") as ds:
        assert ds.crs.to_epsg() == 32632
        assert (ds.count, ds.dtypes[0]) == (1, "float32")
        assert ds.descriptions == ("elevation",)
        assert ds.units == ("m",)
        assert ds.width == ds.height == 256
    for path in _ortho_paths(out):
        with rasterio.open(path) as ds:
            assert ds.crs.to_epsg() == 32632
            assert ds.count == 4 and set(ds.dtypes) == {"uint8"}
            assert ds.descriptions == ("red", "green", "blue", "nir")
            assert ds.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                                      ColorInterp.undefined)
            assert ds.block_shapes[0][0] == ds.block_shapes[0][1] >= 64  # square tiles
            assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert ds.compression.name.lower() == "deflate"
    with rasterio.open(out / "scene_multispectral.tif") as ds:
        assert ds.crs.to_epsg() == 32632
        assert ds.count == 6 and set(ds.dtypes) == {"uint16"}
        assert ds.descriptions == ("blue", "green", "red", "nir", "swir1", "swir2")
        assert ds.nodata == 0
        tags = ds.tags()
        assert tags["SENSOR"] == "synthetic-msi"
        assert float(tags["CLOUD_COVER"]) == 3.5
        data = ds.read()
        valid = (data != 0).all(axis=0)
        assert 0.5 < valid.mean() < 1.0  # rotated swath collar
        assert data[:, valid].min() >= 500 and data[:, valid].max() <= 12000
    for entry in manifest["files"]:
        assert entry["crs"] == "EPSG:32632"


def test_overviews(generated):
    out, _ = generated
    with rasterio.open(out / "dem.tif") as ds:
        assert ds.overviews(1)[:2] == [2, 4]
    for path in _ortho_paths(out):
        with rasterio.open(path) as ds:
            assert ds.overviews(1), path.name
            assert ds.overviews(4) == ds.overviews(1)


def test_dem_nodata(generated):
    out, _ = generated
    with rasterio.open(out / "dem.tif") as ds:
        assert ds.nodata == -9999
        data = ds.read(1)
        invalid = data == -9999
        assert 0.01 < invalid.mean() < 0.5
        valid = data[~invalid]
        assert 280 < valid.min() and valid.max() < 1000
        # the lake is a hole in the DEM
        row, col = ds.index(*LAKE_C)
        assert data[row, col] == -9999
        # overviews are computed nodata-aware: no mixed values below the terrain
        ov = ds.read(1, out_shape=(ds.height // 2, ds.width // 2))
        assert ov[ov != -9999].min() > 280


def test_masked_and_nodata_ortho_tiles(generated):
    out, _ = generated
    masked = nodata = 0
    for path in _ortho_paths(out):
        with rasterio.open(path) as ds:
            flags = ds.mask_flag_enums
            if flags[0] == [MaskFlags.per_dataset]:
                masked += 1
                assert ds.nodata is None
                mask = ds.dataset_mask()
                assert 0.02 < (mask == 0).mean() < 0.8
                assert ds.read_masks(1, out_shape=(ds.height // 2, ds.width // 2)).min() == 0
            elif ds.nodata is not None:
                nodata += 1
                assert ds.nodata == 0
                data = ds.read()
                collar = (data == 0).all(axis=0)
                assert 0.01 < collar.mean() < 0.5
                assert (data == 0).any(axis=0).sum() == collar.sum()  # no partial zeros
            else:
                assert flags[0] == [MaskFlags.all_valid]
    assert (masked, nodata) == (1, 1)


def test_acquisition_times(generated):
    out, _ = generated
    stamps = []
    for path in _ortho_paths(out) + [out / "scene_multispectral.tif"]:
        with rasterio.open(path) as ds:
            tags = ds.tags()
        when = datetime.strptime(tags["ACQUISITIONDATETIME"], "%Y-%m-%dT%H:%M:%SZ")
        tiff = datetime.strptime(tags["TIFFTAG_DATETIME"], "%Y:%m:%d %H:%M:%S")
        assert when == tiff
        assert 2021 <= when.year <= 2024
        if path.parent.name == "ortho":
            assert path.stem.endswith(when.strftime("%Y%m%d"))
        stamps.append(when.replace(tzinfo=UTC))
    assert len(set(stamps)) == len(stamps) == 7
    assert len({s.year for s in stamps}) == 4


def test_ortho_tiles_overlap_and_resolutions(generated):
    out, _ = generated
    tiles = {}
    for path in _ortho_paths(out):
        key = path.name.split("_")[1]  # r0c1
        with rasterio.open(path) as ds:
            tiles[(int(key[1]), int(key[3]))] = (ds.bounds, ds.res[0])
    assert sorted(tiles) == [(r, c) for r in range(2) for c in range(3)]
    for (r, c), (b, _) in tiles.items():
        for nb in ((r, c + 1), (r + 1, c)):
            if nb not in tiles:
                continue
            o = tiles[nb][0]
            dx = min(b.right, o.right) - max(b.left, o.left)
            dy = min(b.top, o.top) - max(b.bottom, o.bottom)
            assert dx > 0 and dy > 0, ((r, c), nb)
            assert min(dx, dy) < 0.2 * (b.right - b.left)  # a strip, not a copy
    resolutions = sorted(res for _, res in tiles.values())
    assert resolutions[0] * 2 == pytest.approx(resolutions[-1])
    assert resolutions.count(resolutions[-1]) == 1
    footprints = {(round(b.right - b.left, 6), round(b.top - b.bottom, 6)) for b, _ in tiles.values()}
    assert len(footprints) == 1
    # the ortho mosaic lies within the DEM area (its north-west part)
    with rasterio.open(out / "dem.tif") as ds:
        dem = ds.bounds
    for b, _ in tiles.values():
        assert dem.left <= b.left and b.right <= (dem.left + dem.right) / 2
        assert b.top <= dem.top and (dem.bottom + dem.top) / 2 <= b.bottom


def test_products_agree_on_the_landscape(generated):
    """Water is dark in NIR in every product where the DEM has its lake."""
    out, _ = generated
    with rasterio.open(out / "scene_multispectral.tif") as ds:
        data = ds.read(4)
        row, col = ds.index(*LAKE_C)
        assert data[row, col] < 1300  # water: nir reflectance < 0.03
        assert np.median(data[data > 0]) > 2500  # land: mostly vegetation
    lake_tiles = 0
    for path in _ortho_paths(out):
        with rasterio.open(path) as ds:
            b = ds.bounds
            if not (b.left < LAKE_C[0] < b.right and b.bottom < LAKE_C[1] < b.top):
                continue
            lake_tiles += 1
            row, col = ds.index(*LAKE_C)
            nir = ds.read(4)
            assert nir[row, col] < 60
            assert np.median(nir) > nir[row, col] + 40
    assert lake_tiles >= 1


def test_rerun_without_force_is_a_noop(generated):
    out, manifest = generated
    before = {p: (p.stat().st_mtime_ns, _sha256(p)) for p in out.rglob("*") if p.is_file()}
    again = generate(out, scale=SCALE)
    assert again == manifest
    after = {p: (p.stat().st_mtime_ns, _sha256(p)) for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_cli_skips_existing(generated):
    out, _ = generated
    proc = subprocess.run([sys.executable, "-m", "samples.generate", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "MANIFEST.json" in proc.stdout and "nothing to do" in proc.stdout


def test_deterministic(generated, tmp_path):
    out, manifest = generated
    other = generate(tmp_path / "again", scale=SCALE)
    assert [(f["path"], f["sha256"]) for f in other["files"]] == \
        [(f["path"], f["sha256"]) for f in manifest["files"]]
    assert (tmp_path / "again" / "MANIFEST.json").read_bytes() == \
        (out / "MANIFEST.json").read_bytes()
