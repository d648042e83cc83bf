"""The Dask cluster a job runs on, and the core each worker process builds once.

``analysis.cluster: local`` starts a ``LocalCluster`` of worker processes for the job's
duration, without Dask's statistical profiler (it samples every thread's stack a hundred times a
second for a dashboard a local cluster does not serve, a tenth of a seeding worker's time), and
with the rest of Dask's housekeeping slowed down (``LOCAL_CLUSTER_CONFIG``). Its workers are
forked either from a server process that imported the task modules once (``worker_server``;
spawned, each imported them itself before its first task, and closed slower), or, for a command
whose own process has imported them and built a core by the time the cluster starts (seeding),
from that process itself, which spares the server's imports. ``tcp://host:port`` connects to a
running scheduler whose workers have ogcserver installed.
Tasks carry the settings as a value; a worker builds its core from them once (``build_core``, no
web framework) and keeps it for every later task of the same settings.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal

import dask.config
from distributed import Client, LocalCluster
from distributed.utils import get_mp_context
from pydantic import ValidationError

from ogcserver.analysing.worker_server import preload_worker_modules
from ogcserver.composition import Core, build_core
from ogcserver.core.config import AnalysisConfig
from ogcserver.model.errors import InvalidValue
from ogcserver.model.jobs import ClusterUnavailable
from ogcserver.settings import Settings
from ogcserver.storage.readers.process_memory import keep_heap_for_batch_work

CONNECT_TIMEOUT = "20s"  # to reach a remote scheduler
# A local cluster's Dask settings. Its scheduler, nannies and workers share the job's cores: the
# housekeeping each runs for a long-lived, watched cluster is slowed down to what a job needs.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    # no HTTP routes (metrics, health, dashboard): nothing polls them, and the metrics route alone
    # imported prometheus_client in the scheduler and each worker at every start
    "distributed.scheduler.http.routes": [],
    "distributed.worker.http.routes": [],
    # the event-loop health tick (50 times a second in every server) and the system monitor feed
    # warnings and a dashboard; each wakeup takes the GIL from the worker's task thread
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    # tasks are few and queued on the scheduler until a worker is free: nothing to steal
    "distributed.scheduler.work-stealing": False,
    # the nannies and workers read each worker's memory twice a second rather than ten times: a
    # worker past its limit is still restarted, within half a second
    "distributed.worker.memory.monitor-interval": "500ms",
}
_cores: dict[str, Core] = {}
_lock = threading.Lock()


def worker_core(settings: Settings) -> Core:
    """This process's core for these settings, built on first use; the process is a batch
    worker from then on (``process_memory.keep_heap_for_batch_work``)."""
    key = hashlib.sha256(settings.model_dump_json().encode()).hexdigest()
    with _lock:
        core = _cores.get(key)
        if core is None:
            _cores.clear()  # other settings: that core is not used again
            core = _cores[key] = build_core(settings)
            keep_heap_for_batch_work()
        return core


@contextmanager
def cluster_client(config: AnalysisConfig, address: str | None = None,
                   start_method: Literal["forkserver", "fork"] = "forkserver") -> Iterator[Client]:
    """A client of the configured cluster (or of ``address``, overriding it); a local cluster
    lives as long as the block, its workers started by ``start_method``: ``fork`` copies this
    process, for a caller that has imported the task modules and whose other threads hold no
    lock a worker needs (the parent's GDAL handles are not used: a worker builds its own core)."""
    try:
        target = AnalysisConfig(cluster=address).cluster if address else config.cluster
    except ValidationError:
        raise InvalidValue("cluster", "give the cluster as local or tcp://host:port") from None
    if target != "local":
        try:
            client = Client(target, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            raise ClusterUnavailable(f"the Dask scheduler at {target} does not answer") from None
        with client:
            yield client
        return
    logging.getLogger("distributed").setLevel(logging.ERROR)  # its shutdown notices are not the job's business
    with dask.config.set({**LOCAL_CLUSTER_CONFIG, "distributed.worker.multiprocessing-method": start_method}):
        if start_method == "forkserver":
            get_mp_context()  # Dask sets its own list of modules to preload on first use: ours replaces it
            preload_worker_modules()
        with _ctrl_c_held(start_method == "fork"):
            cluster = LocalCluster(n_workers=config.workers, threads_per_worker=config.threads_per_worker,
                                   memory_limit=config.memory_limit_mb * 2**20, processes=True,
                                   dashboard_address=None)
        with cluster, Client(cluster) as client:
            try:
                yield client
            finally:
                _quiet_before_close(client)


@contextmanager
def _ctrl_c_held(forking: bool) -> Iterator[None]:
    """Fork the workers with SIGINT blocked, which they keep: a Ctrl-C reaches this process
    alone, which closes the cluster and its workers, instead of each worker dying on it with a
    traceback. One pressed meanwhile is delivered when the block ends."""
    if not forking or threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _silence_distributed() -> None:
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


def _quiet_before_close(client: Client) -> None:
    """Silence the local workers' logs before the cluster closes: a worker whose heartbeat meets
    the closing scheduler logs a traceback that says nothing about the job."""
    with suppress(Exception):  # workers already gone need no silencing
        client.run(_silence_distributed)
