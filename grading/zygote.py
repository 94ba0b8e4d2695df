"""Load learners' models, and run the grader's own code, in children of one warm process:
``python -I -m grading.zygote SOCKET [MODULE ...]``.

The autograder starts it in the isolated mode, before any submission exists, with the
sandbox's clean environment (plus the course's two settings that its imports read, COURSE_HOME
and COURSE_SANDBOX_UID_BASE: paths and numbers, never secrets). It imports what loading a
model needs (grading.predict.warm_up) and the MODULEs, what grading a store needs
(grading.prewarmed.PRELOAD), once, then serves SOCKET, a Unix socket in a folder only root can
enter. One warm process instead of two: on two cores, each MLflow import a batch makes is
time its notebooks wait for. Per connection it forks a handler, which reads one request line.

A call, ``{"call": "module:function", "argv": [...], "env": {...}, "path": [...],
"preload": [...], "limits": {...}}``, forks a grading child: root, trusted code on a
submission's data, bounded as grading.prewarmed bounds it (a memory and a pids cgroup, the
deadline, a file-size limit), with the caller's environment and import path. It writes what
the function printed to the connection. The zygote itself never reads a request, so nothing
of the grader's environment is in the memory later loaders are forked from.

A model load, ``{"requests": [[dataset, part, folder], ...], "uid": N, "limits": {...},
"readable": [...]}``, forks the loader: the first process of a new PID namespace, in a memory and pids cgroup
of its own, which builds the sandbox around itself (grading.confine) before it reads any
learner's file, then does what ``python -m grading.predict`` does and writes the report lines
to the connection. For both, the handler waits up to the deadline, kills whatever is left, and writes
the last line: ``{"exit": code, "timed_out": bool, "limits_hit": [...]}``.

A model so runs behind the same walls as in a new bubblewrap sandbox, but starts in
hundredths of a second instead of spending ~2.5 s importing MLflow and scikit-learn.
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import io
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
SETTINGS = ("COURSE_HOME", "COURSE_SANDBOX_UID_BASE")  # read when course.paths and grading.sandbox are imported

_process: subprocess.Popen | None = None
_folder: str | None = None


# The autograder's side ----------------------------------------------------------------------

def start(preload: list[str] = ()) -> str | None:
    """Start the zygote for this batch; its socket's path, or None where it cannot run (it
    needs the isolated mode: root, cgroups, namespaces). It also imports the modules in
    `preload`, which call()'s children need."""
    global _process, _folder
    if sandbox.mode() != "isolated" or sys.platform != "linux":
        return None
    if _process is not None and _process.poll() is None:
        return address()
    _folder = tempfile.mkdtemp(prefix="course-zygote-")  # 0700: only root connects
    path = f"{_folder}/zygote.sock"
    settings = {k: os.environ[k] for k in SETTINGS if k in os.environ}
    _process = subprocess.Popen([sys.executable, "-I", "-m", "grading.zygote", path, *preload],
                                env=sandbox.Sandbox().environment({**ENV, **settings}), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_die_with_parent)
    # It listens before it imports: connections wait in its queue, and the batch goes on meanwhile.
    if _process.stdout.readline().strip() != b"listening":
        stop()
        return None
    return path


def address() -> str | None:
    """The running zygote's socket, or None."""
    if _process is None or _process.poll() is not None:
        return None
    return f"{_folder}/zygote.sock"


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
    received, problem = _exchange(path, {"requests": requests, "uid": uid, "readable": [str(p) for p in readable],
                                         "limits": _limits(limits)}, limits)
    if problem:
        return sandbox.Outcome(None, "", f"the model loader is not reachable: {problem}", False,
                               time.perf_counter() - started)
    text = received.decode(errors="replace")
    last = [r for r in sandbox.json_records(text) if "exit" in r]
    if not last:
        return sandbox.Outcome(None, text, "the model loader gave no result", True, time.perf_counter() - started)
    end = last[-1]
    hit = [h for h in end.get("limits_hit") or [] if h in ("memory", "processes")]
    fatal = " ".join(str(r["fatal"]) for r in sandbox.json_records(text) if "fatal" in r)
    return sandbox.Outcome(end.get("exit"), text, fatal, bool(end.get("timed_out")), time.perf_counter() - started, hit)


