"""Grade one target: run each of its checks against a tracking store and collect the results."""
from __future__ import annotations

import os

from grading.errors import UsageError, first_line
from grading.engine.expectations import Expectations
from grading.engine.kinds import KINDS, Outcome
from grading.engine.results import CheckResult, GradingResult
from grading.engine.store import Context, MissingExperiment, Store, Unreadable


def grade(expectations: Expectations, tracking_uri: str, prefix: str = "", only: list[str] | None = None,
          context: Context | None = None, options: set[str] = frozenset()) -> GradingResult:
    """Run the target's checks (or just the ids in `only`) against the store.

    `context` confines a submission's store to its own folder and says how to sandbox its models;
    `options` enables checks marked `when:` (e.g. "reproduce").
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a report, not a download screen
    from mlflow.exceptions import MlflowException

    store = Store(tracking_uri, expectations, prefix, context)
    result = GradingResult(expectations.target, expectations.title, tracking_uri)
    chosen = expectations.chosen(options)
    if only:
        ids = [c.id for c in chosen]
        unknown = [i for i in only if i not in ids]
        if unknown:
            raise UsageError(f"{expectations.target} has no check {', '.join(unknown)}; its checks: {', '.join(ids)}")
        chosen = [c for c in chosen if c.id in only]
    _predict_together(store, chosen)
    for check in chosen:
        try:
            outcome = KINDS[check.kind](store, check.spec)
        except MissingExperiment as exc:
            outcome = Outcome(False, "the experiment this check reads", str(exc))
        except MlflowException as exc:
            outcome = Outcome(False, check.description, f"the tracking store refused a query: {first_line(exc) or type(exc).__name__}")
        except Unreadable as exc:
            outcome = Outcome(False, check.description, str(exc))
        except Exception as exc:  # e.g. a database a submission crafted: this check fails, not the others
            outcome = Outcome(False, check.description, f"the check could not read the store ({type(exc).__name__}: {first_line(exc)})")
        message = "" if outcome.passed else check.message.format(expected=outcome.expected, found=outcome.found)
        result.checks.append(CheckResult(
            id=check.id, description=check.description, points=check.points,
            earned=check.points if outcome.passed else 0.0, passed=outcome.passed,
            message=message, hint="" if outcome.passed else check.hint, note=outcome.note,
        ))
        if outcome.note and outcome.note not in result.notes:
            result.notes.append(outcome.note)
    return result


def _predict_together(store: Store, chosen) -> None:
    """Every truthfulness check's models, predicted in one sandbox before the checks read them:
    one sandbox per check would import MLflow and scikit-learn once per check (~2.5 s each)."""
    from grading.engine import recompute
    from grading.engine.kinds import truth

    wanted = set().union(*(truth.wanted(store, c.spec) for c in chosen if c.kind == "recomputed_metric"))
    try:
        recompute.predict_all(store, wanted)
    except Exception:  # noqa: BLE001 - each check then tries its own models and reports what fails
        pass
