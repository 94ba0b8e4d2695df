"""A learner in JupyterLab, in a real browser: `make lab`'s server and section 02 run from the UI.

Filling in lab04 in JupyterLab and running it to full marks is tested on the class hub, for two
learners at once (test_hub.py), with the same page helpers (jupyter_page.py).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from jupyter_page import cells, last_output, open_notebook, run_all
from course.stack import free_port

TOKEN_URL = re.compile(r"(http://127\.0\.0\.1:\d+)/lab\?token=(\w+)")
MLFLOW_URL = re.compile(r"MLflow UI:\s+(http://127\.0\.0\.1:\d+)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`python -m course.serve --lab` (what `make lab` runs) with a store and settings of its own."""
    home = tmp_path_factory.mktemp("lab-home")
    # Autosave off: running the notebooks must not rewrite the committed copies in the repository.
    # Every cell in the page (not only those scrolled into view), and no news prompt over the page.
    for plugin, values in (("docmanager-extension/plugin", {"autosave": False}),
                           ("notebook-extension/tracker", {"windowingMode": "none"}),
                           ("apputils-extension/notification", {"fetchNews": "false"})):
        path = home / "lab-settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    log = home / "serve.log"
    # Checkpoints in a folder of their own, not .ipynb_checkpoints/ beside the course's notebooks.
    (home / "jupyter-config").mkdir()
    (home / "jupyter-config" / "jupyter_server_config.json").write_text(
        json.dumps({"FileCheckpoints": {"checkpoint_dir": str(home / "checkpoints")}}))
    # Settings and workspaces of its own, so no earlier session's layout or open tabs come back.
    env = {**os.environ, "COURSE_HOME": str(home / "course"), "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"), "JUPYTER_CONFIG_DIR": str(home / "jupyter-config")}
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "course.serve", "--lab", "--port", str(free_port()),
                                    "--lab-port", str(free_port())], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    committed = {p: p.read_bytes() for p in (ROOT / "labs" / "lab04.ipynb", ROOT / "notebooks" / "02-first-experiment.ipynb")}
    try:
        deadline = time.monotonic() + 120
        while not (TOKEN_URL.search(log.read_text()) and MLFLOW_URL.search(log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
        lab_url, token = TOKEN_URL.search(log.read_text()).groups()
        yield {"url": lab_url, "token": token, "mlflow": MLFLOW_URL.search(log.read_text()).group(1)}
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: course.serve stops JupyterLab and the server
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for path, content in committed.items():
        assert path.read_bytes() == content, f"{path.name} was rewritten by the browser session"
    assert not list(ROOT.glob("*/.ipynb_checkpoints")), "JupyterLab left checkpoints in the repository"


def notebook_url(lab, path: str) -> str:
    return f"{lab['url']}/lab/tree/{path}?reset&token={lab['token']}"


@pytest.mark.slow
def test_lab_opens_the_course_folder(lab, page):
    page.goto(f"{lab['url']}/lab?reset&token={lab['token']}")
    listing = page.locator(".jp-DirListing-content")
    listing.get_by_text("notebooks", exact=True).wait_for()
    page.shot("file-browser")
    for name in ("labs", "notebooks", "grading", "README.md"):
        assert listing.get_by_text(name, exact=True).count() == 1, name


@pytest.mark.slow
def test_section_02_runs_from_the_ui_and_its_run_is_on_the_server(lab, page):
    from mlflow import MlflowClient

    open_notebook(page, notebook_url(lab, "notebooks/02-first-experiment.ipynb"))
    run_all(page)
    shown = last_output(page)
    cells(page).last.scroll_into_view_if_needed()
    page.shot("section-02")
    assert re.search(r"02-first-experiment: 16/16 points, (\d+)/\1 checks passed", shown), shown
    client = MlflowClient(lab["mlflow"])
    experiment = client.get_experiment_by_name("iris-classifier")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_name for r in runs] == ["rf-baseline"] and runs[0].info.status == "FINISHED"
    assert runs[0].data.params["random_state"] == "42" and runs[0].data.metrics["accuracy"] > 0.9
