"""Sixteen client processes logging at once through one tracking server lose nothing.

Each backend gets a stack of its own: PostgreSQL + S3, and a fresh SQLite file (migrated once
with `mlflow db upgrade`) + S3. Clients do not retry (MLFLOW_HTTP_REQUEST_MAX_RETRIES=0), so a
request the server fails under load counts as a client error instead of being retried away.

The server handles ~15-20 runs/s on 2 cores (~20 ms of server CPU per request, 4 requests a
run), so each backend's 320 runs take about 20 s; `make bench` (benchmarks/server_load.py)
prints the two backends' rates side by side.
"""
from __future__ import annotations

import pytest

from conftest import process_family, require, still_running
from course import loadgen, stack

pytestmark = pytest.mark.slow  # real servers, end to end

PROCESSES, RUNS, STEPS = 16, 20, 5  # 320 runs per backend from 16 processes at once
NO_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_concurrent_clients_lose_nothing(backend, tmp_path, capsys):
    require((stack.postgres_missing() if backend == "postgres" else None)
            or (None if stack.weed_binary() else "the 'weed' binary is missing"))
    with stack.production_stack(tmp_path / "stack", backend=backend) as running:
        result = loadgen.load_and_verify(running.tracking_uri, tmp_path / "journals", f"load-{backend}",
                                         processes=PROCESSES, runs=RUNS, steps=STEPS, env=NO_RETRIES, timeout=240,
                                         bucket_keys=running.s3.keys, bucket_prefix=stack.ARTIFACTS_PREFIX)
        started = process_family(running.server.service.pid, running.s3.service.pid, result.launcher_pid,
                                         *([running.postgres.service.pid] if running.postgres else []))

    expected, journals, verdict = PROCESSES * RUNS, result.journals, result.verdict
    with capsys.disabled():
        print(f"\nload {backend}: {journals.complete_runs}/{expected} runs from {PROCESSES} processes in "
              f"{result.seconds:.1f} s ({result.runs_per_second:.1f} runs/s); lost {len(verdict.lost)}, "
              f"client errors {len(journals.errors)}")
    assert result.exit_code == 0 and journals.errors == [], result.stderr[-2000:]
    assert journals.done == PROCESSES and journals.complete_runs == expected
    assert verdict.lost == [], verdict.lost[:10]
    # Every acknowledged thing read back through the server, and nothing twice.
    assert verdict.runs == verdict.runs_in_experiment == expected
    assert verdict.params == expected * len(loadgen.run_params(0, 0))
    assert verdict.metric_values == expected * STEPS
    assert verdict.artifacts == verdict.bucket_keys == expected
    assert still_running(started) == [], "processes left running after the stack stopped"
