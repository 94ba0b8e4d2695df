"""Grading a store in a child forked from a warm process keeps the limits of a trusted sandbox."""
from __future__ import annotations

from grading import prewarmed, sandbox


def test_the_child_prints_its_result_and_a_second_one_starts_warm():
    first = prewarmed.run("prewarmed_work:say", ["hello", "grader"], sandbox.Limits(timeout=120))
    assert first.stdout.strip() == "hello grader" and not first.timed_out
    again = prewarmed.run("prewarmed_work:say", ["again"], sandbox.Limits(timeout=120))
    assert again.stdout.strip() == "again" and again.seconds < 1.5  # a fork, not a new interpreter


def test_a_child_that_takes_too_much_memory_is_stopped_and_says_nothing():
    done = prewarmed.run("prewarmed_work:allocate", ["1024"], sandbox.Limits(timeout=120, memory_mb=256))
    assert "allocated" not in done.stdout
    if sandbox.mode() == "isolated":  # a cgroup: the kernel's OOM killer, and the report names it
        assert "memory" in done.limits_hit


def test_a_child_past_its_deadline_is_killed():
    done = prewarmed.run("prewarmed_work:sleep", ["60"], sandbox.Limits(timeout=2))
    assert done.timed_out and "woke" not in done.stdout and done.seconds < 10
