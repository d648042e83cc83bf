"""The server's memory setting: each worker's share bounds GDAL's block cache and its open datasets."""

from __future__ import annotations

import pytest
import yaml

from ogcserver.app import create_app
from ogcserver.settings import ConfigError, ServerConfig, load_settings
from ogcserver.storage.readers.process_memory import gdal_cache_bytes

MIB = 1 << 20


def test_by_default_each_worker_has_256_mib():
    server = ServerConfig(workers=16)
    assert server.worker_memory_bytes == 256 * MIB
    assert server.gdal_cache_bytes == 32 * MIB  # an eighth
    assert server.open_datasets == 64


def test_a_total_is_split_over_workers_and_threads():
    server = ServerConfig(workers=16, threads=4, memory_mb=1024)
    assert server.worker_memory_bytes == 64 * MIB
    assert server.gdal_cache_bytes == 16 * MIB  # the least it gets
    assert server.open_datasets == 4  # 64 MiB / 4 MiB per handle, over 4 threads' pools
    assert ServerConfig(workers=1, memory_mb=4096, max_open_datasets=10).open_datasets == 10


def test_a_share_too_small_for_a_worker_is_refused(tmp_path, data_dir):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"server": {"workers": 8, "memory_mb": 256},
                                    "services": [{"name": "s", "layers": [{"name": "d", "source": str(data_dir / "dem.tif")}]}]}))
    with pytest.raises(ConfigError, match="memory_mb"):
        load_settings(path)


def test_the_app_bounds_gdal_block_cache(tmp_path, data_dir):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"server": {"data_dir": str(tmp_path / "state"), "workers": 2, "memory_mb": 1024},
                                    "services": [{"name": "s", "layers": [{"name": "d", "source": str(data_dir / "dem.tif")}]}]}))
    create_app(load_settings(path))
    assert gdal_cache_bytes() == 64 * MIB  # an eighth of 512 MiB
