"""Sources in S3-compatible object storage: read through GDAL's /vsis3/, vetted like local files,
and served pixel for pixel as the same files on disk.

The object store is moto's server on a free local port (started by the tests); GDAL reaches it
with the configured endpoint, path-style addressing and plain HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
import yaml
from rasterio.errors import RasterioIOError
from rasterio.shutil import copy as gdal_copy

from ogcserver.composition import raster_reader
from ogcserver.composition import s3_endpoint as endpoint_of
from ogcserver.model.errors import SourceRefused, SourceUnavailable
from ogcserver.settings import load_settings
from ogcserver.storage.catalogs.files import list_source_files
from ogcserver.storage.readers.gdal_options import apply_gdal_options
from ogcserver.storage.readers.remote import configure_buckets
from ogcserver.storage.s3 import Clients
from tests.conftest import running_server
from tests.support import s3
from tests.support.reference import decode


def cog(source: Path, target: Path) -> Path:
    """The file as a cloud-optimised GeoTIFF (tiled, overviews first), as published to buckets."""
    gdal_copy(str(source), str(target), driver="COG", COMPRESS="DEFLATE", BLOCKSIZE="256", OVERVIEWS="AUTO")
    return target


@pytest.fixture(scope="module")
def published(data_dir, tmp_path_factory, s3_endpoint):
    """Two COGs on disk and the same two in a bucket, and a configuration publishing all four."""
    folder = tmp_path_factory.mktemp("objects")
    bucket = s3.new_bucket(s3_endpoint, "sources")
    files = {"parent": cog(data_dir / "parent" / "parent.tif", folder / "parent.tif"),
             "dem": cog(data_dir / "dem.tif", folder / "dem.tif")}
    urls = {name: s3.upload(s3_endpoint, bucket, path, f"cogs/{name}.tif") for name, path in files.items()}
    config = folder / "ogcserver.yaml"
    layers = [{"name": f"{name}_file", "source": str(path)} for name, path in files.items()]
    layers += [{"name": f"{name}_object", "source": url} for name, url in urls.items()]
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0},
        "storage": s3.storage_section(s3_endpoint),
        "services": [{"name": "objects", "layers": layers}],
    }))
    return config, bucket, urls


@pytest.fixture(scope="module")
def object_server(published):
    with running_server(published[0]) as url:
        yield url


MAP = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "CRS": "EPSG:3857", "STYLES": "",
       "WIDTH": "512", "HEIGHT": "384", "FORMAT": "image/png", "TRANSPARENT": "TRUE"}


def _box(published, name: str, crs: str) -> str:
    with rasterio.open(str(Path(published[0]).parent / f"{name}.tif")) as ds:
        from rasterio.warp import transform_bounds

        left, bottom, right, top = transform_bounds(ds.crs, crs, *ds.bounds)
    w, h = right - left, top - bottom
    return f"{left + w * 0.1},{bottom + h * 0.15},{right - w * 0.2},{top - h * 0.05}"


@pytest.mark.parametrize("name", ["parent", "dem"])
def test_getmap_from_an_object_equals_the_file(object_server, published, name):
    bbox = _box(published, name, "EPSG:3857")
    maps = [requests.get(f"{object_server}/wms", params={**MAP, "LAYERS": f"{name}_{where}", "BBOX": bbox},
                         timeout=60) for where in ("file", "object")]
    assert [m.status_code for m in maps] == [200, 200] and maps[0].headers["Content-Type"] == "image/png"
    from_file, from_object = (decode(m.content) for m in maps)
    assert (from_file[..., -1] > 0).any()  # the view shows data
    np.testing.assert_array_equal(from_object, from_file)


@pytest.mark.parametrize("name", ["parent", "dem"])
def test_getcoverage_from_an_object_equals_the_file(object_server, published, name):
    with rasterio.open(str(Path(published[0]).parent / f"{name}.tif")) as ds:
        b = ds.bounds
    subsets = [f"E({b.left + 200},{b.right - 300})", f"N({b.bottom + 100},{b.top - 500})"]
    coverages = [requests.get(f"{object_server}/wcs", params={
        "SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": f"{name}_{where}",
        "FORMAT": "image/tiff", "SUBSET": subsets}, timeout=60) for where in ("file", "object")]
    assert [c.status_code for c in coverages] == [200, 200]
    arrays = []
    for c in coverages:
        with rasterio.MemoryFile(c.content) as memory, memory.open() as ds:
            arrays.append((ds.read(masked=True), ds.transform))
    (file_pixels, file_transform), (object_pixels, object_transform) = arrays
    assert object_transform == file_transform and file_pixels.count() > 0
    np.testing.assert_array_equal(object_pixels.filled(0), file_pixels.filled(0))
    np.testing.assert_array_equal(np.ma.getmaskarray(object_pixels), np.ma.getmaskarray(file_pixels))


def test_secrets_stay_out_of_logs_and_dumps(object_server, published, tmp_path):
    settings = load_settings(published[0])
    assert s3.SECRET_KEY not in repr(settings) and s3.SECRET_KEY not in settings.model_dump_json()
    assert s3.SECRET_KEY not in repr(endpoint_of(settings))
    requests.get(f"{object_server}/wms", params={**MAP, "LAYERS": "dem_object", "BBOX": "0,0,1,1"}, timeout=30)
    log = next(Path(published[0]).parent.glob("server-*.log")).read_text()
    assert "dem_object" in log and s3.SECRET_KEY not in log and s3.ACCESS_KEY not in log


# -- vetting: exactly the configured objects, nothing else -----------------------------------------
@pytest.fixture(scope="module")
def vetting(published, data_dir, tmp_path_factory, s3_endpoint):
    """A reader of the published configuration, and objects of every kind in two buckets."""
    config, bucket, urls = published
    other = s3.new_bucket(s3_endpoint, "unlisted")
    folder = tmp_path_factory.mktemp("vetting")
    s3.upload(s3_endpoint, other, Path(config).parent / "parent.tif", "parent.tif")
    png = folder / "picture.tif"
    with rasterio.open(data_dir / "parent" / "parent.tif") as ds:
        gdal_copy(ds, str(png), driver="PNG")
    s3.upload(s3_endpoint, bucket, png, "disguised.tif")
    vrt = folder / "remote.vrt"
    gdal_copy(str(Path(config).parent / "parent.tif"), str(vrt), driver="VRT")
    s3.upload(s3_endpoint, bucket, vrt, "inside.vrt")
    big = folder / "big.tif"
    with rasterio.open(big, "w", driver="GTiff", width=1024, height=512, count=1, dtype="uint8", crs="EPSG:3857",
                       transform=rasterio.transform.from_origin(0, 5000, 1, 1), tiled=True, compress="deflate") as ds:
        ds.write(np.ones((1, 512, 1024), dtype=np.uint8))
    s3.upload(s3_endpoint, bucket, big, "big.tif")
    settings = load_settings(config)
    configure_buckets(endpoint_of(settings), settings.source_buckets + (other,))
    apply_gdal_options()
    return raster_reader(settings), bucket, other, urls, folder


def refusal(reader, path: str) -> str:
    with pytest.raises(SourceRefused) as caught:
        reader.describe(path)
    return caught.value.reason


def test_configured_objects_are_described_from_a_header_read(vetting):
    reader, _bucket, _other, urls, _folder = vetting
    info = reader.describe(urls["parent"])
    assert info.path == urls["parent"] and info.count == 3 and info.overview_factors


def test_objects_outside_the_configured_buckets_are_refused(vetting):
    reader, _bucket, other, _urls, _folder = vetting
    assert f"bucket '{other}' is not one the configuration publishes from" in refusal(reader, f"s3://{other}/parent.tif")


@pytest.mark.parametrize("form", ["/vsis3/{bucket}/cogs/parent.tif", "/vsicurl/{endpoint}/{bucket}/cogs/parent.tif",
                                  "{endpoint}/{bucket}/cogs/parent.tif", "/vsis3_streaming/{bucket}/cogs/parent.tif"])
def test_other_names_of_a_configured_object_are_refused(vetting, s3_endpoint, form):
    reader, bucket, *_ = vetting
    path = form.format(bucket=bucket, endpoint=s3_endpoint)
    assert "network, virtual file system and GDAL connection paths are not accepted" in refusal(reader, path)


def test_content_and_sizes_of_objects_are_checked(vetting, published):
    reader, bucket, *_ = vetting
    assert "its content is PNG, not the GeoTIFF" in refusal(reader, f"s3://{bucket}/disguised.tif")
    assert "a VRT in object storage is not accepted" in refusal(reader, f"s3://{bucket}/inside.vrt")
    settings = load_settings(published[0])
    strict = settings.model_copy(update={"sources": settings.sources.model_copy(
        update={"overviews_required_above": 512})})
    assert "without overviews" in refusal(raster_reader(strict), f"s3://{bucket}/big.tif")
    assert "cannot be read" in refusal(reader, f"s3://{bucket}/missing.tif")


@pytest.mark.parametrize("name", ["/vsis3/{bucket}/cogs/parent.tif", "s3://{bucket}/cogs/parent.tif"])
def test_a_vrt_naming_an_object_is_refused(vetting, published, name):
    reader, bucket, _other, _urls, folder = vetting
    vrt = folder / f"names-{abs(hash(name))}.vrt"
    with rasterio.open(str(Path(published[0]).parent / "parent.tif")) as ds:
        gdal_copy(ds, str(vrt), driver="VRT")
    text = vrt.read_text()
    local = str(Path(published[0]).parent / "parent.tif")
    vrt.write_text(text.replace(f'relativeToVRT="0">{local}', f'relativeToVRT="0">{name.format(bucket=bucket)}'))
    assert name.format(bucket=bucket) in vrt.read_text()
    settings = load_settings(published[0])
    open_vrts = settings.model_copy(update={"sources": settings.sources.model_copy(
        update={"allow_vrt": True, "roots": (folder, Path(published[0]).parent)})})
    assert "is not a local file" in refusal(raster_reader(open_vrts), str(vrt))


def test_gdal_itself_reaches_no_object_it_was_not_handed(vetting):
    """Behind the checks: in a thread that was not let through, GDAL opens no object at all."""
    _reader, _bucket, _other, urls, _folder = vetting
    errors: list[Exception] = []

    def attempt() -> None:
        try:
            rasterio.open("/vsis3/" + urls["parent"].removeprefix("s3://"))
        except RasterioIOError as exc:
            errors.append(exc)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_a_changed_object_is_noticed_by_its_time_and_size(vetting, published, s3_endpoint):
    _reader, bucket, *_ = vetting
    objects = Clients(endpoint_of(load_settings(published[0])))
    url = s3.upload(s3_endpoint, bucket, Path(published[0]).parent / "dem.tif", "changing.tif")
    [(path, _, before)] = list_source_files(url, "*.tif", objects)
    assert path == url and before == (Path(published[0]).parent / "dem.tif").stat().st_size
    s3.upload(s3_endpoint, bucket, Path(published[0]).parent / "parent.tif", "changing.tif")
    [(_, _, after)] = list_source_files(url, "*.tif", objects)
    assert after == (Path(published[0]).parent / "parent.tif").stat().st_size
    with pytest.raises(SourceUnavailable, match="cannot be reached"):
        list_source_files(f"s3://{bucket}/gone.tif", "*.tif", objects)


def test_stac_assets_in_a_bucket_become_items_served_like_the_file(published, tmp_path):
    """A STAC Item whose asset is an s3:// URL: ingested by a header read, drawn from the bucket."""
    from ogcserver.app import create_app
    from ogcserver.cli import main

    config, _bucket, urls = published
    with rasterio.open(str(Path(config).parent / "parent.tif")) as ds:
        from rasterio.warp import transform_bounds

        west, south, east, north = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "scene-1", "properties": {"datetime": "2024-05-01T00:00:00Z"},
            "geometry": {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north],
                                                             [west, north], [west, south]]]},
            "bbox": [west, south, east, north], "links": [],
            "assets": {"visual": {"href": urls["parent"], "type": "image/tiff; application=geotiff", "roles": ["data"]}}}
    (tmp_path / "item.json").write_text(json.dumps(item))
    raw = yaml.safe_load(Path(config).read_text())
    raw["server"]["data_dir"] = str(tmp_path / "state")
    raw["services"][0]["layers"].append({"name": "stac_items", "collection": "stac_items"})
    stac_config = tmp_path / "ogcserver.yaml"
    stac_config.write_text(yaml.safe_dump(raw))
    assert main(["catalog", "add", "stac_items", "--stac", str(tmp_path / "item.json"), "-c", str(stac_config)]) == 0
    client = create_app(load_settings(stac_config)).test_client()
    bbox = _box(published, "parent", "EPSG:3857")
    maps = [client.get("/wms", query_string={**MAP, "LAYERS": layer, "BBOX": bbox}) for layer in ("parent_file",
                                                                                                "stac_items")]
    assert [m.status_code for m in maps] == [200, 200]
    np.testing.assert_array_equal(decode(maps[1].data), decode(maps[0].data))
    listing = client.get("/catalog/stac_items/items")
    assert listing.status_code == 200 and listing.get_json()["features"][0]["id"] == "scene-1"


