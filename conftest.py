"""pytest configuration shared by the test suite and `pytest --nbval`.

Each notebook under nbval gets a fresh tracking store of its own, so its
outputs do not depend on what `make run` already logged into the course store.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from course import kernel, nbenv

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def pytest_configure(config):
    option = config.option
    if getattr(option, "nbval", False) or getattr(option, "nbval_lax", False):
        if not option.nbval_sanitize_with:
            option.nbval_sanitize_with = str(SANITIZE)
        # The course's kernel (course/kernel.py) with the Python running pytest, whatever kernel specs
        # the machine has: "python3" on JUPYTER_PATH, whose "python" jupyter_client makes sys.executable.
        if not option.nbval_kernel_name:
            option.nbval_kernel_name = "python3"
            os.environ["JUPYTER_PATH"] = kernel.jupyter_path(os.environ.get("JUPYTER_PATH", ""))
        config._course_stores = Path(tempfile.mkdtemp(prefix="nbval-stores-"))


def pytest_unconfigure(config):
    stores = getattr(config, "_course_stores", None)
    if stores is not None:
        shutil.rmtree(stores, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    notebook = item.parent
    # nbval starts a notebook's kernel when its first cell is set up; the kernel inherits os.environ.
    if getattr(notebook, "kernel", "absent") is None and hasattr(item.config, "_course_stores"):
        store = item.config._course_stores / Path(str(notebook.fspath)).stem
        nbenv.apply(nbenv.isolated_env(store))


# Under `make test` (-n 4 --dist loadfile) a file's tests run on one worker, which notebooks (one
# kernel for all cells) and module fixtures need. The files listed here share nothing between their
# tests, each of which takes half a minute or more, so their tests are spread one by one.
SPREAD = {"tests/test_mutations.py", "tests/test_load.py"}
# Files whose module fixture is parametrized: each parameter's tests stay together, so one worker
# grades one exercise set while the others grade the next.
BY_PARAMETER = {"tests/test_exercises.py"}
# The files that take longest on one worker (minutes each), longest first: starting them first keeps
# the other workers busy with everything else meanwhile.
LONGEST = ["tests/test_production_stack.py", "tests/test_hub.py", "tests/test_autograde.py"]


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class CourseScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path in BY_PARAMETER and nodeid.endswith("]"):
                return path + "[" + nodeid.rsplit("[", 1)[1]
            return nodeid if path in SPREAD else path

    return CourseScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    # Workers take work in collection order: files with slow-marked tests go first, then notebooks,
    # so that no worker starts a five-minute test while the other has nothing left to do. A file's
    # tests stay together, or its module fixtures would be set up twice.
    rank: dict[str, int] = {}
    for item in items:
        longest = next((i for i, name in enumerate(LONGEST) if str(item.fspath).endswith(name)), None)
        own = (longest - len(LONGEST) if longest is not None else 0 if item.get_closest_marker("slow")
               else 1 if str(item.fspath).endswith(".ipynb") else 2)
        rank[str(item.fspath)] = min(own, rank.get(str(item.fspath), own))
    items.sort(key=lambda item: rank[str(item.fspath)])


_cpu_mark = [None]  # this process's CPU seconds (its reaped children's included) at the last report


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # In CI (CI=true) every test must run: a skip would hide a system part CI was meant to test.
    outcome = yield
    report = outcome.get_result()
    # CPU seconds since the previous phase: wall time on a shared 2-core machine swings by 15%, CPU far less.
    now = _cpu_seconds()
    report.user_properties.append(("cpu_s", now - (_cpu_mark[0] if _cpu_mark[0] is not None else now)))
    _cpu_mark[0] = now
    if report.skipped and os.environ.get("CI", "").lower() in ("1", "true", "yes") \
            and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {call.excinfo.value if call.excinfo else ''}"


def pytest_runtest_logstart(nodeid, location):
    if _cpu_mark[0] is None:
        _cpu_mark[0] = _cpu_seconds()


_cpu_by_file: dict[str, float] = {}


def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name == "cpu_s":
            path = report.nodeid.split("::", 1)[0]
            _cpu_by_file[path] = _cpu_by_file.get(path, 0.0) + value


def pytest_terminal_summary(terminalreporter):
    if not _cpu_by_file:
        return
    total = sum(_cpu_by_file.values())
    terminalreporter.section(f"CPU seconds by file (processes the tests waited for; {total:.0f} in all)")
    for path, seconds in sorted(_cpu_by_file.items(), key=lambda kv: -kv[1])[:20]:
        terminalreporter.write_line(f"{seconds:8.1f}  {path}")
