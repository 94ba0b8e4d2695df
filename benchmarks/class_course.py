"""The whole course by a class on one server: one learner alone, against several at once.

Usage: python benchmarks/class_course.py [--learners 2]

One production stack with basic auth (PostgreSQL, S3, `mlflow server --app-name course-class`),
one account per learner. Each learner is `python -m grading run-course` against that server,
logged in as themselves (MLFLOW_TRACKING_USERNAME and _PASSWORD, as on the course's hub) with a
home of their own: every section and its exercise set, in the learner's namespace, each graded by
its self-check. First one learner runs the course alone, then all of them at the same time, as a
class does on one server.

Then the instructor grades every exercise set from the server with `grade-class`, which must give
each learner who ran the course full marks (exercises 01 and 06 log to a store of the learner's
own, so grade-class refuses them, and run-course's self-checks grade them there).

Prints the wall seconds of each, their ratio, every learner's notebooks that did not pass, and
grade-class's scores. Exits 1 if any learner's course did not pass in full or any grade is short:
a name two learners share, or a check that reads another learner's work, would show here.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course import stack  # noqa: E402
from course.accounts import AuthServer, class_stack  # noqa: E402

EXPECTED = len(list((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))) + len(list((ROOT / "solutions").glob("ex*.ipynb")))
ADMIN = ("teacher", "admin-" + secrets.token_urlsafe(12))


def start_learner(uri: str, name: str, password: str, work: Path) -> subprocess.Popen:
    home = work / name
    home.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "COURSE_LEARNER"))}
    env.update({"HOME": str(home), "MLFLOW_TRACKING_USERNAME": name, "MLFLOW_TRACKING_PASSWORD": password,
                "MLFLOW_DISABLE_TELEMETRY": "true"})
    return subprocess.Popen([sys.executable, "-m", "grading", "run-course", "--tracking-uri", uri,
                             "--out", str(home / "executed"), "--no-progress"],
                            cwd=ROOT, env=env, stdout=(home / "run-course.log").open("w"), stderr=subprocess.STDOUT)


def course_by(uri: str, learners: dict[str, str], work: Path) -> tuple[float, dict[str, list[str]]]:
    """Wall seconds for these learners to run the course at once, and each one's notebooks that failed."""
    started = time.perf_counter()
    running = {name: start_learner(uri, name, password, work) for name, password in learners.items()}
    for process in running.values():
        process.wait()
    seconds = time.perf_counter() - started
    failed = {}
    for name in learners:
        summary = work / name / "executed" / "summary.json"
        if not summary.exists():
            failed[name] = [f"run-course wrote no summary; see {work / name / 'run-course.log'}"]
            continue
        ran = json.loads(summary.read_text())["sections"]
        failed[name] = [f"{r['section']}: {r['error'] or ', '.join(r['failed_checks'])}" for r in ran
                        if r["status"] != "passed" or r["failed_checks"]]
        if len(ran) < EXPECTED:
            failed[name].append(f"only {len(ran)} of {EXPECTED} notebooks ran")
    return seconds, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=2)
    args = parser.parse_args()
    problem = stack.postgres_missing() or (None if stack.weed_binary() else "the S3 store's binary 'weed' is missing")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-class-course-") as tmp:
        work = Path(tmp)
        with class_stack(work / "stack", *ADMIN) as running:
            uri = running.tracking_uri
            admin = AuthServer(uri, *ADMIN)
            names = {f"learner{i:02d}": f"pw-{secrets.token_urlsafe(12)}" for i in range(args.learners + 1)}
            for name, password in names.items():
                admin.create(name, password)
            alone_name = next(iter(names))
            print(f"one learner alone on {uri}...", flush=True)
            alone, failed = course_by(uri, {alone_name: names.pop(alone_name)}, work)
            print(f"{args.learners} learners at once...", flush=True)
            together, more = course_by(uri, names, work)
            failed.update(more)
            short = grade_the_class(uri, work)
    print(f"{'':<34}{'wall s':>9}")
    print(f"{'the course, one learner alone':<34}{alone:>9.1f}")
    print(f"{f'the course, {args.learners} learners at once':<34}{together:>9.1f}")
    print(f"ratio at once/alone: {together / alone:.2f} (the learners share this machine's cores with the server)")
    bad = {name: items for name, items in failed.items() if items}
    for name, items in bad.items():
        for item in items[:5]:
            print(f"not passed: {name}: {item}", file=sys.stderr)
    print(f"learners with every notebook passed: {len(failed) - len(bad)}/{len(failed)}")
    for item in short:
        print(f"grade-class: {item}", file=sys.stderr)
    return 1 if bad or short else 0


def grade_the_class(uri: str, work: Path) -> list[str]:
    """grade-class for every exercise set the class server holds; what is short of full marks."""
    import csv

    from grading.engine import expectations

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
           "MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}
    short = []
    print(f"{'grade-class':<28}{'learners':>9}{'full marks':>12}{'seconds':>9}")
    for set_id in sorted(p.stem for p in (ROOT / "solutions").glob("ex*.ipynb")):
        spec = expectations.load(set_id)
        out = work / "graded" / set_id
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "grading", "grade-class", "--lab", set_id, "--tracking-uri", uri,
                               "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if spec.served_by == "own-server":
            if done.returncode != 2 or "a server each learner starts" not in done.stderr:
                short.append(f"{set_id}: expected the one-line refusal, got exit {done.returncode}")
            print(f"{set_id:<28}  refused: logged to each learner's own store")
            continue
        if done.returncode != 0:
            short.append(f"{set_id}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
            continue
        with open(out / "gradebook.csv") as handle:
            rows = list(csv.DictReader(handle))
        missing = [f"{set_id}: {r['student']} {r['score']}/{spec.max_score:g}" for r in rows
                   if float(r["score"]) != spec.max_score]
        short += missing
        print(f"{set_id:<28}{len(rows):>9}{len(rows) - len(missing):>12}{seconds:>9.1f}")
    return short


if __name__ == "__main__":
    sys.exit(main())
