"""An installed (non-editable) build finds its capabilities templates, which live at the top level
of the source tree and are mapped into the package by setup.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

SOURCES = ("pyproject.toml", "setup.py", "README.md", "ogcserver", "capabilities_templates")

RENDER = """
import sys
from pathlib import Path
import ogcserver
from ogcserver.app import create_app
from ogcserver.settings import load_settings
client = create_app(load_settings(Path(sys.argv[1]))).test_client()
response = client.get("/ows?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")
print(ogcserver.__file__)
print(response.status_code)
sys.stdout.write(response.get_data(as_text=True))
"""


def test_an_installed_wheel_renders_capabilities(tmp_path, config_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:  # a copy, so the build leaves nothing in the checkout
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(source)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("ogcserver-*.whl"))
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    shutil.rmtree(source)  # nothing of the source tree is left to fall back on

    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", RENDER, str(config_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    module, status, body = done.stdout.split("\n", 2)
    assert Path(module).is_relative_to(site)
    assert status == "200"
    assert "<WMS_Capabilities" in body and "<Name>parent</Name>" in body
