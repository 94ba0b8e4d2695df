"""`make ui` and `make lab`: real servers on the course store, with their URLs printed, stopped cleanly."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest

from conftest import ROOT


def read_until(process: subprocess.Popen, pattern: str, timeout: float = 120) -> list[str]:
    """Lines printed until one matches; the server must say where it is without being asked."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line.rstrip())
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"never printed {pattern!r}; got: {lines}")


def answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@pytest.mark.slow
@pytest.mark.parametrize("lab", [False, True], ids=["ui", "lab"])
def test_serve_prints_working_urls_and_stops_everything_on_ctrl_c(tmp_path, lab):
    args = [sys.executable, "-u", "-m", "course.serve", "--port", "0", "--lab-port", "0"] + (["--lab"] if lab else [])
    process = subprocess.Popen(
        args, cwd=ROOT, env={**os.environ, "COURSE_HOME": str(tmp_path / "home"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = read_until(process, "Press Ctrl-C")
        ui = re.search(r"MLflow UI:\s+(http://127\.0\.0\.1:\d+)", "\n".join(lines)).group(1)
        assert answers(f"{ui}/health") == 200
        assert (tmp_path / "home" / "mlflow.db").exists(), "the server must use the course store"
        if lab:
            lab_url = re.search(r"JupyterLab:\s+(http://127\.0\.0\.1:\d+)/lab", "\n".join(lines)).group(1)
            deadline = time.monotonic() + 60
            while answers(f"{lab_url}/api") is None and time.monotonic() < deadline:
                time.sleep(0.5)
            assert answers(f"{lab_url}/api") == 200
    finally:
        children = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGINT)
        try:
            out, _ = process.communicate(timeout=60)
        finally:
            for leftover in [psutil.Process(process.pid)] + children if process.poll() is None else children:
                if leftover.is_running():
                    leftover.kill()
    assert "Stopped." in out
    assert answers(f"{ui}/health") is None, "the MLflow server outlived make ui"
    if lab:
        assert answers(f"{lab_url}/api") is None, "JupyterLab outlived make lab"
