"""Whether a process is running, by its id (pid files, shared counters, background jobs)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while the process exists; one owned by another user counts as running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
