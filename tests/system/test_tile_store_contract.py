"""One contract for the tile stores a static front can serve: the directory tree and an S3 bucket.

Each test runs against both (``store``); the S3 one against a local S3-compatible server (moto,
started by the tests). Tiles are written directly, so every count below is known by hand.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from ogcserver.model.tiles import TileKey
from ogcserver.storage.cache.directory import DirectoryStore
from ogcserver.storage.cache.s3_store import S3TileStore
from ogcserver.storage.s3 import Clients, S3Endpoint
from tests.support import s3

PREFIX = "cache/"


def s3_store(endpoint: str, bucket: str, **options) -> S3TileStore:
    return S3TileStore(Clients(S3Endpoint(endpoint, s3.REGION, s3.ACCESS_KEY, s3.SECRET_KEY)), bucket, PREFIX,
                       **options)


@pytest.fixture(params=["directory", "s3"])
def store(request, tmp_path: Path):
    if request.param == "directory":
        return DirectoryStore(tmp_path / "tiles")
    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_store(endpoint, s3.new_bucket(endpoint, "tiles"))


def tile(x: int, y: int, z: int = 5, version: str = "v1", style: str = "default", tms: str = "WebMercatorQuad",
         layer: str = "ortho") -> TileKey:
    return TileKey(layer, style, tms, version, z, x, y, "png")


def test_a_tile_reads_back_as_written(store):
    key = tile(3, 4)
    assert store.get(key) is None
    store.put(key, b"tile-bytes")
    hit = store.get(key)
    assert hit.body == b"tile-bytes" and hit.etag and hit.mtime > 0
    store.put(key, b"newer")
    assert store.get(key).body == b"newer"
    store.put_empty(tile(3, 5), b"empty-png")
    assert store.get(tile(3, 5)).body == b"empty-png"
    assert store.delete(key) and store.get(key) is None and not store.delete(key)


def test_keys_are_the_directory_layout(tmp_path, s3_endpoint):
    """A static host or CDN serves the bucket by the paths it would serve the directory by."""
    bucket = s3.new_bucket(s3_endpoint, "layout")
    directory, remote = DirectoryStore(tmp_path / "tiles"), s3_store(s3_endpoint, bucket)
    keys = [tile(1, 2), tile(7, 9, z=12, style="shade", tms="WorldCRS84Quad", version="abc")]
    for key in keys:
        directory.put(key, b"x")
        remote.put(key, b"x")
    expected = sorted(PREFIX + directory.path(k).relative_to(tmp_path / "tiles").as_posix() for k in keys)
    assert [k for k in s3.keys(s3_endpoint, bucket, PREFIX) if k.endswith(".png")] == expected
    current = s3.client(s3_endpoint).get_object(Bucket=bucket, Key=f"{PREFIX}ortho/default/WebMercatorQuad/current")
    assert current["Body"].read() == b"v1"  # what the directory's 'current' link points at


def test_delete_area_drops_exactly_the_span(store):
    for x in range(6):
        for y in range(6):
            store.put(tile(x, y), b"t")
    store.put(tile(2, 2, version="v0"), b"other version")
    store.put(tile(2, 2, z=6), b"other zoom")
    assert store.delete_area("ortho", "default", "WebMercatorQuad", "v1", 5, (1, 2, 3, 4)) == 9
    left = {(x, y) for x in range(6) for y in range(6) if store.get(tile(x, y)) is not None}
    assert left == {(x, y) for x in range(6) for y in range(6)} - {(x, y) for x in (1, 2, 3) for y in (2, 3, 4)}
    assert store.get(tile(2, 2, version="v0")) is not None and store.get(tile(2, 2, z=6)) is not None
    assert store.delete_area("ortho", "default", "WebMercatorQuad", "v1", 5, (1, 2, 3, 4)) == 0


def test_a_wide_area_is_listed_once_and_counted_exactly(store):
    for x in range(0, 40, 2):
        store.put(tile(x, 1, z=9), b"t")
    assert store.delete_area("ortho", "default", "WebMercatorQuad", "v1", 9, (5, 0, 400, 1)) == 17
    assert store.get(tile(4, 1, z=9)) is not None and store.get(tile(6, 1, z=9)) is None


def test_truncating_a_zoom_and_a_layer(store):
    for z in (3, 4):
        for style in ("default", "shade"):
            store.put(tile(0, 0, z=z, style=style), b"t")
            store.put(tile(1, 0, z=z, style=style, version="v2"), b"t")
    store.put(tile(0, 0, z=4, layer="other"), b"t")
    assert store.delete_zoom("ortho", "WebMercatorQuad", 4) == 4
    assert store.get(tile(0, 0, z=3)) is not None and store.get(tile(0, 0, z=4)) is None
    assert store.stats() == {"ortho": {"tiles": 4, "bytes": 4}, "other": {"tiles": 1, "bytes": 1}}
    store.delete_layer("ortho")
    assert store.stats() == {"other": {"tiles": 1, "bytes": 1}}


def test_quota_evicts_the_least_recently_written_first(store):
    old = [tile(x, 0) for x in range(5)]
    new = [tile(x, 1) for x in range(5)]
    for key in old:
        store.put(key, b"x" * 10_000)
    time.sleep(1.1)  # object stores date writes to the second
    for key in new:
        store.put(key, b"x" * 10_000)
    assert store.enforce_quota(200_000) == 0
    assert store.enforce_quota(60_000) == 5  # down to 90% of the quota: the five older tiles go
    assert all(store.get(k) is None for k in old) and all(store.get(k) is not None for k in new)


def test_a_read_marks_an_object_tile_as_used(s3_endpoint):
    """Objects have no access time: a hit on an old tile rewrites it, so eviction spares it."""
    clock = [time.time()]
    store = s3_store(s3_endpoint, s3.new_bucket(s3_endpoint, "touch"), touch_after=3600, clock=lambda: clock[0])
    keys = [tile(x, 0) for x in range(4)]
    for key in keys:
        store.put(key, b"x" * 10_000)
        time.sleep(1.1)
    clock[0] += 7200  # two hours later, the oldest tile is read
    assert store.get(keys[0]).body == b"x" * 10_000
    assert store.enforce_quota(30_000) == 2
    assert [store.get(k) is not None for k in keys] == [True, False, False, True]  # 1 and 2 were oldest


def _count_under_lock(kind: str, where: str, bucket: str, counter: str, rounds: int) -> None:
    store = DirectoryStore(Path(where)) if kind == "directory" else s3_store(where, bucket)
    for _ in range(rounds):
        with store.lock("metatile 5/0/0"):
            value = int(Path(counter).read_text())
            time.sleep(0.01)  # another holder would read the same value meanwhile
            Path(counter).write_text(str(value + 1))


def test_the_lock_excludes_other_processes(store, tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")
    if isinstance(store, DirectoryStore):
        kind, where, bucket = "directory", str(store.root), ""
    else:
        kind, where, bucket = "s3", store.clients.endpoint.endpoint_url, store.bucket
    processes = [multiprocessing.get_context("spawn").Process(
        target=_count_under_lock, args=(kind, where, bucket, str(counter), 5)) for _ in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
    assert [p.exitcode for p in processes] == [0] * 4
    assert counter.read_text() == "20"


def test_a_dead_holders_object_lock_is_taken_over_after_its_lease(s3_endpoint):
    clock = [1000.0]
    bucket = s3.new_bucket(s3_endpoint, "lease")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    dead = s3_store(s3_endpoint, bucket, clock=lambda: clock[0])
    held = dead.lock("metatile")
    held.__enter__()  # and never leaves: its process was killed
    waiter = s3_store(s3_endpoint, bucket, clock=lambda: clock[0], sleep=sleep)
    with waiter.lock("metatile"):
        assert 60 <= sum(waits) < 62  # waited out the lease, no longer
    with waiter.lock("metatile"):  # released: taken at once
        assert 60 <= sum(waits) < 62


def test_an_unreachable_bucket_makes_a_cache_that_misses_not_an_error(tmp_path, caplog):
    """Nothing listens at the endpoint: reads miss, writes are dropped, locks are skipped, logged."""
    from tests.conftest import reserved_port

    with reserved_port() as port:  # bound, never listening: connections are refused
        store = s3_store(f"http://127.0.0.1:{port}", "nowhere")
        assert store.get(tile(0, 0)) is None
        store.put(tile(0, 0), b"t")
        with store.lock("metatile"):
            pass
        with pytest.raises(OSError, match="cannot store tiles"):  # and /readyz says so
            store.check()
    assert any(r.getMessage() == "tile cache unreachable" for r in caplog.records)


def test_a_working_store_is_ready(store):
    store.check()
