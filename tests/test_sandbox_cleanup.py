"""Nothing a sandboxed command starts outlives it, in either way the sandbox ends its work: the
isolated mode kills the command's cgroup, the process mode the descendants a watcher saw."""
from __future__ import annotations

import pytest

from conftest import processes_running, require
from grading import sandbox

MARK = "4243.5"  # an unusual sleep length identifies what this test starts


@pytest.mark.parametrize("mode", ["isolated", "process"])
@pytest.mark.parametrize("ending", ["exits", "times out"])
def test_a_process_that_left_the_session_does_not_outlive_the_sandbox(mode, ending, monkeypatch):
    if mode == "process":
        monkeypatch.setenv("COURSE_SANDBOX", "process")
    else:
        require(None if sandbox.mode() == "isolated" else "the isolated sandbox needs root, bwrap and setpriv")
    assert sandbox.mode() == mode
    # setsid: a new session and process group, out of reach of a kill of the command's group.
    script = f"setsid sleep {MARK} & sleep 1" if ending == "exits" else f"setsid sleep {MARK} & sleep 30"
    done = sandbox.Sandbox(limits=sandbox.Limits(timeout=10 if ending == "times out" else 60)).run(
        ["/bin/sh", "-c", script])
    left = processes_running(MARK)
    for process in left:  # so that a failure here does not fail the next case too
        process.kill()
    assert done.timed_out == (ending == "times out")
    assert not left
