"""Crashes in the production stack: the MLflow server killed mid-load, PostgreSQL killed under a live server.

The module has its own stack (PostgreSQL + S3 + server), since these tests kill its parts. The
server crash runs once (fixture `crash`); three tests look at what it did to clients, to a grader
pointed at the dead server, and to the store after a restart. Two more kill PostgreSQL under the
running server. When the stack stops, no process the module started (or any child of one) may
be left running.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest

from conftest import process_family, require, run_cli, still_running
from course import loadgen, stack

pytestmark = pytest.mark.slow  # real servers, end to end

PROCESSES, RUNS = 8, 40
KILL_AFTER_RUNS = 40  # runs created by all clients together before the kill: mid-load, not at its start
# Few, short retries: a client must give up on a dead server in seconds, not after MLflow's default
# 7 retries with backoff (minutes).
CLIENT_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
              "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
# Seconds from the kill until every client has exited: refused connections fail at once, the two
# retries wait ~3 s; MLflow's defaults would keep a client retrying for minutes.
CLIENT_EXIT_BOUND = 15
# What requests/urllib3 say when the server is gone: refused, or cut off mid-request or mid-response.
CONNECTION_PROBLEM = re.compile(r"Failed to establish a new connection|Connection refused|Connection aborted|"
                                r"Connection reset|Connection broken|RemoteDisconnected", re.IGNORECASE)
RECOVERY_BOUND = 30  # seconds after PostgreSQL is back until the server answers again


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    require(stack.postgres_missing() or (None if stack.weed_binary() else "the 'weed' binary is missing"))
    started: set[int] = set()
    with stack.production_stack(tmp_path_factory.mktemp("faults-stack"), backend="postgres") as live:
        live.started = started  # every process the module starts, taken before each kill and at the end
        yield live
        started |= process_family(live.server.service.pid, live.postgres.service.pid, live.s3.service.pid)
    assert still_running(started) == [], "processes left running after the stack stopped"


@dataclass
class Crash:
    url: str
    acknowledged_at_kill: int
    exit_code: int
    exit_seconds: float  # from the kill until the load launcher and all its clients had exited
    journals: loadgen.Journals
    client_exits: list[dict]
    check: object  # the grader run against the dead server
    check_seconds: float
    verdict: loadgen.Verdict


@pytest.fixture(scope="module")
def crash(running, tmp_path_factory):
    """Kill the server (SIGKILL) while clients log, grade against the dead URL, restart, read back."""
    from mlflow import MlflowClient

    experiment = MlflowClient(running.tracking_uri).create_experiment("server-crash")
    journals = tmp_path_factory.mktemp("crash-journals")
    load = loadgen.start_load(running.tracking_uri, experiment, journals, processes=PROCESSES, runs=RUNS,
                              env=CLIENT_ENV)
    try:
        deadline = time.monotonic() + 120
        while loadgen.acknowledged_runs(journals) < KILL_AFTER_RUNS:
            assert load.process.poll() is None, f"the load ended before the kill: {load.stderr_text()[-1000:]}"
            assert time.monotonic() < deadline, "the load made no progress"
            time.sleep(0.1)
        acknowledged = loadgen.acknowledged_runs(journals)
        running.started |= process_family(load.process.pid, running.server.service.pid)
        running.server.service.kill()
        killed = time.monotonic()
        exit_code = load.wait(timeout=CLIENT_EXIT_BOUND + 30)
        exit_seconds = time.monotonic() - killed
    finally:
        if load.process.poll() is None:
            load.kill()

    began = time.monotonic()
    check = run_cli("check", "02-first-experiment", "--tracking-uri", running.tracking_uri, timeout=60)
    check_seconds = time.monotonic() - began

    running.server.restart()
    read = loadgen.read_journals(journals)
    verdict = loadgen.verify(running.tracking_uri, experiment, read.runs, bucket_keys=running.s3.keys,
                             bucket_prefix=stack.ARTIFACTS_PREFIX)
    return Crash(running.tracking_uri, acknowledged, exit_code, exit_seconds, read, load.clients()["clients"],
                 check, check_seconds, verdict)


def test_nothing_acknowledged_is_lost_when_the_server_crashes(crash):
    assert crash.journals.runs, "no run was acknowledged before the kill"
    assert crash.verdict.lost == [], crash.verdict.lost[:10]
    assert crash.verdict.runs == len(crash.journals.runs)
    assert crash.verdict.metric_values == sum(len(run.metrics) for run in crash.journals.runs.values())
    assert crash.verdict.artifacts == crash.verdict.bucket_keys == \
        sum(1 for run in crash.journals.runs.values() if run.artifact)


def test_clients_fail_fast_with_a_connection_error(crash, capsys):
    kinds = sorted({m.group(0) if (m := CONNECTION_PROBLEM.search(e["error"])) else e["error"][:80]
                    for e in crash.journals.errors})
    with capsys.disabled():
        print(f"\nserver crash: killed with {crash.acknowledged_at_kill} runs created; journals hold "
              f"{len(crash.journals.runs)} runs ({crash.journals.complete_runs} complete); clients exited "
              f"{crash.exit_seconds:.1f} s after the kill, seeing {kinds}; "
              f"lost after restart: {len(crash.verdict.lost)}")
    # The kill came mid-load, so no client could finish; each must say why and exit, not hang.
    assert crash.exit_code == 1 and crash.journals.done == 0
    assert crash.exit_seconds < CLIENT_EXIT_BOUND, f"clients took {crash.exit_seconds:.1f} s to exit"
    assert sorted(c["client"] for c in crash.client_exits if c["exit"] == 1) == list(range(PROCESSES))
    assert len(crash.journals.errors) == PROCESSES
    for error in crash.journals.errors:
        assert CONNECTION_PROBLEM.search(error["error"]), error
        assert error["call_seconds"] < CLIENT_EXIT_BOUND, error


def test_grader_reports_a_dead_server_in_one_line(crash):
    result = crash.check
    assert crash.check_seconds < 15
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and crash.url in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def first_success(call, bound: float) -> tuple[object, list[str], float]:
    """Call until it succeeds: its result, the errors before that, and the seconds it took."""
    from mlflow.exceptions import MlflowException

    failures, began = [], time.monotonic()
    while True:
        try:
            return call(), failures, time.monotonic() - began
        except MlflowException as error:
            failures.append(str(error).splitlines()[0])
            assert time.monotonic() - began < bound, failures[-3:]
            time.sleep(0.5)


def test_server_recovers_after_postgres_restarts(running, monkeypatch, capsys):
    from mlflow import MlflowClient

    # Count each failed call instead of letting the client's retries hide it.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(running.tracking_uri)
    experiment = client.create_experiment("postgres-crash")
    client.search_runs([experiment])  # the server now holds pooled connections, all dead after the kill
    server_pid = running.server.service.pid
    running.started |= process_family(running.postgres.service.pid)
    running.postgres.service.kill()
    running.postgres.restart()

    # A write, with no call in between: the server must notice its pooled connections died.
    run, failures, seconds = first_success(lambda: client.create_run(experiment), RECOVERY_BOUND)
    client.log_metric(run.info.run_id, "loss", 0.5, step=1)
    with capsys.disabled():
        print(f"\npostgres restart: the same server answered after {len(failures)} failed calls, {seconds:.1f} s")
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")] == [(1, 0.5)]
    assert running.server.service.pid == server_pid and running.server.service.running()
    assert len(failures) <= 2, failures


def test_server_answers_503_while_postgres_is_down(running, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(running.tracking_uri)
    experiment = client.create_experiment("postgres-down")
    running.started |= process_family(running.postgres.service.pid)
    running.postgres.service.kill()
    try:
        began = time.monotonic()
        with pytest.raises(MlflowException, match="503"):
            client.create_run(experiment)
        assert time.monotonic() - began < 10, "the server hung instead of reporting the database as unavailable"
    finally:
        running.postgres.restart()
    first_success(lambda: client.create_run(experiment), RECOVERY_BOUND)
    assert running.server.service.running()
