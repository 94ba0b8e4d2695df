"""`python -m grading grade-class --lab LAB --tracking-uri URL [--learners CSV] --out DIR`.

Each learner's work is found under their own names (course.learner: `alice-lab04`, ...), read
with the admin's login (MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or
~/.mlflow/credentials, as MLflow's client reads them). It only reads: queries, and copies of
models to recompute their metrics in the sandbox. Per learner it writes what `grade` writes
(results.json, feedback.md, a gradebook row), and once for the class, class-report.html.

Only a class server is graded (course.class_server: a name is its owner's, and a run's user is the
account that made it). A learner's runs are the ones they made, and only files behind the server's
artifact proxy are read: a local path would be read by the grader, as root.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict

from course import accounts, learner, uris
from grading import atomic, reachability, sandbox, zygote
from grading.autograde import batch
from grading.engine import expectations, render
from grading.engine.kinds import HOST_EFFECTS
from grading.engine.store import Context
from grading.errors import UsageError
from grading.grade_class import report, roster



def grade_class(args) -> int:
    spec = expectations.load(args.lab)
    unsafe = [c for c in spec.chosen() if c.kind in HOST_EFFECTS]
    if unsafe:
        raise UsageError(f"{args.lab} cannot be graded from the server: its check {unsafe[0].id!r} ({unsafe[0].kind}) "
                         "acts on the learner's machine; run `python -m grading check` there")
    if spec.served_by == "own-server":
        raise UsageError(f"{args.lab} is logged to a server each learner starts, on a store of their own that the class "
                         f"server does not hold; grade the handed-in notebooks with `python -m grading grade --lab {args.lab}`")
    uri = args.tracking_uri
    if not uri or not uris.is_server(uri):
        raise UsageError("--tracking-uri must be the class server's http(s):// address")
    reachability.ensure_reachable(uri)  # a dead server or a wrong admin password: one line
    if not accounts.is_class_server(uri):
        raise UsageError(f"{uri} is not a class server (`mlflow server --app-name {accounts.CLASS_APP}`, "
                         "docs/accounts.md); on another server a learner can make runs and names in another's name")
    admin = reachability._credentials()
    if not all(admin):
        raise UsageError("set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to the server's admin account")
    names = roster.learners(uri, args.learners, admin)
    if not names:
        raise UsageError(f"no learners to grade: {uri} has no account but admins; pass --learners CSV")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {args.out}: {exc.strerror}") from None
    results = {}
    loader = zygote.start()  # one warm model loader for the class; None where it cannot run
    try:
        for name in names:
            started = time.perf_counter()
            with sandbox.identity() as uid:  # each learner's models load under a uid of their own
                context = Context(sandbox_uid=uid, sandbox_limits=sandbox.Limits(timeout=300), zygote=loader,
                                  owner=name, served_only=True)
                results[name] = grade_learner(spec, uri, name, context)
            write_learner(args.out, name, results[name], time.perf_counter() - started)
            result = results[name]
            print(f"{name:<24} {result.score:>5g}/{result.max_score:<5g} "
                  f"{'nothing logged' if report.nothing_logged(result) else ''}", flush=True)
    finally:
        zygote.stop()
    rows = batch.write_gradebook(args.out)
    atomic.write_text(args.out / "class-report.html", report.html(spec, results))
    print(f"gradebook: {args.out / 'gradebook.csv'}  ({len(rows)} learners)")
    print(f"class report: {args.out / 'class-report.html'}")
    return 0


def grade_learner(spec, uri: str, name: str, context: Context | None = None):
    from grading.engine import grader
    from grading.engine.store import Store

    prefix = learner.prefix(name)
    probe = Store(uri, spec, prefix)
    if not any(probe.experiment(key) is not None for key in spec.experiments):
        return batch._nothing_earned(spec, report.NOTHING_LOGGED)
    return grader.grade(spec, uri, prefix, context=context)


def write_learner(out, name: str, result, seconds: float) -> None:
    student = batch.student_id(name)
    target = out / student
    target.mkdir(parents=True, exist_ok=True)
    status = {"status": "completed"}
    atomic.write_text(target / "results.json", render.gradescope(result, execution_time=seconds))
    atomic.write_text(target / "feedback.md", batch.feedback(result, status))
    row = batch.Row(student, result.score, result.max_score, "nothing logged" if report.nothing_logged(result) else "graded", "",
                    name)
    atomic.write_text(target / "grading.json", json.dumps(asdict(row)))
