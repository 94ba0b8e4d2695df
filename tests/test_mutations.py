"""A section notebook with one step removed fails exactly the check that watches that step."""
from __future__ import annotations

import json

import nbformat
import pytest

from conftest import ROOT, run_cli
from course import authoring

# (section, the step removed from its source, the check that must fail, words its message must contain)
MUTATIONS = [
    ("02-first-experiment", "        input_example=X_train.head(5),\n", "signature", "model has no signature"),
    ("02-first-experiment", '        "random_state": seed,\n', "seed", "param random_state missing"),
    ("03-query-runs", '        mlflow.log_metric("accuracy", accuracy)\n', "metrics", "metric accuracy missing"),
    ("04-sweep-compare", 'client.set_tag(best["run_id"], "best_in_sweep", "true")\n', "best-tag", "a finished run"),
    ("05-plots-artifacts", '    mlflow.log_figure(fig, "confusion_matrix.png")\n', "confusion-matrix",
     "no artifact confusion_matrix.png"),
    ("08-dvc-lineage", "digest=version, ", "lineage", "no dataset input with digest"),
    ("09-signatures-registry", 'client.set_registered_model_alias(registered_model_name, "champion", best_version.version)\n',
     "registry", "best is logreg-C1.0"),
]


@pytest.mark.slow
@pytest.mark.parametrize("section, removed, check_id, words", MUTATIONS,
                         ids=[f"{m[0][:2]}-without-{m[2]}" for m in MUTATIONS])
def test_removing_a_step_fails_the_matching_check(tmp_path, store, section, removed, check_id, words):
    source = (ROOT / "notebooks" / "source" / f"{section}.py").read_text()
    assert source.count(removed) == 1, "the step to remove is no longer in the source; update the mutation"
    folder = tmp_path / "mutated"
    folder.mkdir()
    nbformat.write(authoring.to_notebook(source.replace(removed, ""), section), folder / f"{section}.ipynb")

    ran = run_cli("run-course", "--notebooks", str(folder), "--tracking-uri", store,
                  "--out", str(tmp_path / "out"), "--no-progress")
    assert ran.returncode == 1, "run-course must fail when a check fails"
    assert f"{section} check {check_id}:" in ran.stdout

    graded = run_cli("check", section, "--tracking-uri", store, "--format", "json")
    assert graded.returncode == 1
    results = {c["id"]: c for c in json.loads(graded.stdout)["checks"]}
    assert not results[check_id]["passed"]
    assert words in results[check_id]["message"]
    assert results[check_id]["hint"]
    assert results["experiment"]["passed"], "only the watched step was removed"
