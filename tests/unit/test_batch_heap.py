"""Seeding and analysis workers keep their freed heap for the next task, while a serving process
hands it back after every request.

Measured by what the difference costs: the minor page faults of allocating, filling and freeing
the same array again. In a serving process each round maps fresh pages (which the kernel zeroes);
in a batch worker the rounds reuse the heap."""

from __future__ import annotations

import multiprocessing
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from ogcserver import seeding
from ogcserver.analysing.cluster import cluster_client, worker_core
from ogcserver.core.config import AnalysisConfig
from ogcserver.settings import load_settings
from tests.conftest import REPO

ARRAY_BYTES = 2 << 20  # above the serving mmap threshold, below numpy's huge-page size (4 MiB)
ROUNDS = 4
PAGES_PER_ROUND = ARRAY_BYTES // resource.getpagesize()


def faults_of_reused_arrays() -> int:
    """Minor page faults of ``ROUNDS`` arrays allocated, filled and freed one after another, each
    round ending as a request ends (``trim_heap``)."""
    from ogcserver.storage.readers.process_memory import trim_heap

    np.ones(ARRAY_BYTES, np.uint8)  # a first array (glibc adapts to the first free of its size)
    trim_heap()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(ROUNDS):
        np.ones(ARRAY_BYTES, np.uint8)
        trim_heap()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _in_fresh_process(setup: str) -> int:
    code = (f"from ogcserver.storage.readers.process_memory import *\n{setup}\n"
            "from tests.unit.test_batch_heap import faults_of_reused_arrays\n"
            "print(faults_of_reused_arrays())")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def _config(tmp_path: Path, data_dir: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(tmp_path / "state")},
        "cache": {"path": str(tmp_path / "tiles")},
        "services": [{"name": "s", "layers": [{"name": "p", "source": str(data_dir / "dem.tif")}]}]}))
    return config


def test_a_serving_process_maps_each_big_array_afresh():
    faults = _in_fresh_process("bound_process_memory(16 << 20)")
    assert faults >= 0.9 * ROUNDS * PAGES_PER_ROUND


def test_a_batch_worker_reuses_its_heap_even_after_its_core_is_rebuilt():
    faults = _in_fresh_process("bound_process_memory(16 << 20)\nkeep_heap_for_batch_work()\n"
                               "bound_process_memory(16 << 20)\n"
                               "with roomy_heap():\n    pass")
    assert faults < 0.1 * PAGES_PER_ROUND


def _seeding_worker_faults(_: int) -> int:
    return faults_of_reused_arrays()


def test_a_seeding_pool_worker_is_a_batch_worker(tmp_path, data_dir):
    config = _config(tmp_path, data_dir)
    with multiprocessing.get_context("fork").Pool(1, initializer=seeding._init, initargs=(str(config),)) as pool:
        faults = pool.map(_seeding_worker_faults, [0])[0]
    assert faults < 0.1 * PAGES_PER_ROUND


def _cluster_worker_faults(settings) -> int:
    worker_core(settings)
    return faults_of_reused_arrays()


@pytest.mark.timeout(120)
def test_a_cluster_worker_is_a_batch_worker_once_it_has_its_core(tmp_path, data_dir):
    settings = load_settings(_config(tmp_path, data_dir))
    with cluster_client(AnalysisConfig(workers=1, memory_limit_mb=1024), start_method="fork") as client:
        faults = client.submit(_cluster_worker_faults, settings, pure=False).result()
    assert faults < 0.1 * PAGES_PER_ROUND
