"""Cross-process locks for tile stores: ``flock`` on files, released by the kernel if a process dies."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path


def check_writable(folder: Path) -> None:
    """Raise OSError unless a file can be made in ``folder`` now (a store's readiness)."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".ready-"):
        pass


@contextlib.contextmanager
def file_lock(folder: Path, name: str) -> Iterator[None]:
    """An exclusive lock shared by every process on this machine (on local disks)."""
    path = folder / (hashlib.sha1(name.encode()).hexdigest()[:20] + ".lock")
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
