"""`python -m grading run-course`: execute the section notebooks in order into one store, each followed by
its exercise set's solution (or, with --learner, the learner's copies), and print what was checked."""
from __future__ import annotations

from course import paths
from grading.errors import UsageError


def run_course(args) -> int:
    from grading import reachability
    from grading.run_course import runner, sections, summary

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
    if args.learner:
        print("Running the learner's copies: each must stop at its first exercise, with only exercises failing")
    progress, results = not args.no_progress, []
    # Exercise sets belong to the course's own sections, not to a folder of other notebooks.
    exercises = not args.no_exercises and args.notebooks.resolve() == paths.NOTEBOOKS.resolve()
    for target, kind in plan(selected, args.learner, whole_course=not args.only, exercises=exercises):
        print(f"\n== {target.id}", flush=True)
        if kind == "hand-out":
            results.append(runner.run_hand_out(target, uri, out_dir, progress))
        elif runner.served_by(target) == "production-stack":
            results.append(runner.run_on_production_stack(target, out_dir, progress))
        else:
            results.append(runner.run_section(target, uri, out_dir, progress))
        summary.write_json(results, uri, out_dir / "summary.json")
    print()
    print(summary.table(results))
    return 0 if all(r.ok for r in results) else 1


def plan(selected, learner: bool, whole_course: bool, exercises: bool = True) -> list:
    """(notebook, kind) in the order they run: each section, then its exercise set's solution; with
    learner, the hand-outs instead (every lab's too, for the whole course)."""
    from grading.run_course import sections

    if learner:
        wanted = {f"ex{s.id}" for s in selected}
        return [(h, "hand-out") for h in sections.hand_outs() if whole_course or h.id in wanted]
    steps = []
    for section in selected:
        steps.append((section, "section"))
        solution = sections.exercises_for(section) if exercises else None
        if solution:
            steps.append((solution, "solution"))
    return steps
