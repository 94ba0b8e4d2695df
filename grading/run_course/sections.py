"""The course's sections: one notebook each, in ``notebooks/<id>.ipynb``, run in id order."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from course import paths
from grading.errors import UsageError


@dataclass(frozen=True)
class Section:
    id: str
    notebook: Path


def exercises_for(section: Section, learner: bool = False) -> Section | None:
    """The section's exercise set, ``ex<section id>``: the hand-out in labs/ or the solution in solutions/."""
    exercise_id = f"ex{section.id}"
    notebook = (paths.LABS if learner else paths.SOLUTIONS) / f"{exercise_id}.ipynb"
    return Section(exercise_id, notebook) if notebook.exists() else None


def hand_outs() -> list[Section]:
    """Every learner copy in labs/: the exercise sets and the labs."""
    return [Section(p.stem, p) for p in sorted(paths.LABS.glob("*.ipynb"))]


def all_sections(folder: Path = paths.NOTEBOOKS) -> list[Section]:
    return [Section(p.stem, p) for p in sorted(folder.glob("[0-9][0-9]-*.ipynb"))]


def select(only: list[str] | None, folder: Path = paths.NOTEBOOKS) -> list[Section]:
    sections = all_sections(folder)
    if not only:
        return sections
    by_id = {s.id: s for s in sections}
    unknown = [i for i in only if i not in by_id]
    if unknown:
        raise UsageError(
            f"unknown section {', '.join(unknown)}; valid ids: {', '.join(by_id) or '(none found)'}"
        )
    return [by_id[i] for i in only]


def parameter_defaults(section: Section) -> dict[str, str]:
    """The notebook's parameters cell as {name: default source}, read without running it."""
    try:
        nb = nbformat.read(section.notebook, as_version=4)
    except Exception as exc:  # nbformat raises several types for a broken file
        raise UsageError(
            f"{section.notebook} is not a readable notebook ({type(exc).__name__}); "
            "restore it from version control or re-export it from Jupyter"
        ) from None
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return _assignments(cell.source)
    raise UsageError(f"{section.notebook} has no cell tagged 'parameters'; papermill cannot pass it a tracking URI")


def _assignments(source: str) -> dict[str, str]:
    import ast

    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            values[node.target.id] = ast.literal_eval(node.value)
    return values