def call(path: str, function: str, argv: list[str], limits: sandbox.Limits, preload: list[str]) -> sandbox.Outcome:
    """`module:function`(argv) in a grading child of the zygote, with this process's environment
    and import path (the modules in `preload` imported first): what it printed, and how it ended."""
    started = time.perf_counter()
    received, problem = _exchange(path, {"call": function, "argv": argv, "env": dict(os.environ), "path": sys.path,
                                         "preload": preload, "limits": _limits(limits)}, limits)
    if problem:
        return sandbox.Outcome(None, "", f"the grading process is not reachable: {problem}", False,
                               time.perf_counter() - started)
    body, _, last = received.decode(errors="replace").rstrip("\n").rpartition("\n")
    try:
        end = json.loads(last)
        code, timed_out, hit = end["exit"], bool(end["timed_out"]), list(end["limits_hit"])
    except (ValueError, KeyError, TypeError):  # cut off before the handler's last line: not a timeout
        return sandbox.Outcome(None, "", "the grading process gave no result", False, time.perf_counter() - started)
    fatal = " ".join(str(r["fatal"]) for r in sandbox.json_records(body) if "fatal" in r)
    return sandbox.Outcome(code, body, fatal, timed_out, time.perf_counter() - started, hit)


def _limits(limits: sandbox.Limits) -> dict:
    return {k: getattr(limits, k) for k in ("timeout", "memory_mb", "pids", "disk_mb", "scratch_mb")}


def _exchange(path: str, request: dict, limits: sandbox.Limits) -> tuple[bytes, str | None]:
    """Send one request line; everything the zygote writes back until it closes (capped)."""
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
            return bytes(received), str(exc) or type(exc).__name__
    return bytes(received[:REPORT_CAP]), None


# The zygote's side --------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    path, *preload = argv
    from grading.inside_sandbox import harden

    harden()  # no other process of root's may trace it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("listening", flush=True)
    from grading import predict
    from course import labdata  # noqa: F401

    # No garbage collection while importing: each one would walk every object imported so far
    # (a fifth of the warm-up's CPU). Frozen after, they stay out of every later collection, the
    # children's included; the few cycles the imports left (2 MB) are never freed.
    gc.disable()
    predict.warm_up()  # first: see there why
    for name in preload:  # grading.autograde.grade_store warms up as it is imported
        with contextlib.suppress(ImportError):  # not on its path: each call imports it, on the caller's
            importlib.import_module(name)
    gc.freeze()
    gc.enable()
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
    limits = sandbox.Limits(**request["limits"])
    cgroup = sandbox.Cgroup(f"zygote-{os.getpid()}-{time.monotonic_ns()}", limits.memory_mb, limits.pids)
    calling = "call" in request
    if not calling:
        confine.new_pid_namespace()
    started = time.monotonic()
    child = os.fork()
    if child == 0 and calling:
        _call(connection, request, limits, cgroup)
    elif child == 0:
        _load(connection, base, request["requests"], int(request["uid"]), [Path(p) for p in request["readable"]],
              limits, cgroup)
    code, timed_out = None, False
    while True:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() - started > limits.timeout:
            timed_out = True
            os.kill(child, signal.SIGKILL)  # a loader's namespace dies with it
            os.waitpid(child, 0)
            break
        time.sleep(0.02)
    cgroup.kill_all()
    hit = cgroup.limits_hit()
    cgroup.remove()
    # After a newline: a report line the child left half-written cannot swallow this one.
    connection.sendall(b"\n" + json.dumps({"exit": code, "timed_out": timed_out, "limits_hit": hit}).encode() + b"\n")


def _call(connection: socket.socket, request: dict, limits: sandbox.Limits, cgroup) -> None:
    """A grading child: bounds first, so that everything it allocates is counted."""
    code = 1
    try:
        sandbox.bound(cgroup, limits)
        connection.sendall(invoke(request["call"], request["argv"], request["env"], request["path"],
                                  request["preload"]).encode())
        code = 0
    except BaseException as exc:  # its stderr is /dev/null: the caller hears of it here
        with contextlib.suppress(OSError):
            connection.sendall(b"\n" + json.dumps({"fatal": f"{type(exc).__name__}: {exc}"[:300]}).encode())
    finally:
        os._exit(code)


def invoke(function: str, argv: list[str], environment: dict, path: list[str] = (), preload: list[str] = ()) -> str:
    """The body of a grading child, whichever warm process forked it: `module:function`(argv) with
    the caller's environment and import path (the `preload` modules first); what it printed."""
    os.environ.clear()
    os.environ.update(environment)
    os.environ["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    sys.path[:0] = [p for p in path if p not in sys.path]
    for name in preload:
        importlib.import_module(name)
    module, _, name = function.partition(":")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        getattr(importlib.import_module(module), name)(argv)
    return printed.getvalue()


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
