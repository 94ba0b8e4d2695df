"""Each learner's home with a size: a file system of its own, in an image file, mounted over it.

The home sits on the host's disk, which every learner and the hub share; without a bound one
learner could fill it. So while a learner's server runs, their home is an ext4 file system made
in a sparse image file of the hub's (state/homes/NAME.ext4: it takes the space its files take,
never more than its size), mounted with a loop device. On the first start, what the home held
(useradd's files) is copied in. Between starts the image keeps the learner's work.

Where loop devices cannot be used (a container without them), the home stays as it is, unbounded,
and the spawner says so in the hub's log.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path


def _run(*argv: str) -> bool:
    # A session of its own: a Ctrl-C at the hub's terminal must not stop mount or umount half-way.
    return subprocess.run(argv, capture_output=True, start_new_session=True).returncode == 0


def _make(image: Path, size_mb: int, home: Path, uid: int, gid: int) -> bool:
    image.parent.mkdir(mode=0o700, exist_ok=True)
    with open(image, "xb") as handle:
        handle.truncate(size_mb * 1024 * 1024)
    made = _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", f"root_owner={uid}:{gid}", str(image))
    with tempfile.TemporaryDirectory(dir=image.parent) as staging:
        if made and _run("mount", "-o", "loop,nosuid,nodev", str(image), staging):
            os.rmdir(os.path.join(staging, "lost+found"))
            # What useradd put there; cp -a copies links as links and follows none.
            copied = _run("cp", "-a", "--", f"{home}/.", staging)
            _run("umount", staging)
            if copied:
                return True
    image.unlink(missing_ok=True)
    return False


def bound(home: Path, image: Path, size_mb: int, uid: int, gid: int) -> bool:
    """Mount the learner's image over home, making it first if need be; whether home is bounded."""
    if os.path.ismount(home):
        return True
    if not image.exists() and not _make(image, size_mb, home, uid, gid):
        return False
    if not _run("mount", "-o", "loop,nosuid,nodev", str(image), str(home)):
        return False
    os.chmod(home, 0o700)  # private, as useradd made it
    return True


def release(home: Path) -> None:
    """Unmount the learner's home once their server has stopped (lazily: a straggler may hold a file)."""
    if os.path.ismount(home):
        _run("umount", "-l", str(home))
