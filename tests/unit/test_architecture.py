"""The dependency rule of ARCHITECTURE.md, enforced by import-linter contracts in pyproject.toml."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    run = subprocess.run([exe, str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


ENGINE_INSIDES = {"catalog", "policy", "reader"}
ADAPTERS = ("ogcserver/ows", "ogcserver/web", "ogcserver/seeding.py", "ogcserver/core/tilecache.py")


def reaches_past_engine(source: str) -> list[int]:
    """Lines where code reads the engine's catalog, policy or reader instead of its checked methods."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ENGINE_INSIDES:
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if name == "engine":
                found.append(node.lineno)
    return found


def test_the_finder_sees_each_way_of_reaching_in():
    code = "engine.catalog.layer(x)\nself.engine.policy.reveal()\nctx.engine.reader.read()\nself.catalog.layer(x)\n"
    assert reaches_past_engine(code) == [1, 2, 3]


def test_adapters_go_through_the_engine():
    """Adapters and the tile cache ask the engine, whose methods check access first: reading the
    catalog directly is how a hidden layer leaks."""
    offenders = []
    for root in ADAPTERS:
        path = REPO / root
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            offenders += [f"{file.relative_to(REPO)}:{line}" for line in reaches_past_engine(file.read_text())]
    assert offenders == []
