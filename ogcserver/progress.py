"""Progress of the batch commands (seed, catalog add, overviews) on standard error.

On a terminal: tqdm's bar with count, rate and ETA. Elsewhere (a log file, a CI job, cron) a
redrawn bar is noise, so tqdm stays off and a plain line is written every ``every`` seconds
instead; either way a final line gives the totals.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

PLAIN_EVERY = 10.0  # seconds between plain lines when standard error is not a terminal


class Progress:
    """Count done units of work out of ``total`` (None: unknown), with extra figures to show."""

    def __init__(self, what: str, total: int | None = None, stream: TextIO | None = None,
                 every: float = PLAIN_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.total = total
        self.stream = stream or sys.stderr
        self.every = every
        self.clock = clock
        self.done = 0
        self.figures: dict[str, int] = {}
        self.started = self._last = clock()
        # disable=None: tqdm draws only on a terminal
        self.bar = tqdm(total=total, unit=f" {what}", file=self.stream, disable=None, dynamic_ncols=True)

    def update(self, done: int, total: int | None = None, **figures: int) -> None:
        """``done`` units so far (not an increment: the callers count), the total once known,
        and figures such as skipped."""
        if total is not None and total != self.total:
            self.total = self.bar.total = total
        self.figures.update(figures)
        if not self.bar.disable:
            self.bar.update(done - self.done)
            if figures:
                self.bar.set_postfix(self.figures, refresh=False)
        self.done = done
        if self.bar.disable and self.clock() - self._last >= self.every:
            self._last = self.clock()
            print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        """Count, share, rate, ETA and figures, as one plain line."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.done}/{self.total} {self.what} ({100 * self.done / max(self.total, 1):.1f}%)"
                 if self.total is not None else f"{self.done} {self.what}", f"{rate:.0f}/s"]
        if self.total is not None and rate > 0:
            parts.append(f"ETA {(self.total - self.done) / rate:.0f} s")
        parts += [f"{value} {name}" for name, value in self.figures.items()]
        return ", ".join(parts)

    def close(self, summary: str | None = None) -> None:
        """End the bar and write a final line: ``summary``, or else the last count (which a
        terminal's bar already shows)."""
        self.bar.close()
        if summary is not None or self.bar.disable:
            print(summary or self.line(), file=self.stream, flush=True)
