"""A Dask cluster reached over TCP, as a multi-machine deployment has: ``dask scheduler`` and
``dask worker`` (two processes) started on reserved local ports, every metatile render of the
workers counted in a file (``count_renders`` preload), and stopped after the block."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from distributed import Client

from tests.conftest import REPO, reserved_port, stop_process


@contextmanager
def dask_cluster(folder: Path, render_log: Path) -> Iterator[str]:
    """Yields the scheduler's address once both worker processes have joined."""
    env = {**os.environ, "OGCSERVER_RENDER_LOG": str(render_log)}
    procs = []
    try:
        with reserved_port() as port:
            address = f"tcp://127.0.0.1:{port}"
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(folder / "scheduler.log", "w")))
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nworkers", "2",
                 "--nthreads", "1", "--no-dashboard", "--preload", "tests.support.count_renders",
                 "--local-directory", str(folder / "dask")],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(folder / "workers.log", "w")))
            with Client(address, timeout="60s") as client:
                client.wait_for_workers(2, timeout=120)
            yield address
    finally:
        for proc in reversed(procs):
            stop_process(proc, 30)
