"""Run untrusted work (loading a learner's model) outside the grader's process.

The child gets a time limit, an address-space limit and no way to outlive the
call: it starts in a session of its own and the whole session is killed when
the call returns.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys


def _limits(memory_mb: int):
    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run_module(module: str, args: list[str], timeout: float = 300, memory_mb: int = 4096,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m module args...`` isolated; raises subprocess.TimeoutExpired after `timeout`."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})}, start_new_session=True, preexec_fn=_limits(memory_mb),
    )
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything it left behind in its session
        except ProcessLookupError:
            pass
        process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
