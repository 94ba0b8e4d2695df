"""Each section's exercise set, autograded the way a class would hand it in.

For every set, one batch grades: the learner's copy as handed out; correct work written another
way; and one submission with a mistake in every exercise, each of which must lose exactly its own
exercise's checks. The learner's copy with the solution's cells typed into it is, cell for cell,
the solution's code, which nbval executes (`make test` runs solutions/ under nbval): its
self-check's full marks must come back on every run, so that execution serves both.
"""
from __future__ import annotations

import csv
import importlib.util
import json

import nbformat
import pytest

from conftest import ROOT, run_cli
from course import authoring
from grading.engine import expectations

# Each set's submissions are data in tests/exercises/<set id with underscores>.py: OTHER_STYLE,
# replacements that make the solution correct in another way, and MUTATIONS, one mistake each.
DATA = ROOT / "tests" / "exercises"


def submissions_for(set_id: str):
    spec = importlib.util.spec_from_file_location(set_id, DATA / f"{set_id.replace('-', '_')}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OTHER_STYLE, [(name, replacements, set(fails)) for name, replacements, fails in module.MUTATIONS]


SETS = sorted(p.stem for p in (ROOT / "labs" / "source").glob("ex[0-9][0-9]-*.py"))


def source_of(set_id: str):
    return ROOT / "labs" / "source" / f"{set_id}.py"


def solution_with(set_id: str, replacements) -> nbformat.NotebookNode:
    text = source_of(set_id).read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return authoring.to_notebook(text, set_id, variant="solution")


def filled_in(set_id: str) -> nbformat.NotebookNode:
    """The learner's copy with each exercise cell replaced by the solution's cell, as a learner types it."""
    lab = nbformat.read(ROOT / "labs" / f"{set_id}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{set_id}.ipynb", as_version=4)
    assert len(lab.cells) == len(solution.cells)
    for mine, answer in zip(lab.cells, solution.cells):
        if mine.cell_type == "code" and "# YOUR CODE HERE" in mine.source:
            mine.source = answer.source
    return lab


@pytest.fixture(scope="module", params=SETS)
def graded(request, tmp_path_factory):
    set_id = request.param
    root = tmp_path_factory.mktemp(set_id)
    subs, out = root / "submissions", root / "out"
    subs.mkdir()
    nbformat.write(nbformat.read(ROOT / "labs" / f"{set_id}.ipynb", as_version=4), subs / "handout.ipynb")
    other_style, mutations = submissions_for(set_id)
    nbformat.write(solution_with(set_id, other_style), subs / "otherstyle.ipynb")
    # One submission makes every set's mistakes at once, one per exercise: each must cost its own
    # exercise's checks and nothing more (a mistake that spilled into another exercise would show).
    nbformat.write(solution_with(set_id, [r for _, replacements, _ in mutations for r in replacements]),
                   subs / "mistakes.ipynb")
    done = run_cli("grade", "--lab", set_id, "--out", str(out), "--workers", "2", "--no-progress", str(subs))
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "gradebook.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    tests = {student: {t["name"].split(":")[0]: t for t in json.loads((out / student / "results.json").read_text())["tests"]}
             for student in rows}
    return set_id, rows, tests, expectations.load(set_id)


def failed(tests: dict) -> set[str]:
    return {check for check, t in tests.items() if t["score"] < t["max_score"]}


def exercise_checks(spec) -> set[str]:
    return {c.id for c in spec.checks if c.exercise}


@pytest.mark.slow
def test_every_section_has_two_graded_exercises(graded):
    _, _, _, spec = graded
    numbers = {c.description.split(":")[0] for c in spec.checks if c.id in exercise_checks(spec)}
    assert len(numbers) >= 2, numbers


@pytest.mark.parametrize("set_id", SETS)
def test_the_solution_typed_into_the_handout_is_the_solution_which_gets_full_marks(set_id):
    code = [cell.source for cell in filled_in(set_id).cells if cell.cell_type == "code"]
    solution = nbformat.read(ROOT / "solutions" / f"{set_id}.ipynb", as_version=4)
    assert code == [cell.source for cell in solution.cells if cell.cell_type == "code"]
    # nbval re-executes the solution and compares this output, so the full marks must come back.
    points = expectations.load(set_id).max_score
    last = [cell for cell in solution.cells if cell.cell_type == "code"][-1]
    shown = " ".join(str(output.get("data", {}).get("text/html", "")) for output in last.outputs)
    assert f"<strong>{set_id}</strong>: {points:g}/{points:g} points" in shown, shown[:300]


@pytest.mark.slow
def test_correct_work_in_another_style_gets_full_marks(graded):
    _, rows, tests, spec = graded
    assert float(rows["otherstyle"]["score"]) == spec.max_score, failed(tests["otherstyle"])


@pytest.mark.slow
def test_the_handout_fails_only_its_exercises_each_with_a_hint(graded):
    _, rows, tests, spec = graded
    handout = tests["handout"]
    assert rows["handout"]["status"] == "error" and "NotImplementedError" in rows["handout"]["message"]
    assert failed(handout) == exercise_checks(spec)
    hints = {c.id: c.hint for c in spec.checks}
    for check in exercise_checks(spec):
        assert hints[check].split()[0] in handout[check]["output"], check


@pytest.mark.slow
def test_each_mistake_loses_exactly_its_exercise(graded):
    set_id, rows, tests, spec = graded
    points = {c.id: c.points for c in spec.checks}
    mutations = submissions_for(set_id)[1]
    expected = [fails for _, _, fails in mutations]
    assert all(not (a & b) for i, a in enumerate(expected) for b in expected[i + 1:]), "one mistake per exercise"
    union = set().union(*expected)
    assert failed(tests["mistakes"]) == union, {c: tests["mistakes"][c]["output"] for c in failed(tests["mistakes"]) ^ union
                                                if c in tests["mistakes"]}
    assert float(rows["mistakes"]["score"]) == spec.max_score - sum(points[c] for c in union)
    exercises_hit = {spec_check.description.split(":")[0] for spec_check in spec.checks if spec_check.id in union}
    assert len(exercises_hit) == len(mutations), "each mistake belongs to a different exercise"
