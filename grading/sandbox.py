"""Run untrusted work (a learner's notebook, or a learner's model) outside the grader.

Three modes, chosen by what the machine offers (``mode()``):

- **isolated** (``bwrap`` and ``setpriv`` on PATH, grader running as root, as in Gradescope):
  bubblewrap builds a new root from an allow-list (the system's ``/usr`` and ``/etc``, the
  Python install, the virtual environment and the course's runtime code), then ``setpriv``
  drops to an unprivileged host uid of its own, with no capabilities and no_new_privs. The
  work gets new PID, network (loopback only), IPC and UTS namespaces; every process in it
  dies with it. A memory and a pids cgroup bound the whole tree (tmpfs included), and the
  workspace is a size-capped tmpfs (see ``workspace``).
- **bubblewrap** (bwrap without root, e.g. a laptop): the same allow-listed root in a user
  namespace; the sandbox's uid is the caller's own uid, so only what is mounted is in sight.
  No cgroups: memory is bounded per process (RLIMIT_AS); processes are not bounded.
- **process** (no bwrap): a session of its own, killed whole at the end, with rlimits and an
  allow-listed environment. Files and network are not isolated.

Every mode builds the environment from an allow-list: nothing of the grader's reaches the work
unless it is listed in ``PASSED_ENV`` or given explicitly.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import fcntl
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from course import paths

PASSED_ENV = ("LANG", "LC_ALL", "TZ")  # harmless settings the work may inherit; nothing else is
UID_BASE = int(os.environ.get("COURSE_SANDBOX_UID_BASE", "61000"))  # host uids with no account
SCRATCH = "/tmp"  # inside the sandbox: the workspace's .scratch folder, or a capped tmpfs
INSIDE = "/workspace"  # where the sandbox sees its workspace
MASKED_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
OUTPUT_CAP = 1024 * 1024  # bytes of stdout and stderr kept from the work


def json_records(stdout: str):
    """The JSON objects a sandboxed entry point printed, one per line; any other line is skipped."""
    import json

    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def mode() -> str:
    if os.environ.get("COURSE_SANDBOX") == "process" or not shutil.which("bwrap"):
        return "process"
    if os.geteuid() == 0 and shutil.which("setpriv"):
        return "isolated"
    return "bubblewrap"


@dataclass(frozen=True)
class Limits:
    timeout: float = 600  # wall seconds for the whole command
    memory_mb: int = 4096  # the whole tree, tmpfs included (per process without cgroups)
    pids: int = 256  # processes and threads
    disk_mb: int = 1024  # the workspace, and the largest file anywhere
    scratch_mb: int = 512  # /tmp when there is no workspace


@dataclass
class Outcome:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    seconds: float = 0.0
    limits_hit: list[str] = field(default_factory=list)  # "memory", "processes", "output"


# Uids -----------------------------------------------------------------------------

class _UidPool:
    """One host uid per running sandbox, so RLIMIT_NPROC and signals never cross submissions.
    A uid is taken with a lock file, so grader processes running side by side never share one."""

    LOCKS = Path(tempfile.gettempdir()) / "course-sandbox-uids"

    def __init__(self, base: int):
        self._base = base

    def acquire(self) -> tuple[int, int]:
        self.LOCKS.mkdir(mode=0o700, exist_ok=True)
        uid = self._base
        while True:
            if not _has_account(uid):
                fd = os.open(self.LOCKS / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return uid, fd
                except BlockingIOError:
                    os.close(fd)
            uid += 1

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # closing drops the lock


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


UIDS = _UidPool(UID_BASE)


@contextlib.contextmanager
def identity():
    """A uid for one submission's sandboxes (isolated mode); None elsewhere."""
    if mode() != "isolated":
        yield None
        return
    uid, lock = UIDS.acquire()
    try:
        yield uid
    finally:
        _kill_uid(uid)
        UIDS.release(lock)


