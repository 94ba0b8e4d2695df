"""Enter the isolated sandbox from a forked process, without starting a new interpreter.

The walls are those of Sandbox's isolated mode (bubblewrap, then setpriv), built with the same
kernel calls: new mount, PID, network, IPC, UTS and cgroup namespaces; a new root that holds
only sandbox.system_mounts() and sandbox.readable_binds(), read-only, a /proc of the new PID
namespace, a few device nodes and a size-capped /tmp; then the sandbox's uid, no capabilities
in any set, and no_new_privs. grading.zygote uses it to run learners' models in children of a
process that imported MLflow and scikit-learn once.

Only root can do this (the isolated mode), and only from a single-threaded process.
"""
from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path

from grading import sandbox

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86_64; glibc has no wrapper
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _bytes(text: str | None):
    return None if text is None else text.encode()


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _call(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)),
          f"mount {target}")


def _prctl(option: int, value: int) -> None:
    _call(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


def new_pid_namespace() -> None:
    """The next child this process forks is the first process (pid 1) of a new PID namespace:
    when it ends, the kernel kills everything it left in there."""
    _call(_libc.unshare(CLONE_NEWPID), "unshare a PID namespace")


def enter(base: str, uid: int, readable: list[Path], scratch_mb: int) -> None:
    """In the first process of a new PID namespace: build the sandbox around it and become uid.
    `base` is an empty folder to build the root on (mounted over privately, never written)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    # Read the plan while the host's paths are still where they were.
    system, binds = sandbox.system_mounts(), sandbox.readable_binds(readable)
    _call(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP),
          "unshare namespaces")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done below reaches the host
    _mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    os.mkdir(f"{base}/new", 0o755)
    os.mkdir(f"{base}/old", 0o755)
    _pivot(base, f"{base}/old")  # the host's root is now /old, so binds still find their sources
    _build_root("/new", "/old", system, binds, scratch_mb)
    os.chdir("/new")
    _pivot(".", ".")  # the new root over the old, then the old one detached: out of reach
    _call(_libc.umount2(b".", MNT_DETACH), "detach the host's root")
    os.chdir("/tmp")
    _drop_to(uid, last_cap)


def _pivot(new_root: str, put_old: str) -> None:
    _call(_libc.syscall(SYS_PIVOT_ROOT, _bytes(new_root), _bytes(put_old)), "pivot_root")
    os.chdir("/")


def _build_root(root: str, host: str, system, binds, scratch_mb: int) -> None:
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for kind, source, target in system:
        if kind == "symlink":
            os.symlink(source, root + target)
        elif kind == "ro":
            _read_only_bind(host + source, root + target)
        else:  # mask: the file exists in the read-only /etc already
            _mount(host + source, root + target, None, MS_BIND)
    os.makedirs(f"{root}/proc", 0o755)
    _mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _build_dev(root, host)
    os.makedirs(f"{root}/tmp")
    _mount("tmpfs", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={scratch_mb * 1024 * 1024}")
    # After /tmp, so that a course or a Python under /tmp (a CI clone) stays in sight.
    for source, target in binds:
        _read_only_bind(host + source, root + target)


def _read_only_bind(source: str, target: str) -> None:
    if os.path.isdir(source):
        _make_dirs(target)
    else:
        _make_dirs(os.path.dirname(target))
        open(target, "a").close()
    # Not recursive: a mount below the source (a writable one too) stays out of the sandbox.
    _mount(source, target, None, MS_BIND)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _make_dirs(path: str) -> None:
    """Every folder down to path, 0755 whatever the umask, so the sandbox's uid can pass."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        os.mkdir(folder)
        os.chmod(folder, 0o755)


def _build_dev(root: str, host: str) -> None:
    dev = f"{root}/dev"
    os.makedirs(dev)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")
    for name in DEVICES:
        if os.path.exists(f"{host}/dev/{name}"):
            open(f"{dev}/{name}", "a").close()
            _mount(f"{host}/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    os.mkdir(f"{dev}/shm")
    os.chmod(f"{dev}/shm", 0o1777)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")


def _drop_to(uid: int, last_cap: int) -> None:
    for capability in range(last_cap + 1):  # the bounding set: nothing can be regained by exec
        _prctl(PR_CAPBSET_DROP, capability)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to a uid with no account: every capability is cleared
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    held = [key for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb") if int(status[key].strip(), 16)]
    if held or os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"the sandbox kept privileges: {held or 'root'}")
