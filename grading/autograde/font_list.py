"""Matplotlib's font list, built once per install and given to every submission's sandbox.

A sandboxed kernel starts with an empty MPLCONFIGDIR (the workspace's scratch folder), so its
first `import matplotlib.pyplot` scans every font on the system again: 0.25-0.35 s of CPU on each
submission that plots. The list is the same for all of them, because every sandbox sees the same
system and the same Python at the same paths. So it is built once, in a sandbox of its own that
no submission ever ran in, and each new workspace starts with a copy. A font the list names but
the sandbox cannot find makes matplotlib rebuild the list itself, as without the copy.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from course import paths
from grading import sandbox

LIST_CAP = 4 * 1024 * 1024  # bytes: a few hundred fonts take 40 kB
BUILD_LIMITS = sandbox.Limits(timeout=300, memory_mb=1024, pids=32, disk_mb=64)


def folder() -> Path:
    return paths.HOME / "cache" / f"matplotlib-{version('matplotlib')}"


def built() -> Path | None:
    """The cached list (fontlist-v<format>.json), or None before build() made it."""
    cache = folder()
    found = sorted(cache.glob("fontlist-v*.json")) if cache.is_dir() else []
    return found[0] if len(found) == 1 and found[0].is_file() else None


def build() -> Path | None:
    """Build the list in a fresh sandbox, unless it is cached already; None when it cannot be."""
    cached = built()
    if cached is not None:
        return cached
    cache = folder()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache.parent, prefix=".building-fonts-") as workspace:
            box = sandbox.Sandbox(workspace=Path(workspace), limits=BUILD_LIMITS)
            done = box.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"])
            made = Path(workspace, ".scratch", "matplotlib")
            lists = sorted(made.glob("fontlist-v*.json")) if done.returncode == 0 and made.is_dir() else []
            if len(lists) != 1 or lists[0].is_symlink() or not lists[0].is_file() or lists[0].stat().st_size > LIST_CAP:
                return None
            json.loads(lists[0].read_text(encoding="utf-8"))
            staged = cache / f".{lists[0].name}.tmp"
            shutil.copyfile(lists[0], staged)
            os.replace(staged, cache / lists[0].name)  # whole, or not at all: workers read it meanwhile
    except (OSError, ValueError):
        return None
    return built()


def seed(scratch: Path, uid: int | None) -> None:
    """Give a new workspace's scratch folder (the sandbox's /tmp) the list, where MPLCONFIGDIR points.
    The folder must stay writable for the sandbox uid: matplotlib refuses a read-only config folder."""
    cached = built()
    if cached is None:
        return
    config = scratch / "matplotlib"
    try:
        config.mkdir(parents=True)  # a workspace the grader just made: nothing in it to follow
        copy = config / cached.name
        shutil.copyfile(cached, copy)
        if uid is not None:
            for path in (scratch, config, copy):
                os.chown(path, uid, uid, follow_symlinks=False)
    except OSError:  # e.g. a full disk: the kernel builds its own list, as without the copy
        shutil.rmtree(config, ignore_errors=True)