REGISTER_AND_COUNT = """
import ctypes, json, sys
from pathlib import Path
from ogcserver.composition import raster_reader
from ogcserver.settings import load_settings
from ogcserver.storage.readers import remote
from ogcserver.storage.readers.gdal_options import apply_gdal_options

apply_gdal_options()
reader = raster_reader(load_settings(Path(sys.argv[1])))
lib = remote._gdal()
lib.VSINetworkStatsGetAsSerializedJSON.argtypes = [ctypes.c_void_p]
lib.VSINetworkStatsGetAsSerializedJSON.restype = ctypes.c_char_p
info = reader.describe(sys.argv[2])
reader.footprint(info)
print(json.dumps({"stats": json.loads(lib.VSINetworkStatsGetAsSerializedJSON(None)), "width": info.width}))
"""


def test_registering_an_object_reads_its_header_not_the_object(published, s3_endpoint, tmp_path):
    """Magic bytes, sizes, blocks and overviews of a 2048 px COG are checked from a few ranges
    (GDAL's own network statistics count the bytes)."""
    import subprocess
    import sys

    config, bucket, _urls = published
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=2048, height=2048, count=3, dtype="uint8",
                       crs="EPSG:32632", transform=rasterio.transform.from_origin(500000, 5200000, 1, 1)) as ds:
        ds.write(np.random.default_rng(3).integers(0, 255, (3, 2048, 2048), dtype=np.uint8))
    big = cog(plain, tmp_path / "big.tif")
    url = s3.upload(s3_endpoint, bucket, big, "big/noise.tif")
    done = subprocess.run([sys.executable, "-c", REGISTER_AND_COUNT, str(config), url], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "CPL_VSIL_NETWORK_STATS_ENABLED": "YES"})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    downloaded = result["stats"]["methods"]["GET"]["downloaded_bytes"]
    assert result["width"] == 2048 and 0 < downloaded < big.stat().st_size / 50


