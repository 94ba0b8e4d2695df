"""The quiz gives nothing away: no option's length or wording points at the answer, and the key
is in no file a learner gets. The grader still scores it from salted digests."""
from __future__ import annotations

import hashlib
import re

import mlflow
import pytest
import yaml

from conftest import ROOT
from course import paths, tracking
from grading.engine import expectations, grader

SOURCE = ROOT / "notebooks" / "source" / "10-quiz.py"
KEY_FILE = ROOT / "grading" / "expectations" / "reference-parameters" / "10-quiz.yaml"
# What learners receive: the notebooks and labs, and the course code their kernels import.
LEARNER_FILES = [p for folder in ("notebooks", "labs", "course") for p in (ROOT / folder).rglob("*")
                 if p.is_file() and p.suffix in (".py", ".ipynb", ".yaml", ".yml", ".md", ".txt", ".json")]


def key() -> dict[str, str]:
    return yaml.safe_load(KEY_FILE.read_text())


def questions() -> dict[str, dict[str, str]]:
    """{"q1": {"a": "option text", ...}, ...} from the notebook's Markdown."""
    parts = re.split(r"^# \*\*(\d+)\.\*\*", SOURCE.read_text(), flags=re.M)[1:]
    return {f"q{parts[i]}": dict(re.findall(r"^# - ([a-d])\) (.*)$", parts[i + 1], flags=re.M))
            for i in range(0, len(parts), 2)}


def test_ten_questions_of_four_options_and_a_key_for_each():
    found = questions()
    assert list(found) == [f"q{n}" for n in range(1, 11)] and all(sorted(o) == list("abcd") for o in found.values())
    assert set(key()) == set(found) and set(key().values()) <= set("abcd")


def test_the_right_option_is_the_longest_in_at_most_four_questions():
    longest = [q for q, options in questions().items()
               if len(options[key()[q]]) >= max(len(text) for letter, text in options.items() if letter != key()[q])]
    assert len(longest) <= 4, f"the right option is the longest in {longest}"


def test_no_option_repeats_another_questions_right_answer():
    found, answers = questions(), key()
    for q, options in found.items():
        for other, other_options in found.items():
            if other != q:
                right = other_options[answers[other]]
                assert all(right not in text for text in options.values()), (q, other)


def test_the_key_is_in_no_file_a_learner_gets():
    answers = key()
    plain = [re.compile(rf"\b{q}\b\W{{1,6}}{a}\b") for q, a in answers.items()]
    # unsalted digests of "qN:x", as an older notebook kept them, would give the key away too
    digests = {hashlib.sha256(f"{q}:{a}".encode()).hexdigest()[:16] for q in answers for a in "abcd"}
    for path in LEARNER_FILES:
        text = path.read_text(errors="replace")
        matched = [p.pattern for p in plain if p.search(text)]
        assert len(matched) < 3, f"{path.relative_to(ROOT)} holds the key: {matched}"
        assert not any(d in text for d in digests), f"{path.relative_to(ROOT)} holds answer digests"


def test_the_expectations_hold_only_salted_digests():
    quiz = yaml.safe_load((expectations.FOLDER / "10-quiz.yaml").read_text())
    rules = [c["params"][c["id"]] for c in quiz["checks"] if c["id"] in key()]
    assert len(rules) == 10 and all(set(r) == {"salt", "sha256"} for r in rules)


@pytest.fixture(scope="module")
def answered(tmp_path_factory):
    uri = paths.sqlite_uri(tmp_path_factory.mktemp("quiz"))
    tracking.use_experiment("course-quiz", uri)
    wrong = {**key(), "q3": "a" if key()["q3"] != "a" else "b"}
    with mlflow.start_run(run_name="quiz-answers"):
        mlflow.log_params(wrong)
        mlflow.set_tag("purpose", "quiz")
    return uri


def test_the_grader_scores_answers_by_digest_and_a_wrong_one_does_not_reveal_the_right_one(answered):
    result = grader.grade(expectations.load("10-quiz"), answered)
    failed = [c for c in result.checks if not c.passed]
    assert [c.id for c in failed] == ["q3"] and result.score == result.max_score - 1
    assert f"param q3={key()['q3']}" not in failed[0].message and key()["q3"] + ")" not in failed[0].message
