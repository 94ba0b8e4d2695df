"""The autograder's cost: sandboxed grading against plain papermill, and --workers 2 against 1.

Usage: python benchmarks/autograde.py [--copies 12]

All in one invocation, on the same machine state:
  A. plain papermill executes the copies one after another, each into its own store, with the
     self-checks off as the autograder has them (each would start a grader of its own);
  B. `grading grade --workers 1` grades the same copies (sandbox, store, checks, reports);
  C. `grading grade --workers 2` grades them again.
Prints the per-submission overhead of B over A (target <= 10% of execution and <= 4 s) and the
speed-up of C over B (target >= 1.8x on 2 cores).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course import paths  # noqa: E402

SOLUTION = paths.SOLUTIONS / "lab04.ipynb"


def plain_papermill(copies: list[Path], work: Path) -> float:
    started = time.perf_counter()
    for copy in copies:
        store = work / copy.stem
        store.mkdir()
        subprocess.run(
            [sys.executable, "-m", "papermill", str(copy), str(store / "out.ipynb"), "--no-progress-bar",
             "--cwd", str(store)],
            # Self-checks off, as the autograder runs them: both sides do the notebook's own work only.
            env={**os.environ, "MLFLOW_TRACKING_URI": paths.sqlite_uri(store), "COURSE_AUTOGRADING": "1"},
            check=True, capture_output=True,
        )
    return time.perf_counter() - started


def autograde(folder: Path, out: Path, workers: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "grading", "grade", "--lab", "lab04", "--out", str(out), "--workers", str(workers),
         "--no-progress", str(folder)],
        cwd=ROOT, check=True, capture_output=True,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "submissions"
        folder.mkdir()
        copies = []
        for i in range(args.copies):
            copies.append(folder / f"student{i:02d}.ipynb")
            shutil.copyfile(SOLUTION, copies[-1])
        (tmp / "plain").mkdir()
        t_plain = plain_papermill(copies, tmp / "plain")
        t_one = autograde(folder, tmp / "w1", 1)
        t_two = autograde(folder, tmp / "w2", 2)
    n = args.copies
    overhead = (t_one - t_plain) / t_plain
    print(f"{'':<34}{'total s':>9}{'per submission s':>18}")
    print(f"{'plain papermill, one at a time':<34}{t_plain:>9.1f}{t_plain / n:>18.2f}")
    print(f"{'grade --workers 1':<34}{t_one:>9.1f}{t_one / n:>18.2f}")
    print(f"{'grade --workers 2':<34}{t_two:>9.1f}{t_two / n:>18.2f}")
    print(f"overhead of grading beyond execution: {(t_one - t_plain) / n:.2f} s per submission, "
          f"{overhead:.0%} (target <= 10% and <= 4 s)")
    print(f"speed-up of --workers 2 over --workers 1: {t_one / t_two:.2f}x (target >= 1.8x on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
