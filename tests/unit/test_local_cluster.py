"""The local cluster's workers spend no time on Dask's statistical profiler (nothing shows its
samples, and it took a tenth of a seeding worker's time), and start with ogcserver's task modules
already imported (forked from a server that imported them once), not importing them each."""

from __future__ import annotations

import sys
import time

import pytest

from ogcserver.analysing.cluster import cluster_client
from ogcserver.core.config import AnalysisConfig

pytestmark = pytest.mark.timeout(120)


def _busy(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_the_local_cluster_runs_tasks_without_the_statistical_profiler():
    with cluster_client(AnalysisConfig(workers=1, memory_limit_mb=512)) as client:
        assert client.submit(_busy, 0.5, pure=False).result() > 0
        assert client.profile()["count"] == 0


def test_local_workers_start_with_the_task_modules_imported():
    """Asked before any task: a spawned worker has imported none of ogcserver."""
    loaded = lambda: sorted(m for m in ("ogcserver.composition", "ogcserver.seeding",  # noqa: E731
                                        "ogcserver.analysing.products") if m in sys.modules)
    with cluster_client(AnalysisConfig(workers=2, memory_limit_mb=512)) as client:
        imported = client.run(loaded)
    assert len(imported) == 2
    assert all(modules == ["ogcserver.analysing.products", "ogcserver.composition", "ogcserver.seeding"]
               for modules in imported.values())
