"""/healthz (alive) and /readyz (catalog and tile cache reachable): open to every caller, outside
the rate limits, and /readyz not ready while the tile cache cannot store tiles."""

from __future__ import annotations

import shutil

from tests.support.one_layer import one_layer_client

BAD_CREDENTIALS = {"Authorization": "Basic bm9ib2R5OndoYXRldmVy"}


def locked_down(data_dir, tmp_path, store: str = "directory"):
    return one_layer_client(data_dir, tmp_path, cache={"store": store},  # anonymous callers get nothing:
                            access={"rate_limits": {"per_address_per_minute": 1}, "grants": []})


def test_probes_need_no_credentials_and_are_not_rate_limited(data_dir, tmp_path):
    client = locked_down(data_dir, tmp_path)
    for _ in range(5):
        assert client.get("/healthz", headers=BAD_CREDENTIALS).status_code == 200
        ready = client.get("/readyz", headers=BAD_CREDENTIALS)
        assert ready.status_code == 200 and ready.json == {"status": "ready"}
    assert client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities", headers=BAD_CREDENTIALS).status_code == 401
    assert [client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities").status_code for _ in range(2)][-1] == 429


def test_not_ready_while_the_tile_cache_cannot_store_tiles(data_dir, tmp_path):
    for store in ("directory", "mbtiles", "geopackage"):
        client = locked_down(data_dir, tmp_path / store, store)
        locks = tmp_path / store / "state" / "tiles" / ".locks"
        assert client.get("/readyz").status_code == 200
        shutil.rmtree(locks)
        locks.write_text("")  # a file where the store's folder was: nothing can be made there (even by root)
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json == {"status": "unavailable", "reason": "tile cache"}, store
        assert int(r.headers["Retry-After"]) >= 1
        assert client.get("/healthz").status_code == 200  # alive all the same: no restart needed
        locks.unlink()
        locks.mkdir()
        assert client.get("/readyz").status_code == 200, store
