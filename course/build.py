"""Regenerate the committed notebooks from their sources: ``python -m course.build [ID ...]``.

Each notebook is rebuilt from ``notebooks/source/<id>.py`` and, unless
``--no-execute`` is given, executed in ``notebooks/`` against a fresh store,
the same way nbval re-executes it.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course import authoring, nbenv, paths

SOURCES = paths.NOTEBOOKS / "source"


def source_ids() -> list[str]:
    return sorted(p.stem for p in SOURCES.glob("*.py"))


def build(notebook_id: str, execute: bool = True, timeout: int = 600) -> Path:
    nb = authoring.load_source(SOURCES / f"{notebook_id}.py")
    target = paths.NOTEBOOKS / f"{notebook_id}.ipynb"
    if execute:
        with tempfile.TemporaryDirectory(prefix=f"build-{notebook_id}-") as store:
            nbenv.apply(nbenv.isolated_env(Path(store)))
            client = NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                record_timing=False,
                resources={"metadata": {"path": str(paths.NOTEBOOKS)}},
            )
            try:
                client.execute()
            finally:
                # Keep whatever ran, so a failure can be inspected.
                if not _complete(nb):
                    failed = paths.BUILD / "failed" / f"{notebook_id}.ipynb"
                    failed.parent.mkdir(parents=True, exist_ok=True)
                    nbformat.write(nb, failed)
    nbformat.write(nb, target)
    return target


def _complete(nb) -> bool:
    return all(c.get("execution_count") for c in nb.cells if c.cell_type == "code" and c.source.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.build", description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="notebook ids (default: all sources)")
    parser.add_argument("--no-execute", action="store_true", help="rebuild cells only, keep no outputs")
    args = parser.parse_args(argv)
    known = source_ids()
    unknown = [i for i in args.ids if i not in known]
    if unknown:
        print(f"error: unknown notebook {', '.join(unknown)}; valid ids: {', '.join(known)}", file=sys.stderr)
        return 2
    for notebook_id in args.ids or known:
        try:
            target = build(notebook_id, execute=not args.no_execute)
        except CellExecutionError as exc:
            print(
                f"error: {notebook_id} failed: {exc.ename}: {exc.evalue}; "
                f"the partly executed notebook is in build/failed/{notebook_id}.ipynb",
                file=sys.stderr,
            )
            return 1
        print(f"wrote {target.relative_to(paths.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
