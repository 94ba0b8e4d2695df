"""Installing requirements.lock into a new venv: pip against uv, as `make setup` does it.

Usage: python benchmarks/install.py

Both sides start from an empty venv and an empty download cache, in this one invocation, and
install the same lock with --no-deps, bytecode compiled. Prints each side's wall and CPU seconds
and the ratio pip/uv. Needs the network (PyPI) and about 3 GB of scratch space.
"""
from __future__ import annotations

import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def uv_pin() -> str:
    found = re.search(r"^UV_PIN := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    return found.group(1)


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, children_cpu() - cpu


def new_venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return folder / "bin" / "python"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-install-") as scratch:
        scratch = Path(scratch)
        pip_python = new_venv(scratch / "pip")
        pip = timed([str(pip_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                     "--no-cache-dir", "--no-deps", "-r", str(LOCK)])
        uv_python = new_venv(scratch / "uv")
        # Installing uv itself is part of its side: make setup does it on every fresh machine.
        uv = timed([str(uv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-cache-dir", uv_pin()])
        installed = timed([str(scratch / "uv" / "bin" / "uv"), "pip", "install", "--quiet", "--python", str(uv_python),
                           "--no-cache", "--link-mode", "copy", "--compile-bytecode", "--no-deps", "-r", str(LOCK)])
        uv = (uv[0] + installed[0], uv[1] + installed[1])
    print(f"{'installer':<10}{'wall s':>10}{'CPU s':>10}")
    print(f"{'pip':<10}{pip[0]:>10.1f}{pip[1]:>10.1f}")
    print(f"{'uv':<10}{uv[0]:>10.1f}{uv[1]:>10.1f}")
    print(f"pip/uv wall ratio: {pip[0] / uv[0]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
