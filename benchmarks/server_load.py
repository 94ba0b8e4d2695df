"""Runs per second through one tracking server: PostgreSQL + S3 against SQLite + S3.

Usage: python benchmarks/server_load.py [--processes 16] [--runs 50]

Both backends in this one invocation, each on a fresh stack (course.stack; SQLite migrated once
with `mlflow db upgrade`): --processes client processes (course.loadgen) log --runs runs each at
the same time through the server, without retries: a few params, a metric over 5 steps and one
text artifact per run. Then every acknowledged run, param, metric value and artifact is read back
through the server and looked up in the bucket. Prints runs per second for both backends and
their ratio; exits 1 if anything acknowledged was lost or a client saw an error.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course import loadgen, stack  # noqa: E402

BACKENDS = {"postgres": "PostgreSQL", "sqlite": "SQLite"}
NO_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}


def measure(backend: str, work: Path, processes: int, runs: int) -> loadgen.Result:
    with stack.production_stack(work / backend / "stack", backend=backend) as running:
        return loadgen.load_and_verify(running.tracking_uri, work / backend / "journals", f"load-{backend}",
                                       processes=processes, runs=runs, env=NO_RETRIES, timeout=1800,
                                       bucket_keys=running.s3.keys, bucket_prefix=stack.ARTIFACTS_PREFIX)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("--runs", type=int, default=50, help="runs per process")
    args = parser.parse_args()
    problem = stack.postgres_missing() or (None if stack.weed_binary() else "the S3 store's binary 'weed' is missing")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    os.environ["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-server-load-") as tmp:
        for backend, name in BACKENDS.items():
            print(f"{name}: {args.processes} processes x {args.runs} runs...", flush=True)
            results[backend] = measure(backend, Path(tmp), args.processes, args.runs)
    expected = args.processes * args.runs
    print(f"{'backend':<12}{'runs':>8}{'seconds':>10}{'runs/s':>9}{'lost':>7}{'client errors':>15}")
    for backend, name in BACKENDS.items():
        r = results[backend]
        print(f"{name:<12}{r.journals.complete_runs:>8}{r.seconds:>10.1f}{r.runs_per_second:>9.1f}"
              f"{len(r.verdict.lost):>7}{len(r.journals.errors):>15}")
    pg, lite = results["postgres"], results["sqlite"]
    print(f"ratio PostgreSQL / SQLite runs/s: {pg.runs_per_second / lite.runs_per_second:.2f}")
    failed = False
    for backend, r in results.items():
        if r.verdict.lost or r.journals.errors or r.journals.complete_runs != expected \
                or r.verdict.runs_in_experiment != expected:
            failed = True
            first = (r.verdict.lost or [e["error"] for e in r.journals.errors] or ["runs missing"])[0]
            print(f"{BACKENDS[backend]}: {expected - r.journals.complete_runs} runs not completed, "
                  f"{len(r.verdict.lost)} acknowledged things lost, {len(r.journals.errors)} client errors; "
                  f"first: {first}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
