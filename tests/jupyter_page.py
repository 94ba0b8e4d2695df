"""JupyterLab in a browser page, as a learner uses it: open a notebook, Run All, read what it printed.

Shared by the tests of `make lab` (test_jupyterlab.py) and of the class hub (test_hub.py).
"""
from __future__ import annotations

import re
import time


def cells(page):
    """The cells of the notebook on show (other tabs' notebooks stay in the page, hidden)."""
    return page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")


def kernel_idle(page):
    """The status bar's kernel item of the notebook on show ("Python 3 (ipykernel) | Idle"), while a kernel
    is connected and idle. The toolbar's indicator is no proof: it reads idle before any kernel exists."""
    return page.locator(".jp-StatusBar-TextItem[title^='Change kernel for']", has_text=re.compile(r"\| Idle$"))


def open_notebook(page, url: str):
    """Open the notebook at url (a JupyterLab /lab/tree/... address) and wait for its kernel."""
    page.goto(url)
    cells(page).first.wait_for()
    # The kernel must be up before Run All. A notebook opened before JupyterLab has listed its kernels
    # asks which one to start; a learner then accepts the proposed Python 3, and so does the test.
    idle = kernel_idle(page)
    choose = page.get_by_role("dialog").get_by_role("button", name="Select", exact=True)
    deadline = time.monotonic() + 120
    settled = 0
    while settled < 3:  # idle, with no dialog over the page, for three looks in a row
        assert time.monotonic() < deadline, "the notebook's kernel did not start"
        if choose.is_visible():
            choose.click()
        settled = settled + 1 if idle.is_visible() and not page.get_by_role("dialog").count() else 0
        time.sleep(0.5)


def run_all(page):
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def prompts(page) -> list[str]:
    """Each code cell's prompt: `[3]:` once it ran, `[*]:` while queued or running, `[ ]:` before."""
    found = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    return [p.strip() for p in found]


def last_output(page, timeout_s: float = 300) -> str:
    """The last cell's output, once Run All has ended: the kernel idle and no cell queued, for 3 s.
    Every code cell must then have run; an error, or a kernel that stopped early, fails with what ran."""
    idle = kernel_idle(page)
    deadline = time.monotonic() + timeout_s
    started, quiet = False, 0
    while quiet < 3:
        if time.monotonic() > deadline:
            page.shot("timed-out")
            raise AssertionError(f"the notebook did not finish in {timeout_s:.0f} s; its prompts: {prompts(page)}")
        shown = prompts(page)
        busy = any("*" in p for p in shown) or not idle.is_visible()
        started = started or busy or all(re.fullmatch(r"\[\d+\]:", p) for p in shown)
        quiet = quiet + 1 if started and not busy else 0
        time.sleep(1)
    shown = prompts(page)
    if not all(re.fullmatch(r"\[\d+\]:", p) for p in shown):
        page.shot("stopped")
        errors = cells(page).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        raise AssertionError(f"Run All stopped before the end; prompts {shown}; stderr: {errors.all_inner_texts()}")
    return cells(page).last.locator(".jp-OutputArea").inner_text()
