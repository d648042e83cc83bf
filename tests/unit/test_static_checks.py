"""ruff and mypy, configured in pyproject.toml, hold over the tree; each check is also shown to
refuse what it is there to refuse, so a configuration that checks nothing fails here too."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
LINTED = ["ogcserver", "tests", "bench", "samples"]


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def _ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("ruff"), "check", "--no-fix", "--config", str(PYPROJECT), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def _mypy(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), "--cache-dir", str(cache),
                           *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_ruff_passes():
    run = _ruff(*LINTED, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_refuses_likely_bugs(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\n\ndef collect(item: int, into: list[int] = []) -> list[int]:\n"
                     "    into.append(item)\n    return into\n")
    run = _ruff(str(probe), cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "F401" in run.stdout  # unused import
    assert "B006" in run.stdout  # mutable default argument


def test_mypy_passes():
    # the files to check come from pyproject; the cache beside the sources keeps reruns fast
    run = _mypy(cwd=REPO, cache=REPO / ".mypy_cache")
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_refuses_untyped_and_implicit_optional(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def scale(value, factor: float) -> float:\n    return value * factor\n\n\n"
                     "def first(limit: int = None) -> int:\n    return limit or 0\n")
    run = _mypy(str(probe), cwd=tmp_path, cache=tmp_path / "cache")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[no-untyped-def]" in run.stdout
    assert "[assignment]" in run.stdout and "None" in run.stdout  # no implicit Optional


def test_wheel_ships_py_typed(tmp_path):
    """Type checkers of code that uses ogcserver read its annotations only when py.typed ships."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(PYPROJECT, source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(REPO / "ogcserver", source / "ogcserver", ignore=shutil.ignore_patterns("__pycache__"))
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(source)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    (wheel,) = (tmp_path / "dist").glob("ogcserver-*.whl")
    assert "ogcserver/py.typed" in zipfile.ZipFile(wheel).namelist()
