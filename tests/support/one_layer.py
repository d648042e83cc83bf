"""A test client of a server publishing one layer (``p`` in service ``s``, the DEM), with
settings such as access rules or the tile store given by the test."""

from __future__ import annotations

from pathlib import Path

import yaml
from flask.testing import FlaskClient

from ogcserver.app import create_app
from ogcserver.settings import load_settings

ANONYMOUS_VIEWERS = [{"to": "anonymous", "service": "s", "actions": ["discover", "view"]}]


def one_layer_client(data_dir: Path, folder: Path, **settings: object) -> FlaskClient:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(folder / "state")},
        "services": [{"name": "s", "layers": [{"name": "p", "source": str(data_dir / "dem.tif")}]}],
        **settings,
    }))
    return create_app(load_settings(config)).test_client()


def rate_limited_client(data_dir: Path, folder: Path, per_minute: int, **access: object) -> FlaskClient:
    """Anonymous callers may view, ``per_minute`` requests a minute each."""
    return one_layer_client(data_dir, folder, access={
        "rate_limits": {"per_principal_per_minute": per_minute}, "grants": ANONYMOUS_VIEWERS, **access})
