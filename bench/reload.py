"""Reloads under load: a live server (2 workers) driven by wrk at concurrency 16 is sent SIGHUP
several times; prints wrk's summary (any failed request shows as "Socket errors" or "Non-2xx"),
and for each reload the time until every worker was replaced. Run from the repository root:

    .venv/bin/python bench/reload.py [--http granian|gunicorn] [--reloads 3] [--every 12]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import serving  # noqa: E402
from tests.support import rasters  # noqa: E402
from tests.support.admin import write_admin_config  # noqa: E402


def workers(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", default="granian", choices=["granian", "gunicorn"])
    parser.add_argument("--reloads", type=int, default=3)
    parser.add_argument("--every", type=float, default=12.0, help="seconds between reloads")
    parser.add_argument("--path", default="/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        data = root / "data"
        rasters.parent_and_tiles(data)
        (data / "dem.tif").symlink_to(data / "parent" / "parent.tif")
        config = write_admin_config(data, root, http=args.http, access_log=False)
        with serving(["-c", str(config)], root, workers=2) as (url, log):
            port = url.rsplit(":", 1)[1]
            pid = int((root / "state" / f"ogcserver-{port}.pid").read_text())
            seconds = int(args.reloads * args.every + 6)
            load = subprocess.Popen(["wrk", "-c16", "-t2", f"-d{seconds}s", "--timeout", "30s", url + args.path],
                                    stdout=subprocess.PIPE, text=True)
            time.sleep(3)
            for n in range(args.reloads):
                before, started = workers(pid), time.monotonic()
                os.kill(pid, signal.SIGHUP)
                while workers(pid) & before or len(workers(pid)) != 2:
                    time.sleep(0.05)
                took = time.monotonic() - started
                print(f"reload {n + 1}: every worker replaced after {took:.1f} s", flush=True)
                time.sleep(max(0.0, args.every - took))
            print(load.communicate()[0])
            builds = [line for line in log.read_text().splitlines() if "build_seconds" in line]
            print("app rebuilt in the main process:", ", ".join(line.split('"build_seconds": ')[1].rstrip("}") + " s"
                                                              for line in builds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
