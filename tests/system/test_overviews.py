"""Mosaic-level overviews: zoomed-out views read one file instead of the items, show the same
pixels the items give, and are refreshed only where items changed."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from ogcserver.app import core_of, create_app
from ogcserver.cli import main
from ogcserver.settings import load_settings
from tests.support import rasters
from tests.support.reference import decode, params

X0, Y0 = rasters.ORIGIN
SIDE = 200  # pixels per item; 4 x 4 items of 10 m pixels: an 8 km square


@pytest.fixture()
def world(tmp_path):
    folder = tmp_path / "grid"
    for row in range(4):
        for col in range(4):
            data = rasters.texture((SIDE, SIDE), 3, seed=row * 4 + col)
            transform = rasters.from_origin(X0 + col * SIDE * 10, Y0 - row * SIDE * 10, 10, 10)
            rasters.write(folder / f"r{row}c{col}.tif", data, transform, overviews=(2, 4))
    config = {"server": {"data_dir": str(tmp_path / "state"), "index_refresh_seconds": 0},
              "services": [{"name": "s", "limits": {"max_items": 20}, "layers": [{"name": "grid", "collection": "grid"}]}]}
    path = tmp_path / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["catalog", "add", "grid", str(folder), "-c", str(path)]) == 0
    return tmp_path, path


class Reads:
    """Wraps the app's reader to record which files each request opened."""

    def __init__(self, reader):
        self.reader, self.paths = reader, []

    def __getattr__(self, name):
        return getattr(self.reader, name)

    def read(self, source, grid, bands, resampling):
        self.paths.append(source.path)
        return self.reader.read(source, grid, bands, resampling)


def _app(path):
    app = create_app(load_settings(path))
    engine = core_of(app).engine
    engine.reader = Reads(engine.reader)
    return app, engine.reader


def _map(client, bbox, size, **extra):
    r = client.get("/services/s/wms", query_string=params(LAYERS="grid", CRS="EPSG:32632", BBOX=",".join(map(str, bbox)),
                                               WIDTH=size, HEIGHT=size, TRANSPARENT="TRUE", **extra))
    assert r.status_code == 200, r.data[:300]
    img = decode(r.data)
    if img.shape[2] == 3:  # opaque everywhere
        img = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    return img


WHOLE = (X0, Y0 - 8000, X0 + 8000, Y0)


def test_zoomed_out_views_read_the_overview_and_match_the_items(world, capsys):
    _root, path = world
    assert main(["catalog", "overviews", "grid", "--factor", "2", "-c", str(path)]) == 0
    assert "built: 2 levels" in capsys.readouterr().out
    app, reads = _app(path)
    client = app.test_client()
    # level 0 is 20 m: a 400 px view of the whole mosaic reads it, and only it
    picture = _map(client, WHOLE, 400)
    assert reads.paths and all("/overviews/grid/" in p for p in reads.paths)
    # the same view through the items (an explicit ordering is a selection: no overview)
    reads.paths.clear()
    from_items = _map(client, WHOLE, 400, MOSAICORDER="newest")
    assert len(reads.paths) == 16 and not any("/overviews/" in p for p in reads.paths)
    assert np.array_equal(picture, from_items)
    # a 100 px view reads level 1 (40 m); views finer than 20 m read the items
    reads.paths.clear()
    _map(client, WHOLE, 100)
    assert reads.paths == [p for p in reads.paths if p.endswith("/1.tif")] and reads.paths
    reads.paths.clear()
    _map(client, (X0, Y0 - 1000, X0 + 1000, Y0), 100)
    assert reads.paths and not any("/overviews/" in p for p in reads.paths)


def test_past_the_item_cap_the_overview_answers(world, tmp_path):
    _root, path = world
    text = path.read_text().replace("max_items: 20", "max_items: 4")
    path.write_text(text)
    before = _map(_app(path)[0].test_client(), WHOLE, 800)  # 10 m view, 16 items > 4: footprints drawn
    assert set(np.unique(before[..., 0][before[..., 3] == 255]).tolist()) == {230}  # footprints, and only them
    assert main(["catalog", "overviews", "grid", "--factor", "2", "-c", str(path)]) == 0
    after = _map(_app(path)[0].test_client(), WHOLE, 800)
    assert (after[..., 3] == 255).all() and len(np.unique(after[..., 0])) > 50  # imagery, from level 0


def test_changes_are_read_from_items_until_an_incremental_refresh(world, capsys):
    root, path = world
    assert main(["catalog", "overviews", "grid", "--factor", "2", "-c", str(path)]) == 0
    late = rasters.write(root / "late" / "late.tif", np.full((3, 100, 100), 250, np.uint8),
                         rasters.from_origin(X0 + 100, Y0 - 100, 10, 10),
                         tags={"ACQUISITIONDATETIME": "2030-01-01T00:00:00Z"})
    assert main(["catalog", "add", "grid", str(late), "-c", str(path)]) == 0
    app, reads = _app(path)
    client = app.test_client()
    corner = (X0, Y0 - 2000, X0 + 2000, Y0)
    stale = _map(client, corner, 100)  # 20 m: level 0's resolution, but its area changed
    assert (stale[10:14, 10:14, 0] == 250).all() and not any("/overviews/" in p for p in reads.paths)
    capsys.readouterr()
    assert main(["catalog", "overviews", "grid", "--factor", "2", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "refreshed" in out and "2 levels, 2 blocks" in out  # one 512-px block per level, of 1 + 1
    assert main(["catalog", "overviews", "grid", "--factor", "2", "-c", str(path)]) == 0
    assert "up to date" in capsys.readouterr().out
    app, reads = _app(path)
    fresh = _map(app.test_client(), corner, 100)
    assert reads.paths and all("/overviews/" in p for p in reads.paths)
    assert np.array_equal(fresh, stale)
