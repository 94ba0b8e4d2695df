"""`python -m grading check` and `list` as a user runs them."""
from __future__ import annotations

import json
import socket
import time

from conftest import run_cli
from grading import expectations


def test_list_shows_every_target_with_its_checks_and_points():
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    for target in ["01-tracking-server", "02-first-experiment", "03-query-runs", "04-sweep-compare", "05-plots-artifacts"]:
        spec = expectations.load(target)
        assert f"{target}  {spec.title}  ({spec.max_score:g} points)" in result.stdout
        for check in spec.checks:
            assert check.id in result.stdout


def test_unknown_target_lists_the_valid_ones(store):
    result = run_cli("check", "no-such-target", "--tracking-uri", store)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "02-first-experiment" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_store_fails_and_names_the_missing_experiment(store, tmp_path):
    result = run_cli("check", "02-first-experiment", "--tracking-uri", store)
    assert result.returncode == 1
    assert "FAIL  experiment" in result.stdout
    assert "expected an experiment named 'iris-classifier'; found no such experiment" in result.stdout
    assert "score 0/14" in result.stdout


def test_unreachable_server_exits_2_within_15_seconds():
    started = time.monotonic()
    result = run_cli("check", "02-first-experiment", "--tracking-uri", "http://127.0.0.1:9")
    assert time.monotonic() - started < 15
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "http://127.0.0.1:9" in lines[0] and "Traceback" not in result.stderr


def test_gradescope_report_is_written_to_a_file(store, tmp_path):
    out = tmp_path / "results" / "results.json"
    result = run_cli("check", "05-plots-artifacts", "--tracking-uri", store, "--format", "gradescope", "--out", str(out))
    assert result.returncode == 1
    assert f"report written to {out}" in result.stdout
    report = json.loads(out.read_text())
    assert report["score"] == 0 and len(report["tests"]) == len(expectations.load("05-plots-artifacts").checks)
    assert all(t["status"] == "failed" and t["max_score"] > 0 for t in report["tests"])


def test_experiment_prefix_scopes_the_names(store):
    result = run_cli("check", "01-tracking-server", "--tracking-uri", store, "--experiment-prefix", "alice-",
                     "--format", "json")
    report = json.loads(result.stdout)
    assert "'alice-smoke-test'" in report["checks"][0]["message"]


def test_every_expectation_file_loads():
    assert expectations.targets()[:5] == ["01-tracking-server", "02-first-experiment", "03-query-runs",
                                          "04-sweep-compare", "05-plots-artifacts"]
    for target in expectations.targets():
        assert expectations.load(target).max_score > 0
