"""The command line builds only the core: ``seed``, ``cache``, ``catalog`` and ``validate-config`` work
in an environment where Flask and Werkzeug cannot be imported at all."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import write_config

BLOCKER = '''
import sys


class NoWebFramework:
    """Refuses flask and werkzeug, as if they were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("flask", "werkzeug"):
            raise ImportError(f"{name} is blocked in this environment")
        return None


sys.meta_path.insert(0, NoWebFramework())
'''


@pytest.fixture()
def without_flask(tmp_path) -> dict[str, str]:
    """An environment whose interpreters cannot import flask or werkzeug."""
    site = tmp_path / "blocker"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ogcserver", *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=Path(__file__).resolve().parents[2])


def test_the_blocker_blocks(without_flask):
    probe = subprocess.run([sys.executable, "-c", "import flask"], capture_output=True, text=True, env=without_flask)
    assert probe.returncode != 0 and "flask is blocked" in probe.stderr


def test_seed_and_cache_without_flask(without_flask, data_dir, tmp_path):
    config = write_config(data_dir, tmp_path / "c.yaml")
    assert run(without_flask, "validate-config", str(config)).returncode == 0
    seeded = run(without_flask, "seed", "-c", str(config), "--layer", "mosaic", "--zoom", "12-13", "--workers", "1")
    assert seeded.returncode == 0, seeded.stderr
    tiles = [p for p in (tmp_path / "state" / "tiles").rglob("*.png") if not p.name.startswith((".tmp-", "empty."))]
    assert tiles
    for path in tiles:
        Image.open(io.BytesIO(path.read_bytes())).load()  # whole, decodable PNGs
    stats = run(without_flask, "cache", "stats", "-c", str(config))
    assert stats.returncode == 0 and "mosaic:" in stats.stdout, stats.stderr


def test_catalog_without_flask(without_flask, data_dir, tmp_path):
    config = write_config(data_dir, tmp_path / "c.yaml")
    added = run(without_flask, "catalog", "add", "scenes", str(data_dir / "tiles"), "-c", str(config))
    assert added.returncode == 0 and "added 4" in added.stdout, added.stderr
    listed = run(without_flask, "catalog", "list", "scenes", "-c", str(config))
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 4, listed.stderr
    overview = run(without_flask, "catalog", "overviews", "mosaic", "--factor", "2", "-c", str(config))
    assert overview.returncode == 0 and "overview of 'mosaic' built" in overview.stdout, overview.stderr
