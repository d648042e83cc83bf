"""The workers' metrics folder: private and empty at start, gone at exit, and the folders of
servers killed outright removed at the next start."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from prometheus_client import values

from ogcserver.web.metrics import DIR_PREFIX, MULTIPROC_ENV, shared_metrics_dir


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_fresh_folder_per_server_and_stale_ones_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    stale = tmp_path / f"{DIR_PREFIX}{dead_pid()}-abc"
    stale.mkdir()
    (stale / "counter_1.db").write_bytes(b"x")
    running = tmp_path / f"{DIR_PREFIX}{os.getppid()}-def"  # a server still running keeps its folder
    running.mkdir()
    with shared_metrics_dir() as folder:
        assert Path(folder).parent == tmp_path and os.environ[MULTIPROC_ENV] == folder
        assert list(Path(folder).iterdir()) == []
        assert values.ValueClass is not values.MutexValue  # new series write per-process files
        assert not stale.exists() and running.exists()
    assert not Path(folder).exists() and MULTIPROC_ENV not in os.environ
    assert values.ValueClass is values.MutexValue
