"""Take files out of a workspace the submission wrote to, trusting nothing in it.

Only regular files and folders are read, through descriptors opened with O_NOFOLLOW from a
folder descriptor: a symlink, a FIFO, a device or a socket is skipped, never followed or
opened for reading. Every read is capped, per file and in total.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_OPEN_DIR = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC


class Refused(Exception):
    """The path is not a regular file (or folder), or is over its cap."""


@dataclass
class Copied:
    files: int = 0
    folders: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # what was left out, and why


def _open_regular(path: Path, cap: int, dir_fd: int | None = None) -> tuple[int, int]:
    try:
        fd = os.open(path.name if dir_fd is not None else path, _OPEN_FILE, dir_fd=dir_fd)
    except OSError as exc:
        raise Refused(f"{path.name} cannot be opened as a regular file ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Refused(f"{path.name} is not a regular file")
    if info.st_size > cap:
        os.close(fd)
        raise Refused(f"{path.name} is {info.st_size / 1e6:.1f} MB, over the {cap / 1e6:.0f} MB the grader reads")
    return fd, info.st_size


def read_file(path: Path, cap: int) -> bytes:
    """The bytes of a regular file, at most cap of them; Refused otherwise."""
    path = Path(path)
    parent = os.open(path.parent, _OPEN_DIR)
    try:
        fd, _ = _open_regular(path, cap, dir_fd=parent)
    finally:
        os.close(parent)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:  # it grew after fstat
        raise Refused(f"{path.name} is over the {cap / 1e6:.0f} MB the grader reads")
    return data


def copy_tree(source: Path, target: Path, total_cap: int, file_cap: int, max_files: int = 20000,
              leave_out: frozenset[str] = frozenset()) -> Copied:
    """Copy the regular files and folders under source (but the top-level names in leave_out)
    into a new folder target."""
    copied = Copied()
    top = os.open(source, _OPEN_DIR)
    try:
        _copy_dir(top, Path(target), copied, total_cap, file_cap, max_files, "", leave_out)
    finally:
        os.close(top)
    return copied


MAX_DEPTH = 32  # folders below this are left out (MLflow's own layout is about 8 deep)


def _copy_dir(dir_fd: int, target: Path, copied: Copied, total_cap: int, file_cap: int, max_files: int,
              prefix: str, leave_out: frozenset[str] = frozenset()) -> None:
    if prefix.count("/") >= MAX_DEPTH:
        copied.skipped.append(f"{prefix} (more than {MAX_DEPTH} folders deep)")
        return
    if copied.files + copied.folders >= max_files:  # folders count too: making them is work as well
        copied.skipped.append(f"{prefix or '.'} (more than {max_files} files and folders)")
        return
    target.mkdir(mode=0o700)
    copied.folders += 1
    for entry in sorted(set(os.listdir(dir_fd)) - leave_out):
        name = f"{prefix}{entry}"
        info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            try:
                child = os.open(entry, _OPEN_DIR, dir_fd=dir_fd)
            except OSError:
                copied.skipped.append(f"{name}/ (cannot be opened)")
                continue
            try:
                _copy_dir(child, target / entry, copied, total_cap, file_cap, max_files, f"{name}/")
            finally:
                os.close(child)
            continue
        if not stat.S_ISREG(info.st_mode):
            copied.skipped.append(f"{name} (not a regular file)")
            continue
        if copied.files + copied.folders >= max_files:
            copied.skipped.append(f"{name} (more than {max_files} files and folders)")
            continue
        if copied.bytes >= total_cap:
            copied.skipped.append(f"{name} (the {total_cap / 1e6:.0f} MB the grader copies are used up)")
            continue
        try:
            fd, size = _open_regular(Path(entry), min(file_cap, total_cap - copied.bytes), dir_fd=dir_fd)
        except Refused as exc:
            copied.skipped.append(f"{name} ({exc})")
            continue
        with os.fdopen(fd, "rb") as source, open(target / entry, "xb") as sink:
            left = size
            while left > 0 and (chunk := source.read(min(left, 1 << 20))):
                sink.write(chunk)
                left -= len(chunk)
        copied.files += 1
        copied.bytes += size


def make_readable(folder: Path) -> None:
    """Let a sandbox's unprivileged uid read a private copy (it stays owned by the grader)."""
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
