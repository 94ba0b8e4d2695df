"""A section notebook with a step removed fails exactly the checks that watch that step."""
from __future__ import annotations

import json

import nbformat
import pytest

from conftest import ROOT, run_cli
from course import authoring

# (section, the steps removed from its source, {check that must fail: words its message must contain}).
# Section 02 loses two independent steps in one run; each must fail its own check and nothing else.
# Section 08's digest is mutated in its exercise set instead (tests/exercises/ex08_dvc_lineage.py,
# "own-digest"), and the lineage kind against a real repository in test_reproducibility_kinds.py:
# a run of section 08 (DVC and git commands) costs as much as the other three together.
MUTATIONS = [
    ("02-first-experiment", ["        input_example=X_train.head(5),\n", '        "random_state": seed,\n'],
     {"signature": "model has no signature", "seed": "param random_state missing",
      # the next cell reads the signature and stops the notebook, so autologging never runs
      "autolog-params": "found no experiment", "autolog-metrics": "found no experiment"}),
    ("05-plots-artifacts", ['    mlflow.log_figure(fig, "confusion_matrix.png")\n'],
     {"confusion-matrix": "no artifact confusion_matrix.png",
      # the cell that shows the downloaded image stops the notebook before the growing forest
      "metric-history": "found none"}),
    ("09-signatures-registry",
     ['client.set_registered_model_alias(registered_model_name, "champion", best_version.version)\n'],
     {"registry": "best is logreg-C1.0"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("section, removed, failing", MUTATIONS,
                         ids=[f"{m[0][:2]}-without-{'-and-'.join(m[2])}" for m in MUTATIONS])
def test_removing_a_step_fails_the_matching_check(tmp_path, store, section, removed, failing):
    source = (ROOT / "notebooks" / "source" / f"{section}.py").read_text()
    for step in removed:
        assert source.count(step) == 1, "the step to remove is no longer in the source; update the mutation"
        source = source.replace(step, "")
    folder = tmp_path / "mutated"
    folder.mkdir()
    nbformat.write(authoring.to_notebook(source, section), folder / f"{section}.ipynb")

    ran = run_cli("run-course", "--notebooks", str(folder), "--tracking-uri", store,
                  "--out", str(tmp_path / "out"), "--no-progress")
    assert ran.returncode == 1, "run-course must fail when a check fails"
    assert all(f"{section} check {check_id}:" in ran.stdout for check_id in failing), ran.stdout[-2000:]

    graded = run_cli("check", section, "--tracking-uri", store, "--format", "json")
    assert graded.returncode == 1
    results = {c["id"]: c for c in json.loads(graded.stdout)["checks"]}
    assert {i for i, c in results.items() if not c["passed"]} == set(failing), "only the watched steps may fail"
    for check_id, words in failing.items():
        assert words in results[check_id]["message"]
        assert results[check_id]["hint"]
