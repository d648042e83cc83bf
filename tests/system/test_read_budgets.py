"""Memory and time budgets on the read path, and sources that open but cannot be read.

Every hostile file is generated here. Files that break after they were indexed (same size and
modification time, as a disk error or a partial copy would leave them) are read by a server
that still believes in them: the request must fail with the protocol's exception naming the
file, or, in a mosaic, leave the item out, say so in a header and mark it in the catalog.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

from ogcserver.app import core_of, create_app
from ogcserver.cli import main
from ogcserver.core.catalog import UNREADABLE_PROPERTY
from ogcserver.ows.response import SKIPPED_HEADER
from ogcserver.settings import load_settings
from tests.support import broken_rasters, rasters
from tests.support.memory import MIB, peak_rss, reset_peak
from tests.support.mixed_load import tile_of
from tests.support.reference import decode, params

X0, Y0 = rasters.ORIGIN
SIDE = 512  # pixels of the valid files the broken ones replace


def config(tmp_path: Path, layers: list[dict], limits: dict | None = None, refresh: float = 0, **extra) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": refresh},
        "limits": limits or {},
        "services": [{"name": "s", "layers": layers, "allow_processing": True}],
        **extra,
    }))
    return path


def app_for(tmp_path: Path, layers: list[dict], limits: dict | None = None, refresh: float = 0, **extra):
    return create_app(load_settings(config(tmp_path, layers, limits, refresh, **extra)))


class CountingReader:
    """The app's reader, counting the reads it is asked for."""

    def __init__(self, inner):
        self.inner, self.reads = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read(self, *args):
        self.reads += 1
        return self.inner.read(*args)


def get_map(client, layer: str, size: int, bbox=None, **extra):
    box = bbox or (X0, Y0 - SIDE * 10, X0 + SIDE * 10, Y0)
    return client.get("/wms", query_string=params(LAYERS=layer, CRS="EPSG:32632", BBOX=",".join(map(str, box)),
                                                  WIDTH=size, HEIGHT=size, **extra))


# -- the memory budget, estimated before reading -------------------------------------------------

def test_a_64_band_float64_map_is_refused_before_anything_is_read(tmp_path):
    data = np.full((64, 256, 256), 1.5, dtype=np.float64)
    data[:, :, :128] = 2.5
    rasters.write(tmp_path / "bands64.tif", data, from_origin(X0, Y0, 20, 20))
    app = app_for(tmp_path, [{"name": "b64", "source": str(tmp_path / "bands64.tif")}])
    engine = core_of(app).engine
    engine.reader = counting = CountingReader(engine.reader)
    client = app.test_client()
    r = get_map(client, "b64", 4096, FORMAT="image/tiff")
    assert r.status_code == 400, r.data[:300]
    assert b"InvalidParameterValue" in r.data and b"max_request_bytes" in r.data
    assert counting.reads == 0
    r = get_map(client, "b64", 256, FORMAT="image/tiff")  # the same layer, a size the budget holds
    assert r.status_code == 200 and counting.reads == 1


def test_a_service_may_raise_the_request_budget(tmp_path):
    rasters.write(tmp_path / "f.tif", rasters.texture((256, 256), 3, seed=2, dtype="float32"), from_origin(X0, Y0, 20, 20))
    path = config(tmp_path, [{"name": "f", "source": str(tmp_path / "f.tif")}], {"max_request_bytes": 8 * MIB})
    raw = yaml.safe_load(path.read_text())
    raw["services"].append({"name": "big", "limits": {"max_request_bytes": 64 * MIB},
                            "layers": [{"name": "g", "source": str(tmp_path / "f.tif")}]})
    path.write_text(yaml.safe_dump(raw))
    client = create_app(load_settings(path)).test_client()
    assert get_map(client, "f", 1024).status_code == 400
    r = client.get("/services/big/wms", query_string=params(
        LAYERS="g", CRS="EPSG:32632", BBOX=f"{X0},{Y0 - 5120},{X0 + 5120},{Y0}", WIDTH=1024, HEIGHT=1024))
    assert r.status_code == 200


