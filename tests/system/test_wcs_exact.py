"""WCS GetCoverage values against the source: bit for bit on the native grid (every dtype and
version), against rasterio.warp.reproject or an exact nearest reference elsewhere."""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

from ogcserver.app import create_app
from ogcserver.model.geo import BBox, transform_bbox
from ogcserver.settings import load_settings
from tests.support import rasters
from tests.support.reference import assert_equal_but_at_edges, exact_nearest, reference_warp
from tests.support.wcs import multipart, read_coverage

X0, Y0 = rasters.ORIGIN
RES = rasters.RES
DTYPES = {"u8": ("uint8", 0), "u16": ("uint16", 0), "i16": ("int16", -32768), "f32": ("float32", -9999.0)}
EDGE = 0.01  # the server warps with a transform error below 1e-3 pixel: centres this close to an edge may go either way


def _values(dtype: str, seed: int) -> np.ndarray:
    """Two bands spanning the dtype's range (floats with fractions), nodata in a block of both."""
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        data = (rng.standard_normal((2, 120, 160)) * 1e4).astype("float32")
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min + 1, info.max, (2, 120, 160), endpoint=True).astype(dtype)
    data[:, 30:40, 50:70] = DTYPES[next(k for k, v in DTYPES.items() if v[0] == dtype)][1]
    return data


@pytest.fixture(scope="module")
def cov(tmp_path_factory):
    """An app over one raster per dtype, and a two-item mosaic with a gap and no nodata."""
    root = tmp_path_factory.mktemp("wcs")
    t = from_origin(X0, Y0, RES, RES)
    layers = []
    for i, (name, (dtype, nodata)) in enumerate(DTYPES.items()):
        rasters.write(root / f"{name}.tif", _values(dtype, i), t, nodata=nodata, descriptions=("first", "second"),
                      overviews=(2, 4))
        layers.append({"name": name, "source": str(root / f"{name}.tif")})
    band = rasters.texture((60, 60), 1, seed=9)
    rasters.write(root / "gappy" / "a.tif", band, t)
    rasters.write(root / "gappy" / "b.tif", band + 1, from_origin(X0 + 1000, Y0 - 1000, RES, RES))
    layers.append({"name": "gappy", "source": str(root / "gappy")})
    config = root / "wcs.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(root / "state")},
        "services": [{"name": "cov", "layers": layers}],
    }))
    return create_app(load_settings(config)).test_client(), root


def get(client, query) -> bytes:
    r = client.get("/wcs?" + urlencode(query))
    assert r.status_code == 200, r.data[:600]
    return r


def source(root, name):
    with rasterio.open(root / f"{name}.tif") as src:
        return src.read(), src.transform


# rows 20..100 and cols 30..150 of the source: an area aligned with its pixel edges
ROWS, COLS = (20, 100), (30, 150)
EDGES = (X0 + COLS[0] * RES, Y0 - ROWS[1] * RES, X0 + COLS[1] * RES, Y0 - ROWS[0] * RES)


def native_requests(name: str) -> dict[str, list[tuple[str, str]]]:
    minx, miny, maxx, maxy = EDGES
    h = RES / 2
    return {
        "1.0.0": [("SERVICE", "WCS"), ("VERSION", "1.0.0"), ("REQUEST", "GetCoverage"), ("COVERAGE", name),
                  ("CRS", "EPSG:32632"), ("BBOX", f"{minx},{miny},{maxx},{maxy}"), ("WIDTH", str(COLS[1] - COLS[0])),
                  ("HEIGHT", str(ROWS[1] - ROWS[0])), ("FORMAT", "image/tiff")],
        # 1.1: the box bounds pixel centres, and no GridOffsets: the coverage's own grid
        "1.1.1": [("SERVICE", "WCS"), ("VERSION", "1.1.1"), ("REQUEST", "GetCoverage"), ("IDENTIFIER", name),
                  ("BOUNDINGBOX", f"{minx + h},{miny + h},{maxx - h},{maxy - h},urn:ogc:def:crs:EPSG::32632"),
                  ("FORMAT", "image/tiff")],
        "2.0.1": [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", name),
                  ("SUBSET", f"E({minx},{maxx})"), ("SUBSET", f"N({miny},{maxy})")],
    }


