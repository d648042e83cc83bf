"""The local cluster's workers spend no time on Dask's statistical profiler (nothing shows its
samples, and it took a tenth of a seeding worker's time), and start with ogcserver's task modules
already imported (forked from a server that imported them once), not importing them each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ogcserver.analysing.cluster import cluster_client
from ogcserver.core.config import AnalysisConfig
from tests.conftest import REPO

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


def test_the_local_cluster_keeps_dask_housekeeping_to_what_a_job_needs():
    """Its scheduler and workers share the job's cores: no metrics route (it imported
    prometheus_client in every worker), no work stealing (queued tasks have nothing to steal), the
    event-loop health tick once a second instead of fifty times, the system and memory monitors
    slowed (the memory limit still holds, checked twice a second)."""
    with cluster_client(AnalysisConfig(workers=1, memory_limit_mb=512)) as client:
        (worker,) = client.run(lambda dask_worker: (dask_worker.periodic_callbacks["tick"].callback_time,
                                                     dask_worker.periodic_callbacks["monitor"].callback_time,
                                                     dask_worker.periodic_callbacks["memory_monitor"].callback_time,
                                                     "prometheus_client" in sys.modules)).values()
        stealing = client.run_on_scheduler(lambda dask_scheduler: "stealing" in dask_scheduler.extensions)
    assert worker == (1000, 2000, 500, False)
    assert stealing is False


def test_workers_forked_from_this_process_need_no_server():
    """Seeding's start: the workers are this process's children, with what it imported."""
    with cluster_client(AnalysisConfig(workers=2, memory_limit_mb=512), start_method="fork") as client:
        parents = client.run(os.getppid)
        imported = client.run(lambda: "tests.unit.test_local_cluster" in sys.modules)
    assert set(parents.values()) == {os.getpid()}
    assert set(imported.values()) == {True}


def test_local_workers_start_with_the_task_modules_imported():
    """Asked before any task: a spawned worker has imported none of ogcserver."""
    loaded = lambda: sorted(m for m in ("ogcserver.composition", "ogcserver.seeding",  # noqa: E731
                                        "ogcserver.analysing.products") if m in sys.modules)
    with cluster_client(AnalysisConfig(workers=2, memory_limit_mb=512)) as client:
        imported = client.run(loaded)
    assert len(imported) == 2
    assert all(modules == ["ogcserver.analysing.products", "ogcserver.composition", "ogcserver.seeding"]
               for modules in imported.values())


WORKER_ENVIRON = """
import json
from pathlib import Path
from ogcserver.analysing.worker_server import start_worker_server
start_worker_server()
from ogcserver.analysing.cluster import cluster_client
from ogcserver.core.config import AnalysisConfig

def started_with():
    pairs = Path("/proc/self/environ").read_bytes().decode().split("\\0")
    return dict(p.split("=", 1) for p in pairs if p.startswith(("OMP_NUM_THREADS=", "MALLOC_TRIM_THRESHOLD_=")))

with cluster_client(AnalysisConfig(workers=1, memory_limit_mb=512)) as client:
    print(json.dumps(list(client.run(started_with).values())))
"""


def test_a_worker_server_started_ahead_gives_workers_the_environment_dask_sets():
    """The environment a worker process started with (read by the C libraries as they load: glibc's
    malloc, OpenBLAS' threads) is the fork server's: it must carry what Dask sets before a start."""
    done = subprocess.run([sys.executable, "-c", WORKER_ENVIRON], capture_output=True, text=True, cwd=REPO, timeout=100,
                          env={k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [{"OMP_NUM_THREADS": "1", "MALLOC_TRIM_THRESHOLD_": "65536"}]
