"""The configuration file a server was started from: read, validated, replaced atomically.

A replacement is written to a temporary file beside it and renamed over it, so a reader (the
main process reloading, a crash half-way) sees the old file or the new one, never a mix; the old
one is kept as ``NAME.bak`` (itself replaced by rename). Changes from several worker processes
are serialised by a lock file, so no edit is lost between reading and writing.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ogcserver.settings import FILE_BOUNDS, Settings, parse_config_text, settings_from_document


class ConfigFile:
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.backup = self.path.with_name(self.path.name + ".bak")
        self._lock = self.path.with_name(f".{self.path.name}.lock")

    def document(self) -> Any:
        """The file's plain values."""
        return parse_config_text(self.path.read_text(encoding="utf-8"), str(self.path), FILE_BOUNDS)

    def validate(self, document: Any) -> Settings:
        """The settings the document gives, or ConfigError worded as ``validate-config`` words it."""
        return settings_from_document(document, str(self.path), self.path.parent)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file for one read-edit-write, across processes."""
        with open(self._lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def replace(self, document: Any) -> None:
        """Write the document as the file, the previous one kept as the backup."""
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        self._write_atomically(self.backup, self.path.read_bytes())
        self._write_atomically(self.path, text.encode("utf-8"))

    def _write_atomically(self, target: Path, data: bytes) -> None:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            if target.exists():
                os.chmod(temporary, target.stat().st_mode & 0o7777)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
