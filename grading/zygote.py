"""Load learners' models in children of one warm process: ``python -I -m grading.zygote SOCKET``.

The autograder starts it in the isolated mode, before any submission exists, with the
sandbox's clean environment. It imports what loading a model needs (grading.predict.warm_up)
once, then serves SOCKET, a Unix socket in a folder only root can enter. Per connection it
forks a handler, which reads one request line
``{"requests": [[dataset, part, folder], ...], "uid": N, "limits": {...}, "readable": [...]}``
and forks the loader: the first process of a new PID namespace, in a memory and pids cgroup
of its own, which builds the sandbox around itself (grading.confine) before it reads any
learner's file, then does what ``python -m grading.predict`` does and writes the report lines
to the connection. The handler waits up to the deadline, kills whatever is left, and writes
the last line: ``{"exit": code, "timed_out": bool, "limits_hit": [...]}``.

A model so runs behind the same walls as in a new bubblewrap sandbox, but starts in
hundredths of a second instead of spending ~2.5 s importing MLflow and scikit-learn.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading import sandbox

REQUEST_CAP = 4 * 1024 * 1024  # bytes of one request line
REPORT_CAP = 64 * 1024 * 1024  # bytes of one connection's report
ENV = {"MLFLOW_LOGGING_LEVEL": "WARNING", "MLFLOW_DISABLE_TELEMETRY": "true"}

_process: subprocess.Popen | None = None
_folder: str | None = None


# The autograder's side ----------------------------------------------------------------------

def start() -> str | None:
    """Start the zygote for this batch; its socket's path, or None where it cannot run (it
    needs the isolated mode: root, cgroups, namespaces)."""
    global _process, _folder
    if sandbox.mode() != "isolated" or sys.platform != "linux":
        return None
    if _process is not None and _process.poll() is None:
        return f"{_folder}/zygote.sock"
    _folder = tempfile.mkdtemp(prefix="course-zygote-")  # 0700: only root connects
    path = f"{_folder}/zygote.sock"
    _process = subprocess.Popen([sys.executable, "-I", "-m", "grading.zygote", path],
                                env=sandbox.Sandbox().environment(ENV), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_die_with_parent)
    # It listens before it imports: connections wait in its queue, and the batch goes on meanwhile.
    if _process.stdout.readline().strip() != b"listening":
        stop()
        return None
    return path


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def stop() -> None:
    global _process, _folder
    if _process is not None:
        _process.terminate()
        try:
            _process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _process.kill()
            _process.wait()
        _process = None
    if _folder is not None:
        import shutil

        shutil.rmtree(_folder, ignore_errors=True)
        _folder = None


def run(path: str, requests: list, uid: int, limits: sandbox.Limits, readable: list[Path]) -> sandbox.Outcome:
    """What `python -m grading.predict` would print for these requests, from the zygote."""
    started = time.perf_counter()
    request = {"requests": requests, "uid": uid, "readable": [str(p) for p in readable],
               "limits": {k: getattr(limits, k) for k in ("timeout", "memory_mb", "pids", "disk_mb", "scratch_mb")}}
    received = bytearray()
    deadline = time.monotonic() + limits.timeout + 15  # the handler enforces the timeout itself
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        try:
            connection.settimeout(10)
            connection.connect(path)
            connection.sendall(json.dumps(request).encode() + b"\n")
            while (left := deadline - time.monotonic()) > 0 and len(received) < REPORT_CAP:
                connection.settimeout(left)
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        except OSError as exc:
            return sandbox.Outcome(None, "", f"the model loader is not reachable: {exc}", False,
                                   time.perf_counter() - started)
    text = bytes(received[:REPORT_CAP]).decode(errors="replace")
    last = [r for r in sandbox.json_records(text) if "exit" in r]
    if not last:
        return sandbox.Outcome(None, text, "the model loader gave no result", True, time.perf_counter() - started)
    end = last[-1]
    hit = [h for h in end.get("limits_hit") or [] if h in ("memory", "processes")]
    fatal = " ".join(str(r["fatal"]) for r in sandbox.json_records(text) if "fatal" in r)
    return sandbox.Outcome(end.get("exit"), text, fatal, bool(end.get("timed_out")), time.perf_counter() - started, hit)


# The zygote's side --------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    (path,) = argv
    from grading.inside_sandbox import harden

    harden()  # no other process of root's may trace it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("listening", flush=True)
    from grading import predict
    from course import labdata  # noqa: F401

    predict.warm_up()
    sandbox.runtime()  # the course code the loaders see, copied once
    base = tempfile.mkdtemp(prefix="course-zygote-root-")  # each loader mounts its root here, privately
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # exits through atexit: the copies go
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # nothing a loader prints reaches the autograder's pipes
        os.dup2(devnull, fd)
    try:
        while True:
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                try:
                    _handle(connection, base)
                finally:
                    os._exit(0)
            connection.close()
    finally:
        os.rmdir(base)


def _handle(connection: socket.socket, base: str) -> None:
    from grading import confine

    request = json.loads(_read_line(connection))
    uid, readable = int(request["uid"]), [Path(p) for p in request["readable"]]
    limits = sandbox.Limits(**request["limits"])
    cgroup = sandbox._Cgroup(f"zygote-{os.getpid()}-{time.monotonic_ns()}", limits.memory_mb, limits.pids)
    confine.new_pid_namespace()
    started = time.monotonic()
    loader = os.fork()
    if loader == 0:
        _load(connection, base, request["requests"], uid, readable, limits, cgroup)
    code, timed_out = None, False
    while True:
        done, status = os.waitpid(loader, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() - started > limits.timeout:
            timed_out = True
            os.kill(loader, signal.SIGKILL)  # its namespace dies with it
            os.waitpid(loader, 0)
            break
        time.sleep(0.02)
    cgroup.kill_all()
    hit = cgroup.limits_hit()
    cgroup.remove()
    # After a newline: a report line the loader left half-written cannot swallow this one.
    connection.sendall(b"\n" + json.dumps({"exit": code, "timed_out": timed_out, "limits_hit": hit}).encode() + b"\n")


def _load(connection: socket.socket, base: str, requests: list, uid: int, readable: list[Path],
          limits: sandbox.Limits, cgroup) -> None:
    """The loader: pid 1 of its namespace. Bounds first, then the walls, then learners' files."""
    from grading import confine, predict

    try:
        os.dup2(connection.fileno(), 3)
        os.closerange(4, os.sysconf("SC_OPEN_MAX"))  # the zygote's and other handlers' files stay out
        report = os.fdopen(3, "w", buffering=1)
        sandbox.bound(cgroup, limits, own_uid=True)
        confine.enter(base, uid, readable, limits.scratch_mb)
        os.environ.clear()
        os.environ.update(sandbox.Sandbox().environment(ENV))
        predict.serve(requests, report, pid_namespace=True)
    except BaseException as exc:  # the sandbox could not be built: say so, never go on without it
        try:
            os.write(3, b"\n" + json.dumps({"fatal": f"{type(exc).__name__}: {exc}"[:300]}).encode() + b"\n")
        except OSError:
            pass
    finally:
        os._exit(0)


def _read_line(connection: socket.socket) -> bytes:
    data = bytearray()
    connection.settimeout(30)
    while not data.endswith(b"\n") and len(data) < REQUEST_CAP:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    connection.settimeout(None)
    return bytes(data)


if __name__ == "__main__":
    from course.quick_exit import run

    run(lambda: main(sys.argv[1:]))  # without the interpreter's teardown
