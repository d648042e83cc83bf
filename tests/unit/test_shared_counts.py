"""Requests in progress per client are counted across forked worker processes, and a worker
that dies mid-request does not hold its client's share for ever."""

from __future__ import annotations

import os

from ogcserver.web.shared_counts import GRACE, SharedCounts
from tests.support.clock import ManualClock


def another_client_calls(counts: SharedCounts) -> None:
    """A request of someone else, just finished: the share is in force for GRACE seconds."""
    assert counts.try_enter("a:198.51.100.7", 1)
    counts.leave("a:198.51.100.7")


def in_child(body) -> int:
    """Run ``body`` in a forked process (as a server's worker is) and return its exit status."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(body())
        except BaseException:
            os._exit(99)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_request_in_one_worker_counts_in_another():
    counts = SharedCounts()
    # one pipe each way: with a single pipe the child could read back its own byte
    to_parent_read, to_parent_write = os.pipe()
    to_child_read, to_child_write = os.pipe()

    def holder() -> int:
        entered = counts.try_enter("a:192.0.2.1", 1)
        os.write(to_parent_write, b"1" if entered else b"0")
        os.read(to_child_read, 1)  # hold the request until the parent has looked
        counts.leave("a:192.0.2.1")
        return 0

    pid = os.fork()
    if pid == 0:
        os._exit(holder())
    assert os.read(to_parent_read, 1) == b"1"
    assert counts.in_progress("a:192.0.2.1") == 1
    another_client_calls(counts)
    assert not counts.try_enter("a:192.0.2.1", 1)  # this process sees the other's request
    assert counts.try_enter("a:192.0.2.2", 1)  # another client is not affected
    counts.leave("a:192.0.2.2")
    os.write(to_child_write, b"x")
    os.waitpid(pid, 0)
    assert counts.in_progress("a:192.0.2.1") == 0
    assert counts.try_enter("a:192.0.2.1", 1)


def test_a_dead_workers_requests_are_released():
    counts = SharedCounts()
    assert in_child(lambda: 0 if counts.try_enter("p:robot", 2) and counts.try_enter("p:robot", 2) else 1) == 0
    assert counts.in_progress("p:robot") == 2  # the child died without leaving
    assert counts.try_enter("p:robot", 2)  # at the limit, the dead row is found and cleared
    assert counts.in_progress("p:robot") == 1


def test_limits_count_each_client_separately_within_a_process():
    counts = SharedCounts()
    another_client_calls(counts)
    assert [counts.try_enter("a:x", 3) for _ in range(4)] == [True, True, True, False]
    counts.leave("a:x")
    assert counts.try_enter("a:x", 3)
    counts.leave("a:never-entered")  # never below zero
    assert counts.in_progress("a:never-entered") == 0


def test_a_lone_client_may_use_every_slot_until_someone_else_calls():
    """Work-conserving: a browser's six connections on an idle server are all admitted."""
    clock = ManualClock(1000.0)
    counts = SharedCounts(clock)
    assert all(counts.try_enter("a:192.0.2.1", 2) for _ in range(6))
    another_client_calls(counts)
    assert not counts.try_enter("a:192.0.2.1", 2)  # someone else called: back to the share
    clock.now += GRACE - 0.1
    assert not counts.try_enter("a:192.0.2.1", 2)
    clock.now += 0.2  # the other client has gone quiet
    assert counts.try_enter("a:192.0.2.1", 2)
    assert counts.try_enter("a:198.51.100.8", 2)
    assert not counts.try_enter("a:192.0.2.1", 2)  # another client's request in progress