def body_of(version, response) -> bytes:
    if version != "1.1.1":
        assert response.mimetype == "image/tiff"
        return response.data
    (_, _xml), (headers, tiff) = multipart(response.headers["Content-Type"], response.data)
    assert headers["Content-Type"] == "image/tiff"
    return tiff


@pytest.mark.parametrize("version", ["1.0.0", "1.1.1", "2.0.1"])
@pytest.mark.parametrize("name", list(DTYPES))
def test_native_grid_is_bit_exact(cov, version, name):
    client, root = cov
    data, t = source(root, name)
    got = read_coverage(body_of(version, get(client, native_requests(name)[version])))
    expected = data[:, ROWS[0]:ROWS[1], COLS[0]:COLS[1]]
    assert got.dtype == DTYPES[name][0] and got.data.shape == expected.shape
    assert got.data.tobytes() == expected.tobytes()  # bit for bit, nodata pixels included
    assert got.nodata == DTYPES[name][1]
    assert got.transform == t * t.translation(COLS[0], ROWS[0])
    assert got.crs == "EPSG:32632"
    assert got.descriptions == ("first", "second")


@pytest.mark.parametrize("version", ["1.0.0", "1.1.1", "2.0.1"])
def test_band_subset(cov, version):
    client, root = cov
    data, _ = source(root, "u16")
    extra = {"1.0.0": ("BANDS", "2"), "1.1.1": ("RANGESUBSET", "contents[bands[2]]"), "2.0.1": ("RANGESUBSET", "second")}
    got = read_coverage(body_of(version, get(client, native_requests("u16")[version] + [extra[version]])))
    assert got.data.shape[0] == 1 and got.descriptions == ("second",)
    np.testing.assert_array_equal(got.data[0], data[1, ROWS[0]:ROWS[1], COLS[0]:COLS[1]])