def test_an_item_in_a_bucket_downloads_as_the_object_to_callers_granted_it(published, s3_endpoint, tmp_path):
    config, bucket, urls = published
    key_hash = hashlib.sha256(b"download-key").hexdigest()
    settings = tmp_path / "ogcserver.yaml"
    settings.write_text(yaml.safe_dump({
        "server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0},
        "storage": s3.storage_section(s3_endpoint),
        "services": [{"name": "objects", "allow_download": True, "layers": [{"name": "dem", "source": urls["dem"]}]}],
        "access": {
            "api_keys": [{"name": "fetcher", "key_sha256": key_hash, "groups": ["fetchers"]}],
            "grants": [{"to": "anonymous", "service": "objects", "actions": ["discover", "view", "query"]},
                       {"to": "group:fetchers", "service": "objects", "actions": ["discover", "query", "download"]}],
        },
    }))
    want = (Path(config).parent / "dem.tif").read_bytes()
    with running_server(settings) as url:
        refused = requests.get(f"{url}/catalog/dem/items/dem/download", timeout=60)
        got = requests.get(f"{url}/catalog/dem/items/dem/download", headers={"X-API-Key": "download-key"},
                           timeout=60, stream=True)
        body = got.raw.read()
    assert refused.status_code in (401, 403) and want[:4] not in refused.content
    assert got.status_code == 200, got.text
    assert int(got.headers["Content-Length"]) == len(want) and body == want
    assert 'filename="dem.tif"' in got.headers["Content-Disposition"]


