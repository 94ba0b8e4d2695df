"""Does grading one section stay fast when the store is crowded?

Usage: python benchmarks/grading_scale.py [--runs 10000] [--experiments 300]

Runs section 02 into a fresh SQLite store (A), copies that store (B) and adds
--runs runs spread over --experiments other experiments to B. Then grades 02
against A and against B in this process, best of fifteen each (alternating), and prints both
times and their ratio. Targets: ratio <= 1.2, one section under 1 s.
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
from grading.engine import expectations, grader  # noqa: E402

SECTION = "02-first-experiment"
TARGET_RATIO, TARGET_SECONDS = 1.2, 1.0


def log_section(store_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "grading", "run-course", "--only", SECTION, "--tracking-uri",
         paths.sqlite_uri(store_dir), "--out", str(store_dir / "executed"), "--no-progress"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )


def crowd(store_dir: Path, runs: int, experiments: int) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(tracking_uri=paths.sqlite_uri(store_dir))
    ids = [client.create_experiment(f"other-{i:03d}") for i in range(experiments)]
    now = int(time.time() * 1000)
    for i in range(runs):
        # Same names as the graded run's params, metrics and tags: filters must not be fooled by them.
        run = client.create_run(ids[i % experiments], run_name="rf-baseline")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("accuracy", 0.5, now, 0), Metric("precision", 0.5, now, 0)],
            params=[Param("n_estimators", "100"), Param("max_depth", str(i % 7)), Param("random_state", "42")],
            tags=[RunTag("purpose", "baseline")],
        )
        client.set_terminated(run.info.run_id)
        if (i + 1) % 1000 == 0:
            print(f"  crowded store: {i + 1}/{runs} runs", flush=True)


def best_times(uris: list[str], rounds: int = 15) -> tuple[list[float], list[bool]]:
    """Best of `rounds` for each store, alternating between them so that drift hits both alike."""
    spec = expectations.load(SECTION)
    best, passed = [float("inf")] * len(uris), [True] * len(uris)
    for _ in range(rounds):
        for i, uri in enumerate(uris):
            started = time.perf_counter()
            result = grader.grade(spec, uri)
            best[i] = min(best[i], time.perf_counter() - started)
            passed[i] = passed[i] and result.passed
    return best, passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--experiments", type=int, default=300)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="build the two stores in DIR and keep them; reuse them if DIR already has them")
    args = parser.parse_args()
    os.environ["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    with tempfile.TemporaryDirectory(prefix="grading-scale-") as tmp:
        base = args.keep or Path(tmp)
        alone, crowded = base / "alone", base / "crowded"
        if not (crowded / "complete").exists():
            shutil.rmtree(alone, ignore_errors=True)
            shutil.rmtree(crowded, ignore_errors=True)
            print(f"logging {SECTION} into a fresh store...", flush=True)
            log_section(alone)
            shutil.copytree(alone, crowded)
            print(f"adding {args.runs} runs in {args.experiments} other experiments...", flush=True)
            started = time.perf_counter()
            crowd(crowded, args.runs, args.experiments)
            (crowded / "complete").touch()
            print(f"  ({time.perf_counter() - started:.0f} s)")
        uris = [paths.sqlite_uri(alone), paths.sqlite_uri(crowded)]
        best_times(uris, rounds=1)  # warm imports and caches once, for both sides
        (t_alone, t_crowded), (ok_alone, ok_crowded) = best_times(uris)
    print(f"{'store':<40}{'seconds':>10}  all checks passed")
    print(f"{'only ' + SECTION:<40}{t_alone:>10.3f}  {ok_alone}")
    print(f"{'plus ' + str(args.runs) + ' runs in ' + str(args.experiments) + ' experiments':<40}{t_crowded:>10.3f}  {ok_crowded}")
    print(f"ratio crowded / alone: {t_crowded / t_alone:.2f} (target <= {TARGET_RATIO}); "
          f"one section in {t_crowded:.3f} s (target < {TARGET_SECONDS} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
