"""The workers' metrics folder outlives a forked worker that leaves through the frame that made it
(gunicorn's workers end with SystemExit raised through the parent's stack): only the process that
made the folder removes it."""

from __future__ import annotations

import os
from pathlib import Path

from ogcserver.web.metrics import shared_metrics_dir


def test_a_forked_worker_leaving_keeps_the_folder_and_the_owner_removes_it():
    context = shared_metrics_dir()
    folder = context.__enter__()
    pid = os.fork()
    if pid == 0:  # the worker: leaves through the context, as a gunicorn worker does
        try:
            context.__exit__(SystemExit, SystemExit(0), None)
        finally:
            os._exit(0)  # never back into pytest's frames
    os.waitpid(pid, 0)
    assert Path(folder).is_dir()
    context.__exit__(None, None, None)
    assert not Path(folder).exists()
