"""The process behind a notebook's self-checks: ``python -m grading.check_server``.

A notebook's first ``check(...)`` starts it; later checks reuse it. It imports MLflow and the
grader once, then forks one child per request, so each check still starts from a clean
process (no store, engine or environment left over from the last one) without paying for the
imports again (about 2 s a check). It reads one JSON request per line on stdin:
``{"argv": [...], "env": {...}}``, where argv is what ``python -m grading`` would be given and
env replaces the MLFLOW_* and AWS_* variables; it answers one JSON line,
``{"code": N, "stdout": "...", "stderr": "..."}``. It ends when stdin closes, as it does when
the kernel that started it ends.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys

# What a request's env replaces: the kernel may change them between checks (COURSE_LEARNER: course.learner).
FORWARDED = ("MLFLOW_", "AWS_", "COURSE_LEARNER")


def warm_up() -> None:
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow.tracking  # noqa: F401
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    import mlflow.utils.search_utils  # noqa: F401

    from grading.engine import command, grader, readonly, render  # noqa: F401
    from grading import cli, reachability, sandbox  # noqa: F401

    readonly.remember_schema_head()  # each check opens the store: 0.2 s of MLflow's migration scripts
    sandbox.runtime()  # copied here once: a forked child exits without atexit and would leave its copy


def warm_for(request: dict) -> None:
    """After answering a check of a lab that recomputes metrics, import the scorers and labels
    here, while the learner reads: that lab's next checks are then forked warm (1.2 s each)."""
    from grading.engine import expectations, recompute

    if recompute.warm():  # no lab to read again after every check
        return
    try:
        if any(c.kind == "recomputed_metric" for c in expectations.load(str(request["argv"][1])).checks):
            recompute.warm_up()
    except Exception:  # noqa: BLE001 - e.g. an unknown target, which was answered already
        pass


def answer(request: dict) -> dict:
    """Run one check as `python -m grading` would, in this (forked) process."""
    from grading import cli

    for key in [k for k in os.environ if k.startswith(FORWARDED)]:
        del os.environ[key]
    os.environ.update({k: str(v) for k, v in (request.get("env") or {}).items() if k.startswith(FORWARDED)})
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in request["argv"]])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:  # noqa: BLE001 - reported to the notebook, which shows it
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            code = 2
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main() -> int:
    replies = os.fdopen(os.dup(1), "w", buffering=1)  # stray prints of a child go to stderr instead
    os.dup2(2, 1)
    warm_up()
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            replies.close()  # only the server answers on it
            try:
                reply = json.dumps(answer(request))
            except BaseException as exc:  # noqa: BLE001
                reply = json.dumps({"code": 2, "stdout": "", "stderr": f"error: {type(exc).__name__}: {exc}"})
            with os.fdopen(write_fd, "w") as pipe:
                pipe.write(reply)
            os._exit(0)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            reply = pipe.read()
        os.waitpid(pid, 0)
        replies.write((reply or json.dumps({"code": 2, "stdout": "", "stderr": "error: the check ended early"})) + "\n")
        warm_for(request)
    return 0


if __name__ == "__main__":
    from course.quick_exit import run

    run(main)  # without the interpreter's teardown
