"""Command line: ``python -m grading <command>``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course import paths
from grading import render
from grading.errors import UsageError

DEFAULT_OUT = paths.BUILD / "run-course"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grading",
        description="Run the course's notebooks into MLflow and check what they logged.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run-course",
        help="execute every section notebook in order with papermill into one tracking store",
        description="Execute the section notebooks in order with papermill, each logging into one "
        "tracking store, and print a summary table. Exit 0 when all pass, 1 when any fails, "
        "2 on bad input or an unreachable store.",
    )
    run.add_argument(
        "--tracking-uri",
        default=None,
        help=f"where the runs go (default: the course's SQLite store, {paths.sqlite_uri(paths.default_store_dir())})",
    )
    run.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for executed notebooks (default: {DEFAULT_OUT})")
    run.add_argument(
        "--only", action="append", metavar="SECTION", help="run just this section id; repeat for several"
    )
    run.add_argument(
        "--notebooks", type=Path, default=paths.NOTEBOOKS, metavar="DIR",
        help="folder of section notebooks named NN-name.ipynb (default: the course's notebooks/)",
    )
    run.add_argument("--no-progress", action="store_true", help="hide papermill's progress bars")
    run.set_defaults(handler=_run_course)

    check = commands.add_parser(
        "check",
        help="check what a section or lab logged to a tracking store",
        description="Check a target's expectations against a tracking store. Exit 0 when every check "
        "passes, 1 when any fails, 2 on bad input or an unreachable store.",
    )
    check.add_argument("target", help="a section or lab id; `python -m grading list` shows them")
    check.add_argument(
        "--tracking-uri", default=None,
        help="the store to read (default: $MLFLOW_TRACKING_URI, else the course's SQLite store)",
    )
    check.add_argument("--experiment-prefix", default="", metavar="P",
                       help="prefix of the experiment names, e.g. a learner's id")
    check.add_argument("--only", action="append", metavar="CHECK", help="run just this check id; repeat for several")
    check.add_argument("--reproduce", action="store_true",
                       help="also re-run what the target can reproduce (e.g. an MLflow project) in a scratch store and compare")
    check.add_argument("--format", choices=sorted(render.FORMATS), default="text", help="output format (default: text)")
    check.add_argument("--out", type=Path, default=None, metavar="FILE", help="write the report here instead of stdout")
    check.set_defaults(handler=_check)

    grade = commands.add_parser(
        "grade",
        help="autograde a batch of lab submissions, each in a sandbox with its own store",
        description="Execute each submission in a sandbox against a fresh tracking store, grade what it "
        "logged, and write results.json, feedback.md and executed.ipynb per student plus gradebook.csv. "
        "Exit 0 when the batch completed, whatever the scores.",
    )
    grade.add_argument("--lab", required=True, help="the lab to grade against (python -m grading list names them)")
    grade.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the results")
    grade.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: cores)")
    grade.add_argument("--timeout", type=float, default=600, metavar="SECONDS", help="per notebook, and per cell (default 600)")
    grade.add_argument("--memory-mb", type=int, default=4096, metavar="MB",
                       help="memory limit per submission, tmpfs included (default 4096)")
    grade.add_argument("--disk-mb", type=int, default=1024, metavar="MB", help="workspace size per submission (default 1024)")
    grade.add_argument("--output-mb", type=int, default=5, metavar="MB",
                       help="output a notebook may print before the rest is dropped (default 5)")
    grade.add_argument("--force", action="store_true", help="grade again students who already have results")
    grade.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="notebook files, or folders of them")
    grade.set_defaults(handler=_grade)

    doctor = commands.add_parser(
        "doctor",
        help="find out why MLflow shows nothing: URI, server, store, migrations, artifacts, drivers",
        description="Check the usual reasons MLflow shows no runs, one line each with a fix. "
        "Exit 0 when nothing is wrong, 1 when a problem is found, 2 on bad input.",
    )
    doctor.add_argument("--tracking-uri", default=None,
                        help="the store to examine (default: $MLFLOW_TRACKING_URI, else MLflow's own default)")
    doctor.add_argument("--experiment", default=None, metavar="NAME", help="an experiment that should exist")
    doctor.set_defaults(handler=_doctor)

    listing = commands.add_parser("list", help="list the sections and labs with their checks and points")
    listing.add_argument("--expectations", type=Path, default=None, metavar="DIR", help=argparse.SUPPRESS)  # tests
    listing.set_defaults(handler=_list)
    return parser


def _run_course(args) -> int:
    from grading import reachability, runner, sections, summary

    if not args.notebooks.is_dir():
        raise UsageError(f"{args.notebooks} is not a folder; pass --notebooks with the folder of section notebooks")
    selected = sections.select(args.only, args.notebooks.resolve())
    if not selected:
        raise UsageError(f"no section notebooks (NN-name.ipynb) found in {args.notebooks}")
    for section in selected:  # every notebook must be usable before any of them runs
        if "tracking_uri" not in sections.parameter_defaults(section):
            raise UsageError(
                f"{section.notebook} has no tracking_uri parameter, so its runs would go to MLflow's default store; "
                'add `tracking_uri: str = ""  # tracking URI` to its parameters cell'
            )
    uri = args.tracking_uri or paths.sqlite_uri(paths.default_store_dir())
    reachability.ensure_reachable(uri)
    out_dir = args.out.resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {out_dir}: {exc.strerror}") from None

    print(f"Tracking store: {uri}")
    print(f"Executed notebooks go to: {out_dir}")
    results = []
    for section in selected:
        print(f"\n== {section.id}", flush=True)
        if runner.served_by(section) == "production-stack":
            results.append(runner.run_on_production_stack(section, out_dir, progress=not args.no_progress))
        else:
            results.append(runner.run_section(section, uri, out_dir, progress=not args.no_progress))
        summary.write_json(results, uri, out_dir / "summary.json")
    print()
    print(summary.table(results))
    return 0 if all(r.ok for r in results) else 1


def _check(args) -> int:
    import time

    from course.tracking import resolve_uri
    from grading import expectations, grader, reachability, readonly

    spec = expectations.load(args.target)
    uri = args.tracking_uri or resolve_uri("")[0]
    if uri.startswith("sqlite:"):  # check only reads; MLflow would create or migrate a database
        readonly.protect(readonly.require_store(uri))
        reachability.probe_store(uri)
    else:
        reachability.ensure_reachable(uri)
    started = time.perf_counter()
    options = {"reproduce"} if args.reproduce else set()
    result = grader.grade(spec, uri, args.experiment_prefix, only=args.only, options=options)
    elapsed = time.perf_counter() - started
    renderer = render.FORMATS[args.format]
    report = renderer(result, execution_time=elapsed) if args.format == "gradescope" else renderer(result)
    if args.out:
        _write_atomically(args.out, report)
        passed, total = result.counts
        print(f"{args.target}: {passed}/{total} checks passed; report written to {args.out}")
    else:
        print(report)
    return 0 if result.passed else 1


def _grade(args) -> int:
    from grading import autograde, expectations

    from grading.kinds import HOST_EFFECTS

    spec = expectations.load(args.lab)  # an unknown lab is a usage error before anything runs
    unsafe = [c for c in spec.chosen() if c.kind in HOST_EFFECTS]
    if unsafe:
        raise UsageError(f"{args.lab} cannot be autograded: its check {unsafe[0].id!r} ({unsafe[0].kind}) acts on the "
                         "host from what a submission's store names; run `python -m grading check` on a learner's store")
    limits = autograde.Limits(timeout=args.timeout, memory_mb=args.memory_mb, disk_mb=args.disk_mb,
                              output_mb=args.output_mb)
    problem = limits.problem() or ("--workers must be between 1 and 64" if not 1 <= args.workers <= 64 else None)
    if problem:
        raise UsageError(problem)
    submissions = autograde.discover(args.submissions)
    from grading import sandbox

    lines, problem = sandbox.guarantees()
    if problem:
        raise UsageError(problem)
    print("; ".join(lines), flush=True)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {args.out}: {exc.strerror}") from None
    skipped = [] if args.force else [s.student for s in submissions if autograde.already_graded(args.out, s)]
    rows = autograde.grade_batch(args.lab, submissions, args.out.resolve(), args.workers, limits,
                                 force=args.force, progress=not args.no_progress)
    by_student = {r.student: r for r in rows}
    for submission in submissions:
        row = by_student.get(submission.student)
        if row:
            print(f"{row.student:<24} {row.score:>5g}/{row.max_score:<5g} {row.status:<8} {row.message}")
    if skipped:
        print(f"kept the earlier results of {len(skipped)} already graded ({', '.join(skipped[:5])}"
              f"{', ...' if len(skipped) > 5 else ''}); --force grades them again")
    print(f"gradebook: {args.out / 'gradebook.csv'}")
    return 0


def _write_atomically(path: Path, text: str) -> None:
    from grading import atomic

    try:
        atomic.write_text(path, text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _doctor(args) -> int:
    from grading import doctor

    return doctor.main(args.tracking_uri, args.experiment)


def _list(args) -> int:
    from grading import expectations

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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # the report, not MLflow's start-up chatter
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # a grader makes no calls it does not need
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        kept = "finished results are kept; run the same command to grade the rest" if args.command == "grade" \
            else "executed notebooks so far are kept"
        print(f"interrupted; {kept}", file=sys.stderr)
        return 130
