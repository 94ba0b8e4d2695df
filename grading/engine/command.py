"""`python -m grading check` and `list`: one target's checks against a store, and every target's checks."""
from __future__ import annotations

import sys
from pathlib import Path

from grading.engine import render
from grading.errors import UsageError


def check(args) -> int:
    import time

    from course import uris
    from course.tracking import resolve_uri
    from grading.engine import expectations, grader, readonly
    from grading import reachability

    uri = args.tracking_uri or resolve_uri("")[0]
    if uris.is_server(uri):  # before the expectations, whose parsing imports MLflow: a dead server fails fast
        reachability.ensure_reachable(uri)
    spec = expectations.load(args.target, filters=False)  # parsing the filters imports MLflow: a bad store fails first
    if uris.scheme(uri) == "sqlite":  # check only reads; MLflow would create or migrate a database
        readonly.protect(readonly.require_store(uri))
    expectations.check_filters(spec)
    if uris.scheme(uri) == "sqlite":
        reachability.probe_store(uri)
    elif not uris.is_server(uri):
        reachability.ensure_reachable(uri)
    started = time.perf_counter()
    options = {"reproduce"} if args.reproduce else set()
    result = grader.grade(spec, uri, names_prefix(args), only=args.only, options=options)
    elapsed = time.perf_counter() - started
    renderer = render.FORMATS[args.format]
    report = renderer(result, execution_time=elapsed) if args.format == "gradescope" else renderer(result)
    if args.out:
        write_atomically(args.out, report)
        passed, total = result.counts
        print(f"{args.target}: {passed}/{total} checks passed; report written to {args.out}")
    else:
        print(report)
    return 0 if result.passed else 1


def names_prefix(args) -> str:
    """What the learner's names start with: the notebooks name things through course.learner too."""
    from course import learner

    if args.experiment_prefix is not None:
        return args.experiment_prefix
    return learner.prefix(args.learner)


def write_atomically(path: Path, text: str) -> None:
    from grading import atomic

    try:
        atomic.write_text(path, text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def list_targets(args) -> int:
    from grading.engine import expectations

    folder = args.expectations or expectations.FOLDER
    problems = []
    for target in expectations.targets(folder):
        try:
            spec = expectations.load(target, folder)
        except UsageError as exc:  # one bad file must not hide the others
            problems.append(str(exc))
            continue
        print(f"{target}  {spec.title}  ({spec.max_score:g} points)")
        for check in spec.checks:
            when = f"  (with --{check.when})" if check.when else ""
            print(f"  {check.id:<22} {check.points:>3g}  {check.description}{when}")
    sys.stdout.flush()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 2 if problems else 0
