"""class-report.html from results alone: the heatmap, the pass rates, the hints ranked, all escaped."""
from __future__ import annotations

from grading.engine import expectations
from grading.engine.results import CheckResult, GradingResult
from grading.grade_class import report


def result(spec, failing: dict[str, float], message: str = "missing") -> GradingResult:
    """spec's checks, each passed unless named in failing (id -> points earned)."""
    graded = GradingResult(spec.target, spec.title, "http://server")
    for c in spec.chosen():
        earned = failing.get(c.id, c.points)
        graded.checks.append(CheckResult(c.id, c.description, c.points, earned, c.id not in failing,
                                         "" if c.id not in failing else message, c.hint))
    return graded


def test_the_report_ranks_hints_by_learners_and_escapes_what_learners_wrote():
    spec = expectations.load("lab04")
    results = {
        "alice": result(spec, {}),
        "bob": result(spec, {"registry": 0, "truthful": 0}),
        "<script>alert(1)</script>": result(spec, {"registry": 0}, message="<img src=x onerror=alert(1)>"),
        "dora": result(spec, {c.id: 0 for c in spec.chosen()}, message=f"not graded: {report.NOTHING_LOGGED}"),
    }
    page = report.html(spec, results)
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "4 learners" in page and "1 with full marks · 1 logged nothing" in page
    hints = page[page.index("<ol>"):page.index("</ol>")]
    # registry is needed by two of the three who logged something, truthful by one; dora is not counted.
    assert hints.index("<em>registry</em>") < hints.index("<em>truthful</em>")
    assert "<strong>2 of 3</strong> need <em>registry</em>" in hints
    assert page.index(">alice<") < page.index(">bob<") < page.index(">dora<")  # best first