def test_whole_coverage_and_unaligned_trims_keep_source_pixels(cov):
    """2.0: no subset is the whole coverage; a trim keeps the pixels whose centres lie in it."""
    client, root = cov
    data, t = source(root, "f32")
    whole = read_coverage(get(client, {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": "f32"}).data)
    assert whole.data.tobytes() == data.tobytes() and whole.transform == t
    q = [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", "f32"),
         ("SUBSET", f"E({X0 + 33},{X0 + 96})"), ("SUBSET", f"N({Y0 - 77},{Y0 - 4})")]  # centres 35..95, -75..-5
    part = read_coverage(get(client, q).data)
    assert part.data.tobytes() == data[:, 0:8, 3:10].tobytes() and part.transform == t * t.translation(3, 0)


def test_slice_returns_the_row_holding_the_point(cov):
    client, root = cov
    data, _ = source(root, "i16")
    q = [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", "i16"),
         ("SUBSET", f"N({Y0 - 10 * RES - 3})"), ("SUBSET", f"E({X0},{X0 + 20 * RES})")]
    got = read_coverage(get(client, q).data)
    assert got.data.shape == (2, 1, 20)
    np.testing.assert_array_equal(got.data[:, 0], data[:, 10, :20])


def test_mosaic_gap_without_nodata_gets_a_mask(cov):
    """Items without nodata and a gap between them: values untouched, the gap masked."""
    client, root = cov
    with rasterio.open(root / "gappy" / "a.tif") as a, rasterio.open(root / "gappy" / "b.tif") as b:
        first, second = a.read(1), b.read(1)
    q = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "gappy", "CRS": "EPSG:32632",
         "BBOX": f"{X0},{Y0 - 1600},{X0 + 1600},{Y0}", "WIDTH": 160, "HEIGHT": 160, "FORMAT": "GTiff"}
    got = read_coverage(get(client, q).data)
    assert got.nodata is None
    np.testing.assert_array_equal(got.data[0, :60, :60], first)
    np.testing.assert_array_equal(got.data[0, 100:160, 100:160], second)
    expected = np.zeros((160, 160), bool)
    expected[:60, :60] = expected[100:, 100:] = True
    np.testing.assert_array_equal(got.mask, expected)


def _mercator_box():
    native = BBox(X0 + 200, Y0 - 1000, X0 + 1400, Y0 - 200, "EPSG:32632")
    return transform_bbox(native, "EPSG:3857").as_tuple()


@pytest.mark.parametrize("name", ["u8", "f32"])
def test_reprojected_nearest_is_exact(cov, name):
    """EPSG:3857 output (2.0 OUTPUTCRS + SCALESIZE): the exact nearest neighbour of the source."""
    client, root = cov
    box = _mercator_box()
    q = [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", name),
         ("SUBSETTINGCRS", "http://www.opengis.net/def/crs/EPSG/0/3857"), ("OUTPUTCRS", "http://www.opengis.net/def/crs/EPSG/0/3857"),
         ("SUBSET", f"X({box[0]},{box[2]})"), ("SUBSET", f"Y({box[1]},{box[3]})"), ("SCALESIZE", "i(90),j(70)")]
    got = read_coverage(get(client, q).data)
    assert got.crs == "EPSG:3857" and got.data.shape == (2, 70, 90)
    assert got.transform.c == pytest.approx(box[0]) and got.transform.f == pytest.approx(box[3])
    ref, valid, edge = exact_nearest(root / f"{name}.tif", box, "EPSG:3857", (90, 70), bands=(1, 2), with_edges=True)
    assert_equal_but_at_edges(np.where(valid, got.data, ref), ref, edge, EDGE)


@pytest.mark.parametrize("method, uri", [("bilinear", "linear"), ("cubic", "cubic")])
def test_reprojected_interpolation_matches_rasterio(cov, method, uri):
    """Bilinear and cubic match rasterio.warp.reproject (GDAL's approximate transformer, 0.125 px)
    within a stated tolerance: 99% of pixels within 1% of the value range, none beyond 5%."""
    client, root = cov
    box = _mercator_box()
    q = [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", "f32"),
         ("SUBSETTINGCRS", "EPSG:3857"), ("OUTPUTCRS", "EPSG:3857"), ("SUBSET", f"X({box[0]},{box[2]})"),
         ("SUBSET", f"Y({box[1]},{box[3]})"), ("SCALESIZE", "X(90),Y(70)"),
         ("INTERPOLATION", f"http://www.opengis.net/def/interpolation/OGC/1/{uri}")]
    got = read_coverage(get(client, q).data)
    ref, valid = reference_warp(root / "f32.tif", box, "EPSG:3857", (90, 70), method, bands=(1, 2))
    both = valid & got.mask
    assert both.mean() > 0.9
    diff = np.abs(got.data[:, both].astype(np.float64) - ref[:, both])
    span = float(np.ptp(ref[:, both]))
    assert np.percentile(diff, 99) < 0.01 * span and diff.max() < 0.05 * span


def test_rescaled_native_matches_exact_nearest_and_reproject(cov):
    """1.0.0 at 1.5x the native pixel size (below 2x: no overview): nearest is exact; bilinear
    equals rasterio.warp.reproject of the source, which needs no approximation in one CRS."""
    client, root = cov
    base = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "f32", "CRS": "EPSG:32632",
            "BBOX": ",".join(map(str, EDGES)), "WIDTH": 80, "HEIGHT": 53, "FORMAT": "image/tiff"}
    got = read_coverage(get(client, base).data)
    ref, valid, edge = exact_nearest(root / "f32.tif", EDGES, "EPSG:32632", (80, 53), bands=(1, 2), with_edges=True)
    np.testing.assert_array_equal(got.mask, valid)
    assert_equal_but_at_edges(got.data, np.where(valid, ref, DTYPES["f32"][1]), edge, EDGE)
    got = read_coverage(get(client, dict(base, INTERPOLATION="bilinear")).data)
    ref, valid = reference_warp(root / "f32.tif", EDGES, "EPSG:32632", (80, 53), "bilinear", bands=(1, 2))
    both = valid & got.mask
    np.testing.assert_allclose(got.data[:, both], ref[:, both], rtol=1e-5, atol=1e-2)


def test_four_times_coarser_reads_the_overview(cov):
    client, root = cov
    q = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "u16", "CRS": "EPSG:32632",
         "BBOX": f"{X0},{Y0 - 1200},{X0 + 1600},{Y0}", "WIDTH": 40, "HEIGHT": 30, "FORMAT": "image/tiff"}
    got = read_coverage(get(client, q).data)
    with rasterio.open(root / "u16.tif", overview_level=1) as ovr:
        np.testing.assert_array_equal(got.data, ovr.read())