def test_a_bucket_prefix_is_a_folder_source_served_like_the_folder(data_dir, s3_endpoint, tmp_path):
    """Every object under ``s3://bucket/prefix/`` is an item of the layer's mosaic, keyed by its
    name under the prefix; hidden names and other patterns are left out, as in a folder."""
    bucket = s3.new_bucket(s3_endpoint, "mosaic")
    folder = data_dir / "tiles"
    for path in sorted(folder.glob("*.tif")):
        s3.upload(s3_endpoint, bucket, path, f"scenes/{path.name}")
    s3.upload(s3_endpoint, bucket, folder / "tile_0.tif", "scenes/.hidden.tif")
    s3.upload(s3_endpoint, bucket, folder / "tile_0.tif", "elsewhere/tile_9.tif")
    config = tmp_path / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0},
        "storage": s3.storage_section(s3_endpoint),
        "services": [{"name": "objects", "layers": [{"name": "folder", "source": str(folder)},
                                                    {"name": "prefix", "source": f"s3://{bucket}/scenes/"}]}],
    }))
    with rasterio.open(folder / "tile_0.tif") as ds:
        left, top = ds.bounds.left, ds.bounds.top
    bbox = f"{left + 500},{top - 4500},{left + 5500},{top - 500}"  # across the four tiles' overlaps
    with running_server(config) as url:
        items = {name: requests.get(f"{url}/catalog/{name}/items", timeout=60).json() for name in ("folder", "prefix")}
        maps = [requests.get(f"{url}/wms", params={**MAP, "CRS": "EPSG:32632", "LAYERS": name, "BBOX": bbox},
                             timeout=60) for name in ("folder", "prefix")]
    keys = {name: sorted(f["id"] for f in found["features"]) for name, found in items.items()}
    assert keys["prefix"] == keys["folder"] == ["tile_0", "tile_1", "tile_2", "tile_3"]
    assert [m.status_code for m in maps] == [200, 200], maps[1].text
    from_folder, from_prefix = (decode(m.content) for m in maps)
    assert (from_folder[..., -1] > 0).all()  # the view is all data
    np.testing.assert_array_equal(from_prefix, from_folder)
