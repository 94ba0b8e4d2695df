"""What a sandboxed entry point (running a notebook, or loading models) does to itself first and
after each piece of learner code: no other process may trace it, and what the code started is
its own to stop."""
from __future__ import annotations

import ctypes
import os
import signal

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to harden
        pass


def harden() -> None:
    """Not dumpable: learner code in a child cannot read this process's memory or descriptors.
    A subreaper: what that code starts, even detached, stays a descendant to stop."""
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def stop_everything_else(pid_namespace: bool) -> None:
    """Kill every process but this one: in a PID namespace, all of them (setsid or not);
    otherwise every descendant (orphans are ours too, as this process is their subreaper)."""
    if pid_namespace:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.Error:
            pass


def reap() -> None:
    """Collect every child that has ended, orphans included (this process is their subreaper,
    or the PID namespace's first process): left as zombies they would count as processes."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
