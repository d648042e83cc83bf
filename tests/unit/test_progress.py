"""Batch progress: plain periodic lines and a final line when standard error is not a terminal."""

from __future__ import annotations

import io

from ogcserver.progress import Progress
from tests.support.clock import ManualClock


def test_plain_lines_every_interval_with_rate_and_eta_then_a_summary():
    out, clock = io.StringIO(), ManualClock(100.0)
    progress = Progress("tiles", 1000, stream=out, every=10, clock=clock)
    assert progress.bar.disable  # not a terminal: no bar redrawn in a log
    for step in range(1, 31):  # 30 updates a second apart: a line at 10, 20 and 30 s
        clock.now += 1
        progress.update(step * 10, written=step * 5)
    progress.close("done: 150 tiles written")
    lines = out.getvalue().splitlines()
    assert lines == [
        "100/1000 tiles (10.0%), 10/s, ETA 90 s, 50 written",
        "200/1000 tiles (20.0%), 10/s, ETA 80 s, 100 written",
        "300/1000 tiles (30.0%), 10/s, ETA 70 s, 150 written",
        "done: 150 tiles written",
    ]


def test_an_unknown_total_and_a_final_count():
    out, clock = io.StringIO(), ManualClock(100.0)
    progress = Progress("items", stream=out, every=10, clock=clock)
    clock.now += 4
    progress.update(40, skipped=2)
    progress.update(40, total=None)
    progress.close()
    assert out.getvalue().splitlines() == ["40 items, 10/s, 2 skipped"]


def test_a_total_learned_on_the_way():
    out, clock = io.StringIO(), ManualClock(100.0)
    progress = Progress("blocks", stream=out, every=1, clock=clock)
    clock.now += 2
    progress.update(5, 20)
    assert out.getvalue().splitlines() == ["5/20 blocks (25.0%), 2/s, ETA 6 s"]