def _kill_uid(uid: int) -> None:
    for process in psutil.process_iter(["uids"]):
        try:
            if process.info["uids"] and process.info["uids"].real == uid:
                process.kill()
        except psutil.Error:
            pass


# Workspace ----------------------------------------------------------------------------

@contextlib.contextmanager
def workspace(path: Path, uid: int | None, disk_mb: int):
    """A folder the work may write to. As root it is a tmpfs of disk_mb owned by uid (its pages
    count against the memory cgroup of whoever writes them); elsewhere a plain folder."""
    path = Path(path)
    path.mkdir(mode=0o700)
    mounted = False
    if uid is not None:
        options = f"size={disk_mb}m,nr_inodes=20000,mode=0700,uid={uid},gid={uid},nosuid,nodev"
        # A session of its own: a Ctrl-C at the terminal must not stop mount or umount half-way.
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                                 capture_output=True, start_new_session=True).returncode == 0
        if not mounted:
            os.chown(path, uid, uid)
    try:
        yield path
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, start_new_session=True)
        shutil.rmtree(path, ignore_errors=True)


def workspace_is_capped(path: Path) -> bool:
    return os.path.ismount(path)


# Cgroups ------------------------------------------------------------------------------

class Cgroup:
    """A memory, a pids and optionally a CPU cgroup (v1, or v2 when unified) for one command, or for
    one learner's server on the hub, when writable. cpu_shares is v1's weight (1024 the default)."""

    def __init__(self, name: str, memory_mb: int, pids: int, cpu_shares: int | None = None):
        self.folders: list[Path] = []
        self.v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        try:
            if self.v2:
                folder = Path("/sys/fs/cgroup") / f"course-sandbox-{name}"
                folder.mkdir(exist_ok=True)
                self.folders.append(folder)
                (folder / "memory.max").write_text(str(memory_mb * 1024 * 1024))
                (folder / "memory.swap.max").write_text("0") if (folder / "memory.swap.max").exists() else None
                (folder / "pids.max").write_text(str(pids))
                if cpu_shares:
                    (folder / "cpu.weight").write_text(str(max(1, min(10000, cpu_shares * 100 // 1024))))
            else:
                settings = [("memory", "memory.limit_in_bytes", memory_mb * 1024 * 1024), ("pids", "pids.max", pids)]
                settings += [("cpu", "cpu.shares", cpu_shares)] if cpu_shares else []
                for controller, setting, value in settings:
                    folder = Path("/sys/fs/cgroup") / controller / f"course-sandbox-{name}"
                    folder.mkdir(exist_ok=True)
                    self.folders.append(folder)
                    (folder / setting).write_text(str(value))
        except OSError:
            self.remove()
            self.folders = []

    @property
    def active(self) -> bool:
        return bool(self.folders)

    def enter(self) -> None:
        """Called in the child before exec: move it (and so all it starts) into the groups."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text("0")  # 0: the writer, whatever PID namespace it is in

    def limits_hit(self) -> list[str]:
        hit = []
        for folder in self.folders:
            for events, key, what in (("memory.events", "oom_kill", "memory"), ("memory.oom_control", "oom_kill", "memory"),
                                      ("pids.events", "max", "processes")):
                counters = _counters(folder / events)
                if counters.get(key, 0) > 0 and what not in hit:
                    hit.append(what)
        return hit

    def kill_all(self) -> None:
        for folder in self.folders:
            for pid in _counters_lines(folder / "cgroup.procs"):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        for folder in self.folders:
            for _ in range(50):  # the last processes may take a moment to leave
                try:
                    folder.rmdir()
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.05)


def bound(cgroup: Cgroup | None, limits: Limits, own_uid: bool = False) -> None:
    """In the child about to do the work: bounds that every descendant inherits. `own_uid`: the
    uid is this sandbox's alone, so a process count per uid bounds it too."""
    if cgroup is not None and cgroup.active:
        cgroup.enter()
    else:  # address space, per process: a rough bound that also refuses big virtual reservations
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if own_uid:  # above pids.max
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.pids + 16, limits.pids + 16))
    disk = limits.disk_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _counters(path: Path) -> dict[str, int]:
    try:
        pairs = (line.split() for line in path.read_text().splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}
    except OSError:
        return {}


def _counters_lines(path: Path) -> list[int]:
    try:
        return [int(line) for line in path.read_text().split()]
    except (OSError, ValueError):
        return []


# The root file system ----------------------------------------------------------------

_RUNTIME: Path | None = None
_RUNTIME_LOCK = threading.Lock()


def runtime() -> Path:
    """The course code a sandbox may see: course/ and grading/ without the expectations, copied
    once per grader process into a root-owned folder (lab sources, solutions, tests, the git
    history and the expectations stay out of sight)."""
    global _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is None or not _RUNTIME.exists():
            folder = Path(tempfile.mkdtemp(prefix="course-runtime-"))
            os.chmod(folder, 0o755)
            for package in ("course", "grading"):
                shutil.copytree(paths.ROOT / package, folder / package,
                                ignore=shutil.ignore_patterns("expectations", "__pycache__", "*.pyc"))
            for file in folder.rglob("*"):
                os.chmod(file, 0o755 if file.is_dir() else 0o644)
            atexit.register(shutil.rmtree, folder, True)
            _RUNTIME = folder
        return _RUNTIME


def system_mounts() -> list[tuple[str, str, str]]:
    """The system part of a sandbox's root, as (kind, source, target): "ro" a read-only bind,
    "symlink" a link to source, "mask" /dev/null bound over a secret file. Both ways of building
    a sandbox (bubblewrap here, grading.confine in the zygote) read this one list."""
    mounts = [("ro", "/usr", "/usr")]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            mounts.append(("symlink", os.readlink(top), top))
        elif os.path.isdir(top):
            mounts.append(("ro", top, top))
    mounts.append(("ro", "/etc", "/etc"))
    mounts += [("mask", "/dev/null", secret) for secret in MASKED_FILES if os.path.exists(secret)]
    return mounts


def _system_binds() -> list[str]:
    flag = {"ro": "--ro-bind", "symlink": "--symlink", "mask": "--ro-bind"}
    return [arg for kind, source, target in system_mounts() for arg in (flag[kind], source, target)]


def _python_binds() -> list[tuple[str, str]]:
    """(source, target): the interpreter's install, the virtual environment, the course code."""
    installs = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    binds = [(p, p) for p in sorted(installs)]
    code = runtime()
    binds += [(str(code / package), str(paths.ROOT / package)) for package in ("course", "grading")]
    return binds


def readable_binds(readable: list[Path]) -> list[tuple[str, str]]:
    """(source, target) of everything a sandbox reads besides the system: Python, the course's
    runtime code and the folders it was given."""
    return _python_binds() + [(str(p), str(p)) for p in readable if Path(p).exists()]


def view(readable: list[tuple[str, str]], writable: list[str], tmp_bytes: int | None = None) -> list[str]:
    """bwrap's arguments for a long-lived service's root (a learner's JupyterLab, the class's MLflow
    server), up to its namespace flags: the system and each readable (source, target) read-only,
    each writable folder read-write at its own path, a /proc, /dev and /tmp of its own."""
    cmd = ["bwrap", "--tmpfs", "/", *_system_binds(), "--proc", "/proc", "--dev", "/dev", "--perms", "1777",
           *(["--size", str(tmp_bytes)] if tmp_bytes else []), "--tmpfs", "/tmp"]
    # Bound after /tmp, so that a course or a Python under /tmp (a CI clone) stays in sight.
    cmd += _parents([target for _, target in readable] + writable)
    for source, target in readable:
        cmd += ["--ro-bind", source, target]
    for folder in writable:
        cmd += ["--bind", folder, folder]
    return cmd


def _parents(targets: list[str]) -> list[str]:
    """Create every folder above the mount points as 0755, so the unprivileged uid can pass."""
    made, args = set(), []
    for target in targets:
        parent = Path(target).parent
        for folder in reversed([parent, *parent.parents]):
            text = str(folder)
            if text != "/" and text not in made:
                made.add(text)
                args += ["--perms", "0755", "--dir", text]
    return args


# The sandbox ------------------------------------------------------------------------------

_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def stop_all() -> None:
    """Kill every sandbox this process is running (the first Ctrl-C of a batch)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Sandbox:
    workspace: Path | None = None  # the only writable folder; its .scratch is the sandbox's /tmp
    readable: list[Path] = field(default_factory=list)  # extra folders shown read-only, same path
    limits: Limits = field(default_factory=Limits)
    network: bool = False  # False: loopback only
    uid: int | None = None  # isolated mode: the host uid to run as (see identity())
    trusted: bool = False  # the grader's own code on untrusted data: no namespaces, only the limits

    @property
    def inside(self) -> Path | None:
        """Where the work sees its workspace: /workspace in a bubblewrap mode, its own path otherwise."""
        if self.workspace is None:
            return None
        return Path(INSIDE) if mode() != "process" else self.workspace

    def command(self, argv: list[str]) -> list[str]:
        current = mode()
        if current == "process" or self.trusted:
            return argv
        cmd = ["bwrap", "--tmpfs", "/", *_system_binds(), "--proc", "/proc", "--dev", "/dev"]
        if self.workspace is not None:
            scratch = str(self.workspace / ".scratch")
            cmd += ["--bind", str(self.workspace), INSIDE, "--bind", scratch, SCRATCH, "--perms", "0755", "--dir", "/var",
                    "--bind", scratch, "/var/tmp", "--bind", scratch, "/dev/shm"]
        else:
            size = str(self.limits.scratch_mb * 1024 * 1024)
            cmd += ["--perms", "1777", "--size", size, "--tmpfs", SCRATCH]
        # Mounted after /tmp, so that a course or a Python under /tmp (a CI clone) stays in sight.
        binds = readable_binds(self.readable)
        cmd += _parents([t for _, t in binds])
        for source, target in binds:
            cmd += ["--ro-bind", source, target]
        cmd += ["--chdir", INSIDE if self.workspace is not None else SCRATCH,
                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--die-with-parent", "--new-session"]
        if not self.network:
            cmd += ["--unshare-net"]
        if current == "isolated":
            uid = str(self.uid)
            return cmd + ["--", "setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--no-new-privs",
                          "--bounding-set", "-all", "--inh-caps", "-all", "--", *argv]
        return cmd + ["--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL", "--", *argv]

    def environment(self, extra: dict | None) -> dict:
        if self.trusted:
            return {**os.environ, **(extra or {})}
        passed = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        home = SCRATCH if mode() != "process" else tempfile.gettempdir()
        base = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8", "HOME": home, "TMPDIR": home, "MPLCONFIGDIR": f"{home}/matplotlib",
            "MPLBACKEND": "Agg", "JUPYTER_RUNTIME_DIR": f"{home}/jupyter-runtime", "IPYTHONDIR": f"{home}/ipython",
            "JUPYTER_PLATFORM_DIRS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            # The uid has no account; getpass (MLflow's run user) reads these before asking /etc/passwd.
            "USER": "learner", "LOGNAME": "learner",
        }
        return {**base, **passed, **(extra or {})}

    def run(self, argv: list[str], env: dict | None = None) -> Outcome:
        if mode() == "isolated" and self.uid is None and not self.trusted:  # never a uid another sandbox holds
            with identity() as uid:
                return dataclasses.replace(self, uid=uid).run(argv, env)
        if self.workspace is not None:
            self._prepare_scratch()
        cgroup = Cgroup(f"{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}", self.limits.memory_mb,
                         self.limits.pids) if mode() == "isolated" else None
        limits = self.limits

        def enter() -> None:  # in the child, before exec
            bound(cgroup, limits, own_uid=cgroup is not None and not self.trusted)

        started = time.perf_counter()
        process = subprocess.Popen(self.command(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=self.environment(env), cwd=self.workspace,
                                   start_new_session=True, preexec_fn=enter)
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        # A cgroup holds every process the work starts, which none can leave: killing it is
        # enough. Without one, a watcher remembers descendants (3+ ms of /proc reads every 0.2 s).
        seen = _Descendants(process.pid) if cgroup is None or not cgroup.active else None
        out, err = _CappedReader(process.stdout), _CappedReader(process.stderr)
        timed_out = False
        try:
            process.wait(timeout=self.limits.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_all(process, seen)
            if cgroup is not None:
                cgroup.kill_all()
            process.wait()
            if seen is not None:
                seen.stop()
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
        stdout, stderr = out.text(), err.text()
        hit = cgroup.limits_hit() if cgroup is not None else []
        if cgroup is not None:
            cgroup.remove()
        if out.dropped or err.dropped:
            hit.append("output")
        return Outcome(None if timed_out else process.returncode, stdout, stderr, timed_out,
                       time.perf_counter() - started, hit)

    def _prepare_scratch(self) -> None:
        scratch = self.workspace / ".scratch"
        if scratch.is_symlink() or (scratch.exists() and not scratch.is_dir()):
            scratch.unlink()  # planted by an earlier run in this workspace: never follow it
        scratch.mkdir(exist_ok=True)
        if self.uid is not None and mode() == "isolated":
            os.chown(scratch, self.uid, self.uid, follow_symlinks=False)
        else:
            os.chmod(scratch, 0o1777)

    def run_module(self, module: str, args: list[str], env: dict | None = None) -> Outcome:
        # -I: no user site, no PYTHON* variables, and the working folder is not on sys.path.
        return self.run([sys.executable, "-I", "-m", module, *args], env)


class _CappedReader:
    """Drain a pipe in a thread, keeping the first OUTPUT_CAP bytes: the work cannot fill the
    grader's memory by printing."""

    def __init__(self, pipe):
        self._chunks: list[bytes] = []
        self._kept = 0
        self.dropped = False
        self._thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self._thread.start()

    def _drain(self, pipe) -> None:
        with pipe:
            while chunk := pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536):
                room = OUTPUT_CAP - self._kept
                if room > 0:
                    self._chunks.append(chunk[:room])
                    self._kept += min(room, len(chunk))
                if len(chunk) > room:
                    self.dropped = True

    def text(self) -> str:
        self._thread.join(timeout=5)
        return b"".join(self._chunks).decode("utf-8", errors="replace")


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


def _kill_all(process: subprocess.Popen, seen: _Descendants | None) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in list(seen.pids if seen is not None else ()):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def guarantees() -> tuple[list[str], str | None]:
    """What a sandbox gives on this machine, probed by starting one; (lines, problem or None)."""
    current = mode()
    lines = [f"sandbox: {current}"]
    if current == "process":
        return lines + ["no file or network isolation: grade only code you trust (install bubblewrap)"], None
    with tempfile.TemporaryDirectory() as scratch, identity() as uid:
        probe = Path(scratch) / "probe"
        with workspace(probe, uid, 16) as folder:
            capped = workspace_is_capped(folder)
            cgroup = Cgroup(f"probe-{os.getpid()}", 256, 64) if current == "isolated" else None
            has_cgroup = bool(cgroup and cgroup.active)
            if cgroup is not None:
                cgroup.remove()
            done = Sandbox(workspace=folder, uid=uid, limits=Limits(timeout=60)).run(["/bin/sh", "-c", "id -u"])
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return lines, f"the sandbox does not start here ({why}); set COURSE_SANDBOX=process to grade without isolation"
    who = done.stdout.strip()
    lines.append(f"runs as uid {who}" + (" (an unprivileged host uid)" if current == "isolated" else " (in a user namespace)"))
    lines.append("memory and processes: " + ("cgroup for the whole sandbox" if has_cgroup else "per-process rlimits"))
    lines.append("workspace disk: " + ("tmpfs of fixed size" if capped else "per-file limit only (no quota)"))
    return lines, None
