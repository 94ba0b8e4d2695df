from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None, timeout: float = 900, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``python -m grading ...`` as a user would, in a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "grading", *args],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


def assert_one_line_error(result, *fragments: str):
    """Bad input's contract: exit 2, one line on stderr starting with `error: `, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def store(tmp_path) -> str:
    """A fresh, explicit SQLite tracking URI."""
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


def require(problem: str | None) -> None:
    """Skip with a one-line reason when a system part is missing; in CI (CI=true) that is a failure."""
    if not problem:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run this test, but {problem}; .ci/run installs it", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="module")
def pg_stack(tmp_path_factory):
    """PostgreSQL + S3 + `mlflow server --serve-artifacts`, shared by one test module."""
    from course import stack

    require(stack.postgres_missing() or (None if stack.weed_binary() else "the 'weed' binary is missing"))
    with stack.production_stack(tmp_path_factory.mktemp("pg-stack"), backend="postgres") as running:
        yield running


CHROMIUM_FLAGS = [
    # As root in a container Chromium needs --no-sandbox; the rest stop it calling out to the
    # network it cannot reach from here, which would slow every start.
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download cannot run here)."""
    import shutil

    chromium = shutil.which("chromium")
    require(None if chromium else "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, request):
    """A wide page (the runs table hides columns on narrow ones), and a screenshot helper `shot(name)`
    that writes build/screenshots/<test>-<name>.png, where CI keeps the last run's pictures."""
    context = browser.new_context(viewport={"width": 1920, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(name: str):
        path = SCREENSHOTS / f"{request.node.name.split('[')[0]}-{name}.png"
        opened.screenshot(path=str(path))
        return path

    opened.shot = shot
    yield opened
    context.close()


def process_family(*pids: int) -> set[int]:
    """The processes and all their descendants (PostgreSQL's children leave its process group)."""
    found = set()
    for pid in pids:
        try:
            found |= {pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            pass
    return found


def processes_running(*fragments: str) -> list[psutil.Process]:
    """The processes whose command line contains every fragment (a test marks what it starts with
    an unusual sleep length, or names its folder)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if all(fragment in line for fragment in fragments):
            found.append(process)
    return found


def still_running(pids) -> list[int]:
    alive = []
    for pid in sorted(pids):
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive
