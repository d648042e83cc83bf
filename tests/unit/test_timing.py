"""The per-request phase recorder: exclusive phases on an injected clock, nothing outside a request."""

from __future__ import annotations

from ogcserver.model.timing import Timings, phase, recording
from ogcserver.web.server_timing import header_value
from tests.support.clock import ManualClock


def test_a_phase_inside_another_pauses_it():
    clock = ManualClock()
    timings = Timings(clock)
    with recording(timings):
        with phase("read"):
            clock.now += 2.0
            with phase("functions"):  # a per-item function inside a read
                clock.now += 3.0
            clock.now += 1.0
        clock.now += 10.0  # between phases: counted to none
        with phase("encode"):
            clock.now += 0.5
    assert timings.seconds == {"read": 3.0, "functions": 3.0, "encode": 0.5}
    assert timings.counts == {"read": 1, "functions": 1, "encode": 1}
    assert header_value(timings, 16.5) == "read;dur=3000.0, functions;dur=3000.0, encode;dur=500.0, total;dur=16500.0"


def test_outside_a_request_nothing_is_recorded():
    clock = ManualClock()
    timings = Timings(clock)
    with phase("read"):
        clock.now += 1.0
    with recording(timings):
        pass
    with phase("read"):
        clock.now += 1.0
    assert timings.seconds == {}


def test_a_failing_phase_is_still_closed():
    clock = ManualClock()
    timings = Timings(clock)
    with recording(timings):
        try:
            with phase("warp"):
                clock.now += 1.0
                raise OSError("unreadable")
        except OSError:
            pass
        clock.now += 5.0
    assert timings.seconds == {"warp": 1.0}