def test_epsg4326_axis_orders_agree(cov):
    """Lat,lon for EPSG:4326 (1.1 URN, 2.0 Lat/Long), lon,lat for CRS84 and 1.0: one and the same grid."""
    client, root = cov
    ll = transform_bbox(BBox(*EDGES, "EPSG:32632"), "EPSG:4326")
    w, s, e, n = ll.minx, ll.miny, ll.maxx, ll.maxy
    v10 = read_coverage(get(client, {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "u8",
                                     "CRS": "EPSG:4326", "BBOX": f"{w},{s},{e},{n}", "WIDTH": 150, "HEIGHT": 100,
                                     "FORMAT": "image/tiff"}).data)
    q20 = [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", "u8"),
           ("SUBSETTINGCRS", "http://www.opengis.net/def/crs/EPSG/0/4326"), ("OUTPUTCRS", "EPSG:4326"),
           ("SUBSET", f"Lat({s},{n})"), ("SUBSET", f"Long({w},{e})"), ("SCALESIZE", "Long(150),Lat(100)")]
    v20 = read_coverage(get(client, q20).data)
    crs84 = [q if q[0] not in ("SUBSETTINGCRS", "OUTPUTCRS") else (q[0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84")
             for q in q20]
    v20_crs84 = read_coverage(get(client, crs84).data)
    dx, dy = (e - w) / 150, (n - s) / 100
    q11 = {"SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": "u8", "FORMAT": "image/tiff",
           "BOUNDINGBOX": f"{s + dy / 2},{w + dx / 2},{n - dy / 2},{e - dx / 2},urn:ogc:def:crs:EPSG::4326",
           "GRIDBASECRS": "urn:ogc:def:crs:EPSG::4326", "GRIDOFFSETS": f"{-dy},{dx}"}
    v11 = read_coverage(body_of("1.1.1", get(client, q11)))
    for other in (v20, v20_crs84, v11):
        assert other.data.shape == v10.data.shape
        np.testing.assert_array_equal(other.data, v10.data)
        assert other.transform.almost_equals(v10.transform, precision=1e-9)
    ref, valid, edge = exact_nearest(root / "u8.tif", (w, s, e, n), "EPSG:4326", (150, 100), bands=(1, 2), with_edges=True)
    assert_equal_but_at_edges(np.where(valid, v10.data, ref), ref, edge, EDGE)


def test_explicit_11_grid_on_its_origin(cov):
    """1.1 GridOrigin/GridOffsets place the grid points; the box selects which of them are returned."""
    client, root = cov
    data, t = source(root, "u16")
    q = {"SERVICE": "WCS", "VERSION": "1.1.1", "REQUEST": "GetCoverage", "IDENTIFIER": "u16", "FORMAT": "image/tiff",
         "BOUNDINGBOX": f"{X0 + 101},{Y0 - 299},{X0 + 399},{Y0 - 101},urn:ogc:def:crs:EPSG::32632",
         "GRIDBASECRS": "urn:ogc:def:crs:EPSG::32632", "GRIDTYPE": "urn:ogc:def:method:WCS:1.1:2dGridIn2dCrs",
         "GRIDORIGIN": f"{X0 + 5},{Y0 - 5}", "GRIDOFFSETS": "10,0,0,-10"}
    got = read_coverage(body_of("1.1.1", get(client, q)))
    np.testing.assert_array_equal(got.data, data[:, 10:30, 10:40])  # centres 105..395, -105..-295


def test_png_and_jpeg_for_8bit_only(cov):
    client, root = cov
    data, _ = source(root, "u8")
    q = dict(native_requests("u8")["1.0.0"])
    png = get(client, dict(q, FORMAT="image/png", BANDS="1"))
    assert png.mimetype == "image/png"
    with rasterio.io.MemoryFile(png.data) as m, m.open() as ds:
        np.testing.assert_array_equal(ds.read(1), data[0, ROWS[0]:ROWS[1], COLS[0]:COLS[1]])
    jpeg = get(client, dict(q, FORMAT="jpeg", BANDS="1"))
    assert jpeg.mimetype == "image/jpeg" and jpeg.data[:2] == b"\xff\xd8"
    r = client.get("/wcs?" + urlencode(dict(native_requests("u16")["1.0.0"], FORMAT="image/png")))
    assert r.status_code == 400 and b"InvalidFormat" in r.data


def test_geotiff_encoding_parameters(cov):
    client, root = cov
    data, _ = source(root, "f32")
    q = [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "GetCoverage"), ("COVERAGEID", "f32"),
         ("geotiff:compression", "Deflate"), ("geotiff:predictor", "FloatingPoint"), ("geotiff:tiling", "true"),
         ("geotiff:tilewidth", "64"), ("geotiff:tileheight", "32"), ("geotiff:interleave", "Band")]
    got = read_coverage(get(client, q).data)
    assert got.structure["COMPRESSION"] == "DEFLATE" and got.structure["PREDICTOR"] == "3"
    assert got.profile["blockxsize"] == 64 and got.profile["blockysize"] == 32 and got.profile["interleave"] == "band"
    assert got.data.tobytes() == data.tobytes()


def test_large_outputs_stream_from_a_temporary_file(cov, monkeypatch):
    """Above the in-memory size the coverage is written piece by piece to a temporary file that is
    streamed and gone afterwards; a gap met after full pieces still gets a complete mask."""
    import glob
    import tempfile

    from ogcserver.core.render import coverage_encode

    client, root = cov
    q = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "gappy", "CRS": "EPSG:32632",
         "BBOX": f"{X0},{Y0 - 1000},{X0 + 600},{Y0}", "WIDTH": 60, "HEIGHT": 100, "FORMAT": "image/tiff"}
    in_memory = read_coverage(get(client, q).data)
    monkeypatch.setattr(coverage_encode, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(coverage_encode, "PIECE_PIXELS", 600)  # pieces of 10 rows
    leftovers = set(glob.glob(tempfile.gettempdir() + "/ogcserver-coverage-*"))
    response = get(client, q)
    assert response.is_streamed and int(response.headers["Content-Length"]) == len(response.data)
    streamed = read_coverage(response.data)
    assert set(glob.glob(tempfile.gettempdir() + "/ogcserver-coverage-*")) == leftovers
    with rasterio.open(root / "gappy" / "a.tif") as a:
        np.testing.assert_array_equal(streamed.data[0, :60], a.read(1))
    assert streamed.mask[:60].all() and not streamed.mask[60:].any()
    np.testing.assert_array_equal(streamed.mask, in_memory.mask)
    assert streamed.data.tobytes() == in_memory.data.tobytes()


@pytest.mark.parametrize("width", [69, 85, 95])  # 1.73x, 1.41x, 1.26x coarser than the source
def test_below_twice_coarser_reads_full_resolution(cov, width):
    """Below 2x the full resolution is read (GDAL alone would switch to the 2x overview from
    about 1.7x): nearest is then the exact nearest neighbour of the source."""
    client, root = cov
    height = round(width * 80 / 120)
    q = {"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage", "COVERAGE": "u16", "CRS": "EPSG:32632",
         "BBOX": ",".join(map(str, EDGES)), "WIDTH": width, "HEIGHT": height, "FORMAT": "image/tiff"}
    got = read_coverage(get(client, q).data)
    ref, valid, edge = exact_nearest(root / "u16.tif", EDGES, "EPSG:32632", (width, height), bands=(1, 2), with_edges=True)
    assert_equal_but_at_edges(got.data, np.where(valid, ref, 0), edge, EDGE)
