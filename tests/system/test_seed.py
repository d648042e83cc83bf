"""``ogcserver seed`` and ``ogcserver cache``: counting, seeding, resuming after kill -9, truncating."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from tests.conftest import write_config


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ogcserver", *args], capture_output=True, text=True, timeout=timeout)


def tiles_in(root):
    return [p for p in root.rglob("*.png") if not p.name.startswith((".tmp-", "empty."))]


META_TILES = 16  # tiles of a metatile (the default 4 x 4)


def seeding_midway(config, cache, *how, tiles: int = 1) -> subprocess.Popen:
    """A seed run of zoom 12-17 in its own process group, once ``tiles`` tiles are in the cache."""
    proc = subprocess.Popen([sys.executable, "-m", "ogcserver", "seed", "-c", str(config), "--layer", "mosaic",
                             "--zoom", "12-17", *how], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120  # a guard against a hang, not a speed check
    while not (cache.exists() and len(tiles_in(cache)) >= tiles) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the seed run ended before its first tiles were seen"
    return proc


def test_seed_count_resume_and_truncate(data_dir, tmp_path):
    config = write_config(data_dir, tmp_path / "c.yaml")
    cache = tmp_path / "state" / "tiles"
    dry = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-15", "--dry-run")
    assert dry.returncode == 0 and "tiles in" in dry.stdout
    assert int(dry.stdout.split(": ")[1].split(" tiles")[0]) > 0
    assert not cache.exists() or not tiles_in(cache)
    # kill -9 in the middle of a longer run: no partial tile becomes visible
    longer = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-17", "--dry-run")
    total = int(longer.stdout.split(": ")[1].split(" tiles")[0])
    proc = seeding_midway(config, cache, "--workers", "2")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    written = tiles_in(cache)
    assert 0 < len(written) < total  # killed mid-run: some tiles, not all
    for path in written:
        Image.open(io.BytesIO(path.read_bytes())).load()  # every visible tile is a whole PNG
    first = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-15")
    assert first.returncode == 0, first.stderr
    again = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-15")
    assert "0 tiles written" in again.stderr  # resumed: everything was there
    stats = run("cache", "stats", "-c", str(config))
    assert stats.returncode == 0 and "mosaic:" in stats.stdout
    z15 = [p for p in tiles_in(cache) if "/15/" in str(p)]
    one = z15[0]
    z, x, y = one.parts[-3], one.parts[-2], one.stem
    single = run("cache", "truncate", "-c", str(config), "--layer", "mosaic", "--tile", f"{z}/{x}/{y}")
    assert "1 cached tiles removed" in single.stdout and not one.exists()
    by_zoom = run("cache", "truncate", "-c", str(config), "--layer", "mosaic", "--zoom", "15")
    assert by_zoom.returncode == 0 and not [p for p in tiles_in(cache) if "/15/" in str(p)]
    assert [p for p in tiles_in(cache) if "/14/" in str(p)]


def test_seed_errors_are_clear(data_dir, tmp_path):
    config = write_config(data_dir, tmp_path / "c.yaml")
    r = run("seed", "-c", str(config), "--layer", "nope", "--zoom", "3")
    assert r.returncode == 2 and "not defined" in r.stderr and "Traceback" not in r.stderr
    r = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "3", "--bbox", "1,2,3")
    assert r.returncode == 2 and "minlon" in r.stderr


def _lonlat_bounds(folder):
    import rasterio
    from rasterio.warp import transform_bounds

    boxes = []
    for path in sorted(folder.glob("*.tif")):
        with rasterio.open(path) as src:
            boxes.append(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def test_seed_within_a_polygon_and_several_layers(data_dir, tmp_path):
    """Only metatiles touching the polygon are seeded: checked against morecantile's own lon/lat
    tile bounds and shapely, tile by tile."""
    import json

    import morecantile
    import shapely

    config = write_config(data_dir, tmp_path / "c.yaml")
    minx, miny, maxx, maxy = _lonlat_bounds(data_dir / "tiles")
    # a triangle over the south-west half of the mosaic
    triangle = shapely.Polygon([(minx, miny), (maxx, miny), (minx, maxy)])
    polygon = tmp_path / "area.geojson"
    polygon.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(triangle)}]}))
    zoom = "14-16"
    whole = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", zoom, "--dry-run")
    part = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", zoom, "--polygon", str(polygon), "--dry-run")
    count = int(part.stdout.split(": ")[1].split(" tiles")[0])
    assert part.returncode == 0 and 0 < count < int(whole.stdout.split(": ")[1].split(" tiles")[0])

    seeded = run("seed", "-c", str(config), "--layer", "mosaic", "--layer", "newest", "--zoom", zoom,
                 "--polygon", str(polygon))
    assert seeded.returncode == 0, seeded.stderr
    assert "newest WebMercatorQuad" in seeded.stdout  # both layers planned
    cache = tmp_path / "state" / "tiles"
    tms = morecantile.tms.get("WebMercatorQuad")
    have = {(int(p.parts[-3]), int(p.parts[-2]), int(p.stem)) for p in tiles_in(cache / "mosaic")}
    assert have
    meta = 4  # the default metatile size
    inner, outer = triangle.buffer(-1e-6), triangle.buffer(1e-6)
    for z in range(14, 17):
        for tile in tms.tiles(minx, miny, maxx, maxy, [z]):
            box = shapely.box(*tms.bounds(tile))
            mx, my = tile.x // meta * meta, tile.y // meta * meta
            first, last = tms.bounds(morecantile.Tile(mx, my, z)), tms.bounds(morecantile.Tile(mx + meta - 1, my + meta - 1, z))
            metabox = shapely.box(first.left, last.bottom, last.right, first.top)
            if box.intersects(inner):
                assert (z, tile.x, tile.y) in have, f"tile {z}/{tile.x}/{tile.y} inside the polygon was not seeded"
            if (z, tile.x, tile.y) in have:
                assert metabox.intersects(outer), f"tile {z}/{tile.x}/{tile.y} is in no metatile touching the polygon"
    assert any((z, x, y) not in have for z, x, y in
               ((t.z, t.x, t.y) for t in tms.tiles(minx, miny, maxx, maxy, [16])))  # the north-east was left out
    assert tiles_in(cache / "newest")

    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Point", "coordinates": [1, 2]}')
    r = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "3", "--polygon", str(bad))
    assert r.returncode == 2 and "Polygon" in r.stderr and "Traceback" not in r.stderr
    r = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "3", "--polygon", str(tmp_path / "missing"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    r = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "3", "--polygon", str(polygon), "--bbox", "1,2,3,4")
    assert r.returncode == 2 and "not both" in r.stderr


def test_seed_stats_truncate_and_quota_in_a_bucket(data_dir, tmp_path, s3_endpoint):
    """The same commands on a tile cache in object storage: keys are listed by prefix and deleted
    in batches; the quota holds there too."""
    from tests.support import s3

    bucket = s3.new_bucket(s3_endpoint, "seed")
    config = s3.use_s3_cache(write_config(data_dir, tmp_path / "c.yaml"), s3_endpoint, bucket, "cache/")
    seeded = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-14")
    assert seeded.returncode == 0, seeded.stderr
    keys = [k for k in s3.keys(s3_endpoint, bucket, "cache/mosaic/") if k.endswith(".png")]
    assert keys and all(Image.open(io.BytesIO(s3.client(s3_endpoint).get_object(Bucket=bucket, Key=k)["Body"].read()))
                        for k in keys[:3])
    again = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-14")
    assert "0 tiles written" in again.stderr
    stats = run("cache", "stats", "-c", str(config))
    assert f"mosaic: {len(keys)} tiles" in stats.stdout, stats.stdout
    z, x, y = keys[-1].removesuffix(".png").split("/")[-3:]
    single = run("cache", "truncate", "-c", str(config), "--layer", "mosaic", "--tile", f"{z}/{x}/{y}")
    assert "1 cached tiles removed" in single.stdout and keys[-1] not in s3.keys(s3_endpoint, bucket)
    by_zoom = run("cache", "truncate", "-c", str(config), "--layer", "mosaic", "--zoom", "14")
    left = s3.keys(s3_endpoint, bucket, "cache/mosaic/")
    assert by_zoom.returncode == 0 and not [k for k in left if "/14/" in k] and [k for k in left if "/13/" in k]
    sizes = [o["Size"] for page in s3.client(s3_endpoint).get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="cache/mosaic/") for o in page.get("Contents", []) if o["Key"].endswith(".png")]
    quota = sum(sizes) // 2
    from ogcserver.composition import tile_store
    from ogcserver.settings import load_settings

    store = tile_store(load_settings(config), None)  # an s3 store needs no layer catalog
    store.enforce_quota(quota)
    assert store.stats()["mosaic"]["bytes"] <= 0.9 * quota


def test_seeding_on_a_local_cluster_writes_the_process_pool_s_tiles_and_resumes(data_dir, tmp_path):
    """The local cluster's workers are forked from the seeding command (no fork server): they
    write the tiles the process pool writes, byte for byte, and a re-run writes nothing."""
    caches = {}
    for how in (["--workers", "2"], ["--cluster", "local"]):
        (tmp_path / how[0].strip("-")).mkdir()
        config = write_config(data_dir, tmp_path / how[0].strip("-") / "c.yaml")
        seeded = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-15", *how, timeout=300)
        assert seeded.returncode == 0 and "Traceback" not in seeded.stderr, seeded.stderr
        cache = config.parent / "state" / "tiles"
        caches[how[0]] = {p.relative_to(cache): p.read_bytes() for p in tiles_in(cache)}
    assert caches["--cluster"] and caches["--cluster"] == caches["--workers"]
    again = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-15", "--cluster", "local", timeout=300)
    assert again.returncode == 0 and "done: 0 tiles written" in again.stderr, again.stderr


@pytest.mark.parametrize("how", [["--workers", "2"], ["--cluster", "local"]])
def test_ctrl_c_stops_seeding_without_tracebacks_and_a_re_run_resumes(data_dir, tmp_path, how):
    """Ctrl-C (SIGINT to the terminal's whole process group, workers included) is handled by the
    command alone: it closes its workers, says how far it got, and leaves no process behind."""
    config = write_config(data_dir, tmp_path / "c.yaml")
    cache = tmp_path / "state" / "tiles"
    proc = seeding_midway(config, cache, *how, tiles=3 * META_TILES)  # a whole metatile among them
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted: " in err and "Traceback" not in err, err[-3000:]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("a worker of the interrupted run is still alive")
    kept = {path: path.stat().st_ino for path in tiles_in(cache)}
    assert kept
    again = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-17", *how, timeout=300)
    assert again.returncode == 0, again.stderr
    # resumed: only the metatile each of the two workers was in the middle of is made again
    remade = [path for path, inode in kept.items() if path.stat().st_ino != inode]
    assert len(remade) <= 2 * (META_TILES - 1) and len(kept) > len(remade)
    assert len(tiles_in(cache)) > len(kept)
