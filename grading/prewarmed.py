"""The grader's own code on a submission's data, in a child forked from a process that has
imported MLflow already: the batch's zygote where it runs (grading.zygote, in the isolated
mode), else multiprocessing's forkserver.

Grading a submission's store is trusted code reading untrusted data, so it runs in a child
with the limits of a trusted sandbox (a memory and a pids cgroup, a deadline, a file-size
limit), as ``Sandbox(trusted=True)`` would run it. Forking it from a warm process instead of
starting a new interpreter saves the ~1.5 s of imports per submission. Either warm process is
started by the grader with a clean interpreter, before any submission exists; nothing a
submission wrote ever runs in it, and a learner's model is never loaded in a grading child
(grading.predict does that, in a sandbox).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time

from grading import sandbox, zygote

PRELOAD = ["grading.autograde.grade_store"]  # its warm_up imports the engine, MLflow's client and its SQL store
_context = None
_lock = threading.Lock()


def _forkserver():
    global _context
    with _lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


def start() -> None:
    """Start the forkserver now (its imports then overlap the first notebook's execution); for
    a grader without a zygote."""
    from multiprocessing import forkserver

    _forkserver()
    forkserver.ensure_running()


def run(function: str, argv: list[str], limits: sandbox.Limits, cap: int = 64 * 1024 * 1024) -> sandbox.Outcome:
    """`module:function`(argv) -> the text it prints, in a forked child; the Outcome says how it ended."""
    warm = zygote.address()
    if warm is not None:
        return zygote.call(warm, function, argv, limits, PRELOAD)
    context = _forkserver()
    cgroup = sandbox.Cgroup(f"warm-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}",
                             limits.memory_mb, limits.pids) if sandbox.mode() == "isolated" else None
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(function, argv, dict(os.environ), sys.path, cgroup, limits, writer), daemon=True)
    started = time.perf_counter()
    child.start()
    writer.close()
    text, timed_out = "", False
    try:
        if reader.poll(limits.timeout):
            with contextlib.suppress(EOFError, OSError):
                text = reader.recv_bytes(maxlength=cap).decode(errors="replace")
        else:
            timed_out = True
    finally:
        reader.close()
        if not timed_out:  # it has said all it will; let it exit on its own, for an honest exit code
            child.join(timeout=5)
        if child.is_alive():
            child.kill()
        if cgroup is not None:
            cgroup.kill_all()
        child.join()
    hit = cgroup.limits_hit() if cgroup is not None else []
    if cgroup is not None:
        cgroup.remove()
    return sandbox.Outcome(None if timed_out else child.exitcode, text, "", timed_out,
                           time.perf_counter() - started, hit)


def _child(function: str, argv: list[str], environment: dict, path: list[str], cgroup, limits: sandbox.Limits,
           writer) -> None:
    sandbox.bound(cgroup, limits)  # first, so that everything it allocates is counted
    writer.send_bytes(zygote.invoke(function, argv, environment, path).encode())
    writer.close()
