"""Background seeds started over the admin API, each in its own process, with progress any worker reads.

A job is a process of its own (``python -m ogcserver.admin.jobs STATE CONFIG``), not a thread of
the worker that started it: workers are replaced on reload and a seed outlives them. It walks
the same metatile plan as ``ogcserver seed`` and fills each metatile through the tile cache's
one seeding path (``TileService.seed``: same locks, same resume). Its state is a small JSON file
in ``DATA_DIR/jobs``, replaced atomically, so any worker answers ``GET /admin/jobs/<id>``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ogcserver.web.processes import alive

PROGRESS_SECONDS = 0.5  # how often a running job writes its progress
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def _write_state(path: Path, state: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, path)


class Jobs:
    """Starts seeds and reports on them; ``folder`` is shared by every worker of the server."""

    def __init__(self, folder: Path, config_file: Path, max_running: int) -> None:
        self.folder = folder
        self.config_file = config_file
        self.max_running = max_running

    def running(self) -> int:
        if not self.folder.is_dir():
            return 0
        return sum(1 for p in self.folder.glob("*.json") if (s := self.status(p.stem)) and s["state"] in ("queued", "running"))

    def start(self, spec: dict[str, Any]) -> str | None:
        """The new job's id, or None when ``max_running`` jobs are running already."""
        if self.running() >= self.max_running:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        job = uuid.uuid4().hex
        path = self.folder / f"{job}.json"
        _write_state(path, {"id": job, "kind": "seed", "state": "queued", "spec": spec, "created": time.time()})
        with open(self.folder / f"{job}.log", "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "ogcserver.admin.jobs", str(path), str(self.config_file)],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        (self.folder / f"{job}.pid").write_text(str(process.pid))
        threading.Thread(target=process.wait, daemon=True).start()  # reaped while this worker lives
        return job

    def status(self, job: str) -> dict[str, Any] | None:
        if not JOB_ID.match(job):
            return None
        state = self._read(self.folder / f"{job}.json")
        if state and state.get("state") in ("queued", "running") and not self._alive(job):
            state = {**state, "state": "failed", "error": "the job's process ended without finishing"}
        return state

    def _alive(self, job: str) -> bool:
        try:
            pid = int((self.folder / f"{job}.pid").read_text())
        except (OSError, ValueError):
            return True  # being started: the pid is written right after the process
        return alive(pid)

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None


def run(state_path: Path, config: Path) -> int:
    """The job process: seed as the state file's spec says, writing progress as it goes."""
    from ogcserver.composition import build_core
    from ogcserver.core import seed, tiling
    from ogcserver.model.formats import ImageFormat
    from ogcserver.settings import load_settings

    state = json.loads(state_path.read_text())
    spec = state["spec"]
    state.update(state="running", done=0, written=0, total=None, started=time.time())
    _write_state(state_path, state)
    try:
        settings = load_settings(config)
        tiles = build_core(settings).tiles
        info = tiles.engine.operator_layer(spec["layer"]).info
        tms = tiling.for_layer(info, spec["tms"])
        area = seed.lonlat_area(",".join(map(str, spec["bbox"])) if spec.get("bbox") else None, info.lonlat_bounds)
        zooms = range(spec["zooms"][0], spec["zooms"][1] + 1)
        image = ImageFormat.JPEG if spec["format"] == "jpg" else ImageFormat.PNG
        state["total"] = seed.count(tms, area, zooms, settings.cache.meta_size)[1]
        last = 0.0
        for meta in seed.plan(tms, area, zooms, settings.cache.meta_size):
            state["written"] += tiles.seed(info.name, tms.id, meta, image)
            state["done"] += meta.tiles
            if time.monotonic() - last >= PROGRESS_SECONDS:
                _write_state(state_path, state)
                last = time.monotonic()
        state.update(state="done", finished=time.time())
    except Exception as exc:  # noqa: BLE001 - whatever stopped the job is its outcome, reported in its state
        state.update(state="failed", error=f"{type(exc).__name__}: {exc}"[:500], finished=time.time())
    _write_state(state_path, state)
    return 0 if state["state"] == "done" else 1


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2])))
