"""Grade one submission's private store copy in a child process of the grader.

``python -m grading.autograde.grade_store LAB STORE_URI COPY SEEN_AS [--uid N] --memory-mb MB --pids N --disk-mb MB
[--zygote SOCKET]``

The database was written by the submission: a query over it may be slow or large, so the
autograder runs this under a memory cgroup and a deadline (grading.autograde.batch), and a store
that exhausts them costs its own submission alone. Prints the GradingResult as one JSON line.
The batch calls main() in a child of a warm process that imported all this once (grading.prewarmed:
the zygote, or a forkserver); the command line does the same in a new interpreter.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def warm_up() -> None:
    """What grading a store imports, loaded once in the warm process (grading.prewarmed)."""
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    import mlflow.tracking  # noqa: F401
    import mlflow.utils.search_utils  # noqa: F401

    from grading.engine import expectations, grader, readonly, recompute  # noqa: F401
    from grading.engine.kinds import truth  # noqa: F401
    from grading import sandbox

    recompute.warm_up()  # scikit-learn's metrics and every lab's labels: 1.2 s a child would pay
    readonly.remember_schema_head()  # MLflow parses its migration scripts on every store it opens
    sandbox.runtime()  # copied here once: a forked child exits without atexit and would leave its copy


if __name__ != "__main__":  # imported: by the warm process's preload, or by the batch
    warm_up()


def prepare(argv: list[str]) -> int:
    """Once per batch, in a forked child: the lab's run filters parsed by MLflow, and the empty
    store template built if this install has none yet. The batch's own process never imports
    MLflow (about 1 s of CPU and 60 MB it would spend a second time, after the warm process).
    Prints {"problem": the one-line error or null}."""
    from course import store_template
    from grading.engine import expectations
    from grading.errors import UsageError

    try:
        expectations.check_filters(expectations.load(argv[0], filters=False))
    except UsageError as exc:
        print(json.dumps({"problem": str(exc)}))
        return 0
    store_template.template()
    print(json.dumps({"problem": None}))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grading.autograde.grade_store")
    parser.add_argument("lab")
    parser.add_argument("uri")
    parser.add_argument("copy", help="the private copy: every location the database names must be inside it")
    parser.add_argument("seen_as", help="where the sandbox saw that folder, as the database names it")
    parser.add_argument("--uid", type=int, default=None, help="the sandbox uid for loading its models")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--pids", type=int, required=True)
    parser.add_argument("--disk-mb", type=int, required=True)
    parser.add_argument("--zygote", default=None, help="the socket of the batch's model loader (grading.zygote)")
    args = parser.parse_args(argv)

    from pathlib import Path

    from course import uris
    from grading.engine import expectations, grader, readonly, recompute
    from grading import sandbox
    from grading.engine.store import Context

    started = time.perf_counter()
    problem = readonly.store_problem(uris.sqlite_file(args.uri), args.uri)
    schema = {"checking the store's schema": round(time.perf_counter() - started, 4)}
    if problem:  # MLflow would migrate or repair what it opens: the batch gives nothing for it
        print(json.dumps({"phases": schema}))
        print(json.dumps({"refused": True}))  # the batch's feedback names the cause, not the grader's paths
        return 0
    readonly.protect(uris.sqlite_file(args.uri))
    limits = sandbox.Limits(memory_mb=args.memory_mb, pids=args.pids, disk_mb=args.disk_mb)
    context = Context(confine=Path(args.copy), relocate=(args.seen_as, args.copy), sandbox_uid=args.uid,
                      sandbox_limits=limits, zygote=args.zygote)
    started = time.perf_counter()
    result = grader.grade(expectations.load(args.lab), args.uri, context=context)
    spent = {**schema, **{name: round(seconds, 4) for name, seconds in recompute.SECONDS.items()}}
    spent["store queries and checks"] = round(time.perf_counter() - started - sum(recompute.SECONDS.values()), 4)
    for check in result.checks:  # the student knows the folder as the sandbox showed it, not the grader's copy
        check.message = check.message.replace(args.copy, args.seen_as)
    result.notes = [note.replace(args.copy, args.seen_as) for note in result.notes]
    print(json.dumps({"phases": spent}))  # the line before the result: grading.autograde.batch reads both
    print(json.dumps(result.as_dict()))
    return 0


if __name__ == "__main__":
    from course.quick_exit import run

    run(lambda: main(sys.argv[1:]))  # without the interpreter's teardown
