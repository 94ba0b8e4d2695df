"""Grading a store in a child forked from a warm process keeps the limits of a trusted sandbox,
whichever warm process forks it: the batch's zygote (isolated mode) or multiprocessing's forkserver."""
from __future__ import annotations

import pytest

from conftest import require
from grading import prewarmed, sandbox, zygote


@pytest.fixture(scope="module", params=["forkserver", "zygote"])
def warm(request):
    if request.param == "forkserver":
        assert zygote.address() is None
        yield request.param
        return
    require(None if sandbox.mode() == "isolated" else "the zygote needs the isolated sandbox (root, bwrap, setpriv)")
    try:
        assert zygote.start(preload=prewarmed.PRELOAD)
        # It accepts once it has imported everything: the tests below time calls, not that.
        assert prewarmed.run("prewarmed_work:say", ["warm"], sandbox.Limits(timeout=300)).stdout.strip() == "warm"
        yield request.param
    finally:
        zygote.stop()


def test_the_child_prints_its_result_and_a_second_one_starts_warm(warm):
    first = prewarmed.run("prewarmed_work:say", ["hello", "grader"], sandbox.Limits(timeout=120))
    assert first.stdout.strip() == "hello grader" and not first.timed_out and first.returncode == 0
    again = prewarmed.run("prewarmed_work:say", ["again"], sandbox.Limits(timeout=120))
    assert again.stdout.strip() == "again" and again.seconds < 1.5  # a fork, not a new interpreter


def test_the_child_has_the_callers_environment_and_says_why_it_failed(warm, monkeypatch):
    monkeypatch.setenv("COURSE_GRADER_SETTING", "from the batch")
    seen = prewarmed.run("prewarmed_work:environment", ["COURSE_GRADER_SETTING"], sandbox.Limits(timeout=120))
    assert seen.stdout.strip() == "from the batch"
    failed = prewarmed.run("prewarmed_work:fail", [], sandbox.Limits(timeout=120))
    assert failed.returncode not in (0, None) and "grading.json" not in failed.stdout
    if warm == "zygote":  # its stderr is /dev/null: the failure comes back with the outcome
        assert failed.stderr == "ValueError: no such store"


def test_a_child_that_takes_too_much_memory_is_stopped_and_says_nothing(warm):
    done = prewarmed.run("prewarmed_work:allocate", ["1024"], sandbox.Limits(timeout=120, memory_mb=256))
    assert "allocated" not in done.stdout
    if sandbox.mode() == "isolated":  # a cgroup: the kernel's OOM killer, and the report names it
        assert "memory" in done.limits_hit


def test_a_child_past_its_deadline_is_killed(warm):
    done = prewarmed.run("prewarmed_work:sleep", ["60"], sandbox.Limits(timeout=2))
    assert done.timed_out and "woke" not in done.stdout and done.seconds < 10
