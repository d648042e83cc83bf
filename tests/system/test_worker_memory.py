"""A worker's resident memory under a mixed load at concurrency 16 (bounded: 40 s, 3000 requests).

The load mixes maps of 256 to 2048 pixels, processed maps, WCS coverages, tiles and point
queries over real rasters; each worker's peak resident size (VmHWM, from /proc) must stay under
300 MB with the default memory settings. ``bench/worker_memory.py`` runs the same mix for ten
minutes and reports the figures.
"""

from __future__ import annotations

from tests.conftest import running_server
from tests.support.memory import MIB
from tests.support.mixed_load import MixedLoad, WorkerMemory, lonlat_bounds, server_pid, write_config

SECONDS, CONCURRENCY, MAX_REQUESTS = 40, 16, 3000
WORKER_LIMIT = 300 * MIB


def test_workers_stay_under_300_mb_under_a_mixed_load(shared_data, tmp_path):
    config = write_config(shared_data, tmp_path / "state", tmp_path / "c.yaml")
    with running_server(config, workers=2) as url:
        memory = WorkerMemory(server_pid(url))
        memory.sample()
        assert len(memory.largest) == 2
        started = sorted(round(v / MIB) for v in memory.largest.values())
        tally = MixedLoad(url, lonlat_bounds(shared_data)).run(SECONDS, CONCURRENCY, MAX_REQUESTS, memory.sample)
        memory.sample()
    assert tally.count > 100 and not any(status >= 500 for status in tally.statuses), tally.statuses
    assert tally.statuses.get(200, 0) > 0.8 * tally.count, tally.statuses
    worst = max(memory.largest.values())
    print(f"\n{tally.count} requests {tally.statuses}; workers at start {started} MiB, peaks (MiB): "
          f"{sorted(round(v / MIB) for v in memory.largest.values())}")
    assert worst < WORKER_LIMIT, worst / MIB
