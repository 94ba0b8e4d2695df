"""run-course (papermill, one kernel per notebook) against the same code as plain Python scripts.

Usage: python benchmarks/course_run.py

Both sides run in this one invocation, each into a fresh SQLite store, on the
same machine state. Prints per-section seconds, the kernel and papermill
overhead per notebook, and the ratio of the totals (target: <= 1.5).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbconvert import PythonExporter
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course import paths  # noqa: E402
from grading.run_course.sections import all_sections  # noqa: E402

TARGET = 1.5


def run_course(workdir: Path) -> dict[str, float]:
    uri = paths.sqlite_uri(workdir / "store")
    out = workdir / "executed"
    subprocess.run(
        [sys.executable, "-m", "grading", "run-course", "--tracking-uri", uri, "--out", str(out), "--no-progress"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    summary = json.loads((out / "summary.json").read_text())
    return {s["section"]: s["seconds"] for s in summary["sections"]}


def export_script(notebook: Path, tracking_uri: str) -> str:
    """The notebook's code with the same parameter injected as papermill would."""
    nb = parameterize_notebook(load_notebook_node(str(notebook)), {"tracking_uri": tracking_uri})
    source, _ = PythonExporter().from_notebook_node(nb)
    return source


def run_scripts(workdir: Path) -> dict[str, float]:
    uri = paths.sqlite_uri(workdir / "store")
    scripts = workdir / "scripts"
    scripts.mkdir(parents=True)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    times = {}
    for section in all_sections():
        script = scripts / f"{section.id}.py"
        script.write_text(export_script(section.notebook, uri))
        started = time.perf_counter()
        subprocess.run([sys.executable, str(script)], cwd=paths.NOTEBOOKS, env=env, check=True,
                       capture_output=True, text=True)
        times[section.id] = time.perf_counter() - started
    return times


def empty_notebook_cost(workdir: Path) -> float:
    """What papermill and a fresh kernel cost with no code to run: the fixed part of the overhead."""
    import nbformat
    import papermill

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("pass")]
    workdir.mkdir(parents=True)
    nbformat.write(nb, workdir / "empty.ipynb")
    started = time.perf_counter()
    papermill.execute_notebook(str(workdir / "empty.ipynb"), str(workdir / "out.ipynb"), progress_bar=False)
    return time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        papermill_sections = run_course(tmp / "papermill")
        papermill_total = time.perf_counter() - started
        script_sections = run_scripts(tmp / "scripts")
        fixed = empty_notebook_cost(tmp / "empty")
    script_total = sum(script_sections.values())

    print(f"{'section':<22}{'run-course s':>14}{'script s':>10}{'overhead s':>12}")
    for section, seconds in papermill_sections.items():
        plain = script_sections[section]
        print(f"{section:<22}{seconds:>14.1f}{plain:>10.1f}{seconds - plain:>12.1f}")
    ratio = papermill_total / script_total
    print(f"{'total (wall)':<22}{papermill_total:>14.1f}{script_total:>10.1f}{papermill_total - script_total:>12.1f}")
    print(f"papermill + kernel start on an empty notebook: {fixed:.1f} s per notebook, "
          f"{fixed * len(papermill_sections):.1f} s for {len(papermill_sections)} notebooks")
    print(f"ratio run-course / scripts: {ratio:.2f} (target <= {TARGET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
