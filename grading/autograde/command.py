"""`python -m grading grade` (a batch) and `grade-one` (Gradescope's one upload): each submission
is executed in a sandbox on a fresh store and graded through the same batch code."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from grading import atomic, sandbox
from grading.autograde import batch
from grading.engine import expectations
from grading.engine.kinds import HOST_EFFECTS
from grading.errors import UsageError


def check_options(lab: str, limits: batch.Limits, workers: int = 1) -> None:
    """The mistakes found without MLflow: an unknown lab, bad limits. They are reported before the
    batch's warm processes start, which import MLflow and scikit-learn (~4 CPU-s)."""
    if lab not in expectations.targets():
        expectations.load(lab)  # its one-line error names the valid targets
    problem = limits.problem() or ("--workers must be between 1 and 64" if not 1 <= workers <= 64 else None)
    if problem:
        raise UsageError(problem)


def prepare(lab: str, limits: batch.Limits, workers: int = 1) -> None:
    """What must hold before any submission runs: a lab the sandbox can grade, sane limits."""
    check_options(lab, limits, workers)
    refuse_host_effects(lab)


def refuse_host_effects(lab: str) -> None:
    spec = expectations.load(lab, filters=False)  # the batch's warm-up checks the filters
    unsafe = [c for c in spec.chosen() if c.kind in HOST_EFFECTS]
    if unsafe:
        raise UsageError(f"{lab} cannot be autograded: its check {unsafe[0].id!r} ({unsafe[0].kind}) acts on the "
                         "host from what a submission's store names; run `python -m grading check` on a learner's store")


def limits_of(args) -> batch.Limits:
    return batch.Limits(timeout=args.timeout, memory_mb=args.memory_mb, disk_mb=args.disk_mb, output_mb=args.output_mb)


def sandbox_ready() -> None:
    lines, problem = sandbox.guarantees()
    if problem:
        raise UsageError(problem)
    print("; ".join(lines), flush=True)


def grade(args) -> int:
    limits = limits_of(args)
    check_options(args.lab, limits, args.workers)
    submissions = batch.discover(args.submissions)
    skipped = [] if args.force else [s.student for s in submissions if batch.already_graded(args.out, s)]
    if len(skipped) < len(submissions):
        batch.start_helpers()  # their imports (MLflow, scikit-learn) overlap the sandbox's probe
    try:
        refuse_host_effects(args.lab)
        sandbox_ready()
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the output folder {args.out}: {exc.strerror}") from None
        rows = batch.grade_batch(args.lab, submissions, args.out.resolve(), args.workers, limits,
                                 force=args.force, progress=not args.no_progress)
    finally:
        batch.stop_helpers()
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


def grade_one(args) -> int:
    """One upload, one results file: the upload's single notebook graded as `grade` would, its
    results.json written to --results. An upload with no notebook, or several, still gets a results
    file that says so (and exit 2); a grader that cannot start writes none (exit 2)."""
    limits = limits_of(args)
    prepare(args.lab, limits)
    try:
        (submission,) = batch.discover([str(args.submission)])
    except (UsageError, ValueError) as exc:
        found = "several notebooks" if isinstance(exc, ValueError) else "no notebook"
        message = f"{found} in the upload; upload exactly one .ipynb file for {args.lab}"
        _write_results(args.results, {"score": 0, "output": f"The autograder could not grade this upload: {message}",
                                      "stdout_visibility": "visible", "tests": []})
        raise UsageError(message) from None
    sandbox_ready()
    work = Path(tempfile.mkdtemp(prefix="grade-one-"))
    try:
        batch.grade_batch(args.lab, [submission], work, 1, limits, force=True, progress=False)
        _write_results(args.results, json.loads((work / submission.student / "results.json").read_text()))
        if args.feedback:
            shutil.copyfile(work / submission.student / "feedback.md", args.feedback)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"results: {args.results}")
    return 0


def _write_results(path: Path, results: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(results, indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
