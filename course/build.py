"""Regenerate the committed notebooks from their sources: ``python -m course.build [ID ...]``.

- ``notebooks/source/<id>.py`` becomes ``notebooks/<id>.ipynb``, executed;
- ``labs/source/<id>.py`` becomes ``solutions/<id>.ipynb``, executed, and
  ``labs/<id>.ipynb``, the learner's copy with its exercises, not executed.

Execution happens in the notebook's folder against a fresh store, the way
nbval re-executes it. The committed outputs then say ``<store>`` for that store's
folder and ``<course>`` for this checkout, which a learner's own run prints as
their real paths. ``--no-execute`` rebuilds the cells only.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course import authoring, nbenv, paths


@dataclass(frozen=True)
class Target:
    path: Path
    variant: str
    execute: bool


def sources() -> dict[str, Path]:
    found = {p.stem: p for p in sorted((paths.NOTEBOOKS / "source").glob("*.py"))}
    found.update({p.stem: p for p in sorted((paths.LABS / "source").glob("*.py"))})
    return found


def targets_for(source: Path) -> list[Target]:
    if source.parent.parent == paths.LABS:
        return [Target(paths.SOLUTIONS / f"{source.stem}.ipynb", "solution", True),
                Target(paths.LABS / f"{source.stem}.ipynb", "lab", False)]
    return [Target(paths.NOTEBOOKS / f"{source.stem}.ipynb", "solution", True)]


def execute(nb, name: str, folder: Path, timeout: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"build-{name}-") as store:
        nbenv.apply(nbenv.isolated_env(Path(store)))
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(folder)}})
        try:
            client.execute()
            # tests/nbval_sanitize.cfg knows both placeholders
            without_build_paths(nb, {Path(store): "<store>", paths.ROOT: "<course>"})
        finally:
            # Keep whatever ran, so a failure can be inspected.
            if not _complete(nb):
                failed = paths.BUILD / "failed" / f"{name}.ipynb"
                failed.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, failed)


def without_build_paths(nb, folders: dict[Path, str]) -> None:
    """Replace each folder in the outputs' text by its placeholder, the deepest folders first."""
    spelled = {}
    for folder, placeholder in folders.items():
        spelled[str(folder)] = spelled[str(folder.resolve())] = placeholder
    order = sorted(spelled, key=len, reverse=True)

    def replaced(text: str) -> str:
        for folder in order:
            text = text.replace(folder, spelled[folder])
        return text

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if isinstance(output.get("text"), str):
                output["text"] = replaced(output["text"])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str):
                    output["data"][mime] = replaced(value)
            if "traceback" in output:
                output["traceback"] = [replaced(line) for line in output["traceback"]]


def build(notebook_id: str, run: bool = True, timeout: int = 600) -> list[Path]:
    source = sources()[notebook_id]
    written = []
    for target in targets_for(source):
        nb = authoring.load_source(source, target.variant)
        if run and target.execute:
            execute(nb, notebook_id, target.path.parent, timeout)
        nbformat.write(nb, target.path)
        written.append(target.path)
    return written


def _complete(nb) -> bool:
    return all(c.get("execution_count") for c in nb.cells if c.cell_type == "code" and c.source.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.build", description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="notebook or lab ids (default: every source)")
    parser.add_argument("--no-execute", action="store_true", help="rebuild cells only, keep no outputs")
    args = parser.parse_args(argv)
    known = list(sources())
    unknown = [i for i in args.ids if i not in known]
    if unknown:
        print(f"error: unknown notebook {', '.join(unknown)}; valid ids: {', '.join(known)}", file=sys.stderr)
        return 2
    for notebook_id in args.ids or known:
        try:
            written = build(notebook_id, run=not args.no_execute)
        except CellExecutionError as exc:
            print(f"error: {notebook_id} failed: {exc.ename}: {exc.evalue}; "
                  f"the partly executed notebook is in build/failed/{notebook_id}.ipynb", file=sys.stderr)
            return 1
        except authoring.SourceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path.relative_to(paths.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
