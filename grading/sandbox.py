"""Run untrusted work (a learner's notebook, or loading a learner's model) outside the grader.

Two modes, chosen by what the machine offers:

- **bubblewrap** (``bwrap`` on PATH): the command runs in new PID, network, IPC and user
  namespaces as ``nobody``, with the file system read-only except its own workspace. The
  grader's output folder, the other submissions' workspaces and the solutions are hidden
  behind empty tmpfs mounts. When the command's first process ends, or the call times out,
  every process in the PID namespace dies with it, ``setsid`` or not. Only a loopback
  network exists.
- **process** (no bwrap, e.g. a laptop without it): the command runs in a session of its own;
  the whole session, and every descendant seen while it ran, is killed at the end. Files and
  network are not isolated in this mode.

Both apply an address-space limit (memory) and a wall-clock timeout.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from course import paths


SCRATCH = "/var/tmp"


HIDE_ENV = "COURSE_SANDBOX_HIDE"  # extra folders to hide, set by the autograder for a whole batch


def _hidden_by_caller() -> list[str]:
    return [p for p in os.environ.get(HIDE_ENV, "").split(os.pathsep) if p]


def mode() -> str:
    return "bubblewrap" if shutil.which("bwrap") and os.environ.get("COURSE_SANDBOX") != "process" else "process"


@dataclass
class Outcome:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    seconds: float = 0.0


@dataclass
class Sandbox:
    workspace: Path | None = None  # the only writable folder (bubblewrap mode)
    hide: list[Path] = field(default_factory=list)  # folders replaced by empty tmpfs mounts
    readable: list[Path] = field(default_factory=list)  # folders inside hidden ones to show read-only
    memory_mb: int = 4096
    timeout: float = 600
    network: bool = False  # False: loopback only

    def command(self, argv: list[str]) -> list[str]:
        if mode() != "bubblewrap":
            return argv
        # /var/tmp becomes the sandbox's scratch space; /tmp stays visible read-only, since stores live there too.
        cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", SCRATCH]
        for folder in [*self.hide, *_hidden_by_caller(), paths.SOLUTIONS]:
            if Path(folder).exists():
                cmd += ["--tmpfs", str(folder)]
        for folder in self.readable:
            if Path(folder).exists():
                cmd += ["--ro-bind", str(folder), str(folder)]
        if self.workspace is not None:
            cmd += ["--bind", str(self.workspace), str(self.workspace), "--chdir", str(self.workspace)]
        cmd += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-user", "--uid", "65534", "--gid", "65534",
                "--die-with-parent", "--new-session"]
        if not self.network:
            cmd += ["--unshare-net"]
        return cmd + ["--", *argv]

    def run(self, argv: list[str], env: dict | None = None) -> Outcome:
        limit = self.memory_mb * 1024 * 1024

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        # Inside bubblewrap the home folder is read-only; caches go to the sandbox's own /tmp.
        scratch = {"HOME": SCRATCH, "MPLCONFIGDIR": SCRATCH, "TMPDIR": SCRATCH} if mode() == "bubblewrap" else {}
        started = time.perf_counter()
        process = subprocess.Popen(
            self.command(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **scratch, **(env or {})}, cwd=self.workspace, start_new_session=True,
            preexec_fn=limits,
        )
        seen = _Descendants(process.pid)
        timed_out = False
        try:
            out, err = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_all(process, seen)
            out, err = process.communicate()
        finally:
            _kill_all(process, seen)
            seen.stop()
        return Outcome(None if timed_out else process.returncode, out, err, timed_out, time.perf_counter() - started)

    def run_module(self, module: str, args: list[str], env: dict | None = None) -> Outcome:
        # -P: the working folder (a workspace the learner writes to) is not put on sys.path.
        return self.run([sys.executable, "-P", "-m", module, *args], env)


class _Descendants:
    """Remembers every process below `pid`, so one that left the session is still found."""

    def __init__(self, pid: int):
        self.pids: set[int] = set()
        self._root = pid
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            try:
                self.pids.update(p.pid for p in psutil.Process(self._root).children(recursive=True))
            except psutil.Error:
                return
            self._done.wait(0.2)

    def stop(self) -> None:
        self._done.set()


def _kill_all(process: subprocess.Popen, seen: _Descendants) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in list(seen.pids):
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass


def run_module(module: str, args: list[str], timeout: float = 300, memory_mb: int = 4096,
               env: dict | None = None, network: bool = True, readable: list[Path] | None = None) -> Outcome:
    """``python -m module args`` in a sandbox with no workspace (read-only file system)."""
    box = Sandbox(timeout=timeout, memory_mb=memory_mb, network=network, readable=list(readable or []))
    return box.run_module(module, args, env)
