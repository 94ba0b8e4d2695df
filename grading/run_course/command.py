"""`python -m grading run-course`: execute the section notebooks in order into one store and print what was checked."""
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
