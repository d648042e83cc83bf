"""Resident memory of processes, from /proc: current and peak (the peak can be reset)."""

from __future__ import annotations

from pathlib import Path

MIB = 1024 * 1024


def _status(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def rss(pid: int | str = "self") -> int:
    """Resident bytes now."""
    return _status(pid, "VmRSS")


def peak_rss(pid: int | str = "self") -> int:
    """The most resident bytes since the process started or its peak was reset."""
    return _status(pid, "VmHWM")


def reset_peak(pid: int | str = "self") -> None:
    """Start measuring the peak afresh (Linux: writing 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
