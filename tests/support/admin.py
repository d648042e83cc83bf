"""A configuration with an administrator (API key ``ADMIN_KEY``), a plain user key and open layers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

ADMIN_KEY = "admin-key-4f1d"
VIEWER_KEY = "viewer-key-77ab"
ADMIN = {"X-API-Key": ADMIN_KEY}
ADMIN_YAML = {**ADMIN, "Content-Type": "application/yaml"}  # for bodies sent as YAML text


def admin_config(data_dir: Path, folder: Path, **server) -> dict:
    return {
        "title": "Administered server",
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0, **server},
        "services": [{"name": "demo", "layers": [
            {"name": "parent", "source": str(data_dir / "parent" / "parent.tif")},
            {"name": "dem", "source": str(data_dir / "dem.tif")},
        ]}],
        "access": {
            "api_keys": [
                {"name": "boss", "key_sha256": hashlib.sha256(ADMIN_KEY.encode()).hexdigest(), "groups": ["admins"]},
                {"name": "viewer", "key_sha256": hashlib.sha256(VIEWER_KEY.encode()).hexdigest()},
            ],
            "grants": [
                {"to": "group:admins", "actions": ["admin"]},
                {"to": "anonymous", "service": "demo", "actions": ["discover", "view", "query"]},
            ],
        },
    }


def write_admin_config(data_dir: Path, folder: Path, **server) -> Path:
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(admin_config(data_dir, folder, **server)))
    return path
