"""Labs: one source makes the learner's copy and the solution, and both are committed up to date."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course import authoring

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "labs" / "source").glob("*.py"))


def cells(nb):
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_lab_and_solution_match_their_one_source(source):
    for variant, folder in (("lab", "labs"), ("solution", "solutions")):
        committed = nbformat.read(ROOT / folder / f"{source.stem}.ipynb", as_version=4)
        assert cells(committed) == cells(authoring.load_source(source, variant)), (
            f"{folder}/{source.stem}.ipynb is out of date with {source.relative_to(ROOT)}: run `make notebooks`")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_learner_copy_has_exercises_and_no_solution_or_outputs(source):
    lab = nbformat.read(ROOT / "labs" / f"{source.stem}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{source.stem}.ipynb", as_version=4)
    lab_code = "\n".join(c.source for c in lab.cells if c.cell_type == "code")
    assert lab_code.count("# YOUR CODE HERE") >= 2
    assert "BEGIN SOLUTION" not in lab_code and "BEGIN SOLUTION" not in "\n".join(c.source for c in solution.cells)
    assert "mlflow.register_model" not in lab_code, "the learner's copy gives the answer away"
    assert all(not c.get("outputs") for c in lab.cells if c.cell_type == "code")
    assert re.search(rf'check\("{source.stem}"\)\s*$', lab.cells[-1].source), "a lab ends with its full self-check"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_solution_earns_full_marks(source):
    solution = nbformat.read(ROOT / "solutions" / f"{source.stem}.ipynb", as_version=4)
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in solution.cells[-1].outputs)
    assert re.search(r"score (\d+)/\1, (\d+)/\2 checks passed", shown), shown


def test_solution_markers_must_pair():
    with pytest.raises(authoring.SourceError, match="never closed"):
        authoring.strip_solutions("### BEGIN SOLUTION\nx = 1\n", "lab")
    with pytest.raises(authoring.SourceError, match="without"):
        authoring.strip_solutions("x = 1\n### END SOLUTION\n", "lab")
    assert authoring.strip_solutions("a\n    ### BEGIN SOLUTION\n    b\n    ### END SOLUTION\n", "lab") == (
        'a\n    # YOUR CODE HERE\n    raise NotImplementedError("fill in this cell")')
