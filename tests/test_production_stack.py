"""The whole module and the lab on the production stack: PostgreSQL for metadata, an S3 bucket for files."""
from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, run_cli


@pytest.mark.slow
def test_the_whole_module_runs_on_postgres_with_files_in_the_bucket(pg_stack, tmp_path, monkeypatch):
    # Section 08's git + DVC workspace goes under COURSE_HOME when the store is a server.
    monkeypatch.setenv("COURSE_HOME", str(tmp_path / "home"))
    before = sorted(p.name for p in (ROOT / "notebooks").iterdir())
    out = tmp_path / "executed"
    ran = run_cli("run-course", "--tracking-uri", pg_stack.tracking_uri, "--out", str(out), "--no-progress")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]

    rows = {m.group(1): (m.group(2), int(m.group(3)), m.group(4) == m.group(5) and m.group(6) == m.group(7))
            for m in re.finditer(r"^(\d\d-[\w-]+)\s+(passed|failed)\s+(\d+)\s+[\d.]+\s+(\d+)/(\d+)\s+(\d+)/(\d+)$",
                                 ran.stdout, re.M)}
    # status, runs logged, and every check passed at full marks
    assert rows == {
        "01-tracking-server": ("passed", 1, True),
        "02-first-experiment": ("passed", 1, True),
        "03-query-runs": ("passed", 7, True),
        "04-sweep-compare": ("passed", 10, True),
        "05-plots-artifacts": ("passed", 1, True),
        "06-production-server": ("passed", 1, True),
        "07-mlflow-projects": ("passed", 3, True),
        "08-dvc-lineage": ("passed", 5, True),
        "09-signatures-registry": ("passed", 4, True),
        "10-quiz": ("passed", 1, True),
    }
    assert sorted(p.name for p in out.glob("*.ipynb")) == [f"{i}.ipynb" for i in rows]
    graded = run_cli("check", "02-first-experiment", "--tracking-uri", pg_stack.tracking_uri)
    assert graded.returncode == 0 and "score 14/14, 8/8 checks passed" in graded.stdout, graded.stdout

    # The metadata is in PostgreSQL's tables, read with SQL rather than through MLflow.
    with pg_stack.postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT e.name, count(r.run_uuid), min(r.artifact_uri) FROM experiments e "
                       "JOIN runs r ON r.experiment_id = e.experiment_id GROUP BY e.name")
        per_experiment = {name: (count, uri) for name, count, uri in cursor.fetchall()}
        cursor.execute("SELECT DISTINCT name FROM model_versions")
        registered = {name for (name,) in cursor.fetchall()}
    assert "iris-registry-classifier" in registered, "section 09 registers its model in PostgreSQL"
    assert set(per_experiment) >= {"smoke-test", "iris-classifier", "wine-sweep", "iris-artifacts"}, per_experiment
    assert all(uri.startswith("mlflow-artifacts:/") for _, uri in per_experiment.values()), per_experiment

    # The files are objects in the bucket: plots, models, the smoke test's text file.
    keys = pg_stack.s3.keys("artifacts/")
    for suffix in ("/confusion_matrix.png", "/MLmodel", "/hello.txt"):
        assert any(k.endswith(suffix) for k in keys), (suffix, keys[:20])
    # ...and nowhere on local disk: not beside the notebooks, not in the stack's folder outside the S3 data.
    assert sorted(p.name for p in (ROOT / "notebooks").iterdir()) == before
    local = [p for p in pg_stack.folder.rglob("confusion_matrix.png") if "s3data" not in p.parts]
    assert not local, local


@pytest.mark.slow
def test_the_lab04_solution_passes_the_grader_on_the_stack(pg_stack, tmp_path, monkeypatch):
    import papermill

    # A lab takes its server from MLFLOW_TRACKING_URI, as in JupyterLab on the team's server.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", pg_stack.tracking_uri)
    papermill.execute_notebook(str(ROOT / "solutions" / "lab04.ipynb"), str(tmp_path / "lab04.ipynb"),
                               cwd=str(tmp_path), progress_bar=False)
    graded = run_cli("check", "lab04", "--tracking-uri", pg_stack.tracking_uri, "--format", "json")
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-2000:]
    report = json.loads(graded.stdout)
    assert report["score"] == report["max_score"] and all(c["passed"] for c in report["checks"])
    # The truthfulness check re-scored the models it downloaded from the bucket, through the server.
    assert "truthful" in {c["id"] for c in report["checks"]}