def huge_strip_tiff(path: Path, side: int = 100_000) -> Path:
    """A DEFLATE strip GeoTIFF of side x side pixels without overviews; its strips are sparse
    (GDAL reads them as zeros), so the file is small and quick to write."""
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=1, dtype="uint8",
                       crs=rasters.UTM, transform=from_origin(X0, Y0, 1, 1), compress="deflate",
                       blockysize=16, SPARSE_OK=True) as dst:
        dst.write(np.full((1, 16, 16), 7, dtype=np.uint8), window=((0, 16), (0, 16)))
    return path


def test_a_tiny_coverage_of_a_huge_source_without_overviews_is_refused_before_reading(tmp_path):
    """WCS 2.0 SCALEFACTOR=0.00001: one output pixel, but the whole source under it (10^10
    bytes at full resolution) would be read."""
    # registration would refuse the file for want of overviews; this is the read's own check
    client = app_for(tmp_path, [{"name": "huge", "source": str(huge_strip_tiff(tmp_path / "huge.tif"))}],
                     sources={"overviews_required_above": None}).test_client()
    reset_peak()
    before = peak_rss()
    r = client.get("/wcs", query_string={"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                         "COVERAGEID": "huge", "SCALEFACTOR": "0.00001", "FORMAT": "image/tiff"})
    grown = peak_rss() - before
    assert r.status_code == 400, r.data[:300]
    assert b"InvalidParameterValue" in r.data and b"huge.tif" in r.data and b"max_request_bytes" in r.data
    assert grown < 50 * MIB, grown / MIB


# -- sources that break after indexing ------------------------------------------------------------

def _valid(path: Path, bands: int = 1) -> Path:
    return rasters.write(path, rasters.texture((SIDE, SIDE), bands, seed=8), from_origin(X0, Y0, 10, 10))


def break_in_place(path: Path, broken: Path) -> None:
    """Give ``path`` the content of ``broken`` while keeping its size and modification time
    (both files are padded with zeros to one size first; TIFF readers ignore trailing bytes)."""
    stat = path.stat()
    content = broken.read_bytes()
    size = max(stat.st_size, len(content))
    if stat.st_size < size:
        with open(path, "ab") as f:
            f.write(bytes(size - stat.st_size))
        stat = path.stat()
    path.write_bytes(content + bytes(size - len(content)))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


BROKEN = {
    "tile_offsets": (broken_rasters.bad_tile_offsets, 1),
    "byte_counts": (broken_rasters.bad_byte_counts, 1),
    "truncated": (broken_rasters.truncated, 1),
    "corrupt_jpeg": (broken_rasters.corrupt_jpeg, 3),
    "deflate_bomb": (broken_rasters.deflate_bomb, 1),
    "bogus_strip": (broken_rasters.bogus_strip, 1),
}


def indexed_then_broken(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """A valid file, padded to the size of the broken one; returns it and the broken one."""
    make, bands = BROKEN[kind]
    broken = make(tmp_path / "broken" / f"{kind}.tif")
    assert broken_rasters.open_ok(broken)
    good = _valid(tmp_path / "data" / f"{kind}.tif", bands)
    padding = max(0, broken.stat().st_size - good.stat().st_size)
    with open(good, "ab") as f:
        f.write(bytes(padding))
    return good, broken


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_single_file_layer_fails_clearly_without_a_memory_spike(tmp_path, kind):
    good, broken = indexed_then_broken(tmp_path, kind)
    app = app_for(tmp_path, [{"name": "one", "source": str(good)}])
    break_in_place(good, broken)
    client = app.test_client()
    reset_peak()
    before = peak_rss()
    r = get_map(client, "one", 256)
    wcs = client.get("/wcs", query_string={"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                           "COVERAGEID": "one", "FORMAT": "image/tiff"})
    x, y = tile_of(9.03, 46.93, 12)  # a tile over the file
    tile = client.get(f"/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=one&STYLE=default&FORMAT=image/png"
                      f"&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=12&TILEROW={y}&TILECOL={x}")
    grown = peak_rss() - before
    for response in (r, wcs, tile):
        assert response.status_code == 503, (response.status_code, response.data[:300])
        assert b"NoApplicableCode" in response.data and f"{kind}.tif".encode() in response.data
        assert str(tmp_path).encode() not in response.data  # the file's name, never where it is
    assert grown < 50 * MIB, grown / MIB


def test_a_broken_item_of_a_mosaic_is_left_out_reported_and_marked(tmp_path, data_dir, capsys):
    folder = tmp_path / "m"
    shutil.copytree(data_dir / "tiles", folder)
    broken = broken_rasters.bad_tile_offsets(tmp_path / "broken" / "tile_0.tif", count=3)
    # the file breaks between two refreshes of the folder (the next refresh vets it again and refuses it)
    app = app_for(tmp_path, [{"name": "m", "source": str(folder)}], refresh=3600)
    break_in_place(folder / "tile_0.tif", broken)
    client = app.test_client()
    whole = (X0, Y0 - 5000, X0 + 6000, Y0)
    r = get_map(client, "m", 120, bbox=whole, TRANSPARENT="TRUE")
    assert r.status_code == 200, r.data[:300]
    assert r.headers[SKIPPED_HEADER] == "1"
    alpha = decode(r.data)[..., 3]
    assert (alpha[60:, :] == 255).all() and (alpha[:, 60:] == 255).all()  # the three other tiles
    assert not alpha[:50, :50].any()  # tile_0's own corner: empty, not made up
    healthy = get_map(client, "m", 60, bbox=(X0 + 3500, Y0 - 5000, X0 + 6000, Y0 - 2500))
    assert healthy.status_code == 200 and SKIPPED_HEADER not in healthy.headers
    only_broken = get_map(client, "m", 60, bbox=(X0, Y0 - 2000, X0 + 2000, Y0))
    assert only_broken.status_code == 503 and b"tile_0.tif" in only_broken.data  # not a blank picture
    item = client.get("/catalog/m/items/tile_0").get_json()
    assert "'tile_0.tif' cannot be read" in item["properties"][UNREADABLE_PROPERTY]
    assert UNREADABLE_PROPERTY not in client.get("/catalog/m/items/tile_1").get_json()["properties"]
    found = client.get("/catalog/m/items").get_json()["features"]
    assert [f["id"] for f in found if UNREADABLE_PROPERTY in f["properties"]] == ["tile_0"]
    assert main(["catalog", "list", "m", "-c", str(tmp_path / "c.yaml")]) == 0
    rows = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "unreadable: source 'tile_0.tif' cannot be read" in rows["tile_0"]
    assert "unreadable" not in rows["tile_1"]
    shutil.copy(data_dir / "tiles" / "tile_0.tif", folder / "tile_0.tif")  # repaired: a new file state
    client = app_for(tmp_path, [{"name": "m", "source": str(folder)}], refresh=3600).test_client()  # indexed again
    assert UNREADABLE_PROPERTY not in client.get("/catalog/m/items/tile_0").get_json()["properties"]
    assert SKIPPED_HEADER not in get_map(client, "m", 120, bbox=whole).headers


def test_a_skipped_item_is_reported_by_wcs(tmp_path, data_dir):
    folder = tmp_path / "m"
    shutil.copytree(data_dir / "tiles", folder)
    broken = broken_rasters.bad_byte_counts(tmp_path / "broken" / "tile_3.tif", count=3)
    app = app_for(tmp_path, [{"name": "m", "source": str(folder)}])
    break_in_place(folder / "tile_3.tif", broken)
    r = app.test_client().get("/wcs", query_string={"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
                                                    "COVERAGEID": "m", "FORMAT": "image/tiff"})
    assert r.status_code == 200 and r.headers[SKIPPED_HEADER] == "1"


# -- the pool gives memory back ------------------------------------------------------------------

def test_handles_with_big_blocks_are_closed_after_the_request(tmp_path):
    big = tmp_path / "strip.tif"  # one 3000 x 3000 strip: a 9 MB block
    with rasterio.open(big, "w", driver="GTiff", width=3000, height=3000, count=1, dtype="uint8", crs=rasters.UTM,
                       transform=from_origin(X0, Y0, 1, 1), compress="deflate", blockysize=3000) as dst:
        dst.write(np.full((1, 3000, 3000), 9, dtype=np.uint8))
    small = _valid(tmp_path / "small.tif")
    app = app_for(tmp_path, [{"name": "big", "source": str(big)}, {"name": "small", "source": str(small)}])
    client = app.test_client()
    assert get_map(client, "big", 256, bbox=(X0, Y0 - 3000, X0 + 3000, Y0)).status_code == 200
    assert get_map(client, "small", 256).status_code == 200
    open_paths = {key[0] for key in core_of(app).engine.reader.pool._mine()}
    assert str(small) in open_paths and str(big) not in open_paths
