"""Resident memory of each worker under a long mixed load (the ten-minute version of
tests/system/test_worker_memory.py): WMS maps of 256 to 2048 px (plain and processed), WCS 2.0
coverages, XYZ tiles and GetFeatureInfo at concurrency 16 over the shared real rasters.

Every 10 s it prints each worker's resident size now and its peak (VmHWM) so far; at the end, the
request count by status and the worst peak. Run from the repository root:

    .venv/bin/python bench/worker_memory.py [--seconds 600] [--concurrency 16] [--workers 2]
        [--memory-mb N] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import running_server  # noqa: E402
from tests.support.memory import MIB, peak_rss, rss  # noqa: E402
from tests.support.mixed_load import MixedLoad, WorkerMemory, children, lonlat_bounds, server_pid, write_config  # noqa: E402


def report(memory: WorkerMemory, started: float) -> None:
    now = []
    for pid in sorted(children(memory.server_pid)):
        try:
            now.append(f"{pid}: {rss(pid) / MIB:.0f}/{peak_rss(pid) / MIB:.0f}")
        except (OSError, KeyError):
            continue
    print(f"{time.monotonic() - started:6.0f} s  workers now/peak MiB  " + "  ".join(now), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-mb", type=int, help="server.memory_mb (default: unset, 256 MiB per worker)")
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared real rasters")
    args = parser.parse_args()
    data = Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        server = {"memory_mb": args.memory_mb} if args.memory_mb else {}
        config = write_config(data, Path(tmp) / "state", Path(tmp) / "c.yaml", **server)
        with running_server(config, workers=args.workers) as url:
            memory = WorkerMemory(server_pid(url))
            started = time.monotonic()
            report(memory, started)
            done = threading.Event()

            def every_ten_seconds() -> None:
                while not done.wait(10):
                    report(memory, started)

            threading.Thread(target=every_ten_seconds, daemon=True).start()
            tally = MixedLoad(url, lonlat_bounds(data)).run(args.seconds, args.concurrency, args.max_requests,
                                                            memory.sample)
            done.set()
            memory.sample()
            report(memory, started)
    worst = max(memory.largest.values())
    print(f"{tally.count} requests {dict(sorted(tally.statuses.items()))}; worst worker peak {worst / MIB:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
