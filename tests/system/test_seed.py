"""``ogcserver seed`` and ``ogcserver cache``: counting, seeding, resuming after kill -9, truncating."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time

from PIL import Image

from tests.conftest import write_config


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ogcserver", *args], capture_output=True, text=True, timeout=timeout)


def tiles_in(root):
    return [p for p in root.rglob("*.png") if not p.name.startswith((".tmp-", "empty."))]


def test_seed_count_resume_and_truncate(data_dir, tmp_path):
    config = write_config(data_dir, tmp_path / "c.yaml")
    cache = tmp_path / "state" / "tiles"
    dry = run("seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-15", "--dry-run")
    assert dry.returncode == 0 and "tiles in" in dry.stdout
    assert int(dry.stdout.split(": ")[1].split(" tiles")[0]) > 0
    assert not cache.exists() or not tiles_in(cache)
    # kill -9 in the middle of a longer run: no partial tile becomes visible
    proc = subprocess.Popen([sys.executable, "-m", "ogcserver", "seed", "-c", str(config), "--layer", "mosaic",
                             "--zoom", "12-17", "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(4)
    import os

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for path in tiles_in(cache):
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
