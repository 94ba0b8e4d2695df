"""Command line: ``python -m grading <command>``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course import paths
from grading.engine import render
from course.errors import CourseError

DEFAULT_OUT = paths.BUILD / "run-course"
TOOLS = """four tools, one folder each under grading/:
  the check engine  check, list    grading/engine      expectations -> checks -> results
  run-course        run-course     grading/run_course  notebooks -> papermill -> MLflow -> checks
  the autograder    grade(-one)    grading/autograde   submissions -> sandbox -> checks -> results.json
  the doctor        doctor         grading/doctor      why MLflow shows nothing"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grading",
        description="Run the course's notebooks into MLflow and check what they logged.",
        epilog=TOOLS, formatter_class=argparse.RawDescriptionHelpFormatter,
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
    run.add_argument("--no-exercises", action="store_true",
                     help="run the sections only, without each one's exercise set")
    run.add_argument(
        "--learner", action="store_true",
        help="run the learner's copies from labs/ instead: each must stop at its first exercise with only "
        "exercise checks failing (exit 0 when every hand-out is sound)",
    )
    run.set_defaults(handler=_tool('grading.run_course.command', 'run_course'))

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
    check.add_argument("--learner", default=None, metavar="NAME",
                       help="whose names to check: NAME- starts every experiment and registered model name "
                       "(default: $COURSE_LEARNER, else the MLflow username the client sends; none on a laptop)")
    check.add_argument("--experiment-prefix", default=None, metavar="P",
                       help="a literal prefix of every experiment and registered model name, instead of --learner")
    check.add_argument("--only", action="append", metavar="CHECK", help="run just this check id; repeat for several")
    check.add_argument("--reproduce", action="store_true",
                       help="also re-run what the target can reproduce (e.g. an MLflow project) in a scratch store and compare")
    check.add_argument("--format", choices=sorted(render.FORMATS), default="text", help="output format (default: text)")
    check.add_argument("--out", type=Path, default=None, metavar="FILE", help="write the report here instead of stdout")
    check.set_defaults(handler=_tool('grading.engine.command', 'check'))

    grade = commands.add_parser(
        "grade",
        help="autograde a batch of lab submissions, each in a sandbox with its own store",
        description="Execute each submission in a sandbox against a fresh tracking store, grade what it "
        "logged, and write results.json, feedback.md and executed.ipynb per student plus gradebook.csv. "
        "Exit 0 when the batch completed, whatever the scores.",
    )
    _lab_and_limits(grade)
    grade.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the results")
    grade.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: cores)")
    grade.add_argument("--force", action="store_true", help="grade again students who already have results")
    grade.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="notebook files, or folders of them")
    grade.set_defaults(handler=_tool('grading.autograde.command', 'grade'))

    klass = commands.add_parser(
        "grade-class",
        help="grade every learner's work on a class server, from the server (read-only)",
        description="Grade each learner's namespace on a shared tracking server (alice's lab04 is alice-lab04) "
        "with the admin login from the environment, as MLflow's client reads it. Writes results.json and "
        "feedback.md per learner, gradebook.csv and class-report.html. A learner with nothing logged gets 0.",
    )
    klass.add_argument("--lab", required=True, help="the lab or exercise set (python -m grading list names them)")
    klass.add_argument("--tracking-uri", required=True, metavar="URL", help="the class server, http(s)://HOST:PORT")
    klass.add_argument("--learners", type=Path, default=None, metavar="CSV",
                       help="the username,password CSV of course.accounts (passwords unused); default: every "
                       "account on the server that is not an admin")
    klass.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the results")
    klass.set_defaults(handler=_tool('grading.grade_class.command', 'grade_class'))

    one = commands.add_parser(
        "grade-one",
        help="autograde one upload (Gradescope's entry point): its one notebook, one results.json",
        description="Grade the single notebook of an upload (a file, or a folder holding one .ipynb) exactly as "
        "`grade` does, and write Gradescope's results.json to --results. An upload without exactly one "
        "notebook still gets a results file saying so, and exit 2.",
    )
    _lab_and_limits(one)
    one.add_argument("--submission", type=Path, required=True, metavar="PATH", help="the upload: a notebook or a folder")
    one.add_argument("--results", type=Path, required=True, metavar="FILE", help="where results.json goes")
    one.add_argument("--feedback", type=Path, default=None, metavar="FILE", help="also write the Markdown feedback here")
    one.set_defaults(handler=_tool('grading.autograde.command', 'grade_one'))

    doctor = commands.add_parser(
        "doctor",
        help="find out why MLflow shows nothing: URI, server, store, migrations, artifacts, drivers",
        description="Check the usual reasons MLflow shows no runs, one line each with a fix. "
        "Exit 0 when nothing is wrong, 1 when a problem is found, 2 on bad input.",
    )
    doctor.add_argument("--tracking-uri", default=None,
                        help="the store to examine (default: $MLFLOW_TRACKING_URI, else MLflow's own default)")
    doctor.add_argument("--experiment", default=None, metavar="NAME", help="an experiment that should exist")
    doctor.set_defaults(handler=_tool('grading.doctor.command', 'doctor'))

    listing = commands.add_parser("list", help="list the sections and labs with their checks and points")
    listing.add_argument("--expectations", type=Path, default=None, metavar="DIR", help=argparse.SUPPRESS)  # tests
    listing.set_defaults(handler=_tool('grading.engine.command', 'list_targets'))
    return parser


def _lab_and_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lab", required=True, help="the lab to grade against (python -m grading list names them)")
    parser.add_argument("--timeout", type=float, default=600, metavar="SECONDS", help="per notebook, and per cell (default 600)")
    parser.add_argument("--memory-mb", type=int, default=4096, metavar="MB",
                        help="memory limit per submission, tmpfs included (default 4096)")
    parser.add_argument("--disk-mb", type=int, default=1024, metavar="MB", help="workspace size per submission (default 1024)")
    parser.add_argument("--output-mb", type=int, default=5, metavar="MB",
                        help="output a notebook may print before the rest is dropped (default 5)")


def _tool(module: str, function: str):
    """A command's handler, imported when it runs: `--help` and bad arguments stay fast."""
    def handler(args):
        import importlib

        return getattr(importlib.import_module(module), function)(args)
    return handler


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # the report, not MLflow's start-up chatter
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # a grader makes no calls it does not need
    try:
        return args.handler(args)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        kept = "finished results are kept; run the same command to grade the rest" if args.command == "grade" \
            else "executed notebooks so far are kept"
        print(f"interrupted; {kept}", file=sys.stderr)
        return 130
