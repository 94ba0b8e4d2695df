"""Turn a percent-format source (``# %%`` cells) into a notebook, with jupytext.

Sources are plain Python files in jupytext's percent format, so reviews show real diffs and
JupyterLab (with jupytext) opens them as notebooks. jupytext reads the cells; this module only
adds the solution step and stable cell ids.

A lab has one source for two notebooks: code between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` stays in the solution and becomes an exercise
(``# YOUR CODE HERE`` and a ``raise NotImplementedError``) in the learner's copy.
"""
from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat

from course.errors import CourseError

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class SourceError(CourseError, ValueError):
    """A source file that cannot become a notebook."""


def strip_solutions(code: str, variant: str, origin: str = "<source>") -> str:
    """The solution variant drops the markers; the lab variant replaces each marked block."""
    out, inside, indent = [], False, ""
    for line in code.splitlines():
        stripped = line.strip()
        if stripped == BEGIN_SOLUTION:
            if inside:
                raise SourceError(f"{origin}: {BEGIN_SOLUTION} inside another solution block")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            if variant == "lab":
                out += [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("fill in this cell")']
        elif stripped == END_SOLUTION:
            if not inside:
                raise SourceError(f"{origin}: {END_SOLUTION} without {BEGIN_SOLUTION}")
            inside = False
        elif not (inside and variant == "lab"):
            out.append(line)
    if inside:
        raise SourceError(f"{origin}: {BEGIN_SOLUTION} is never closed")
    return "\n".join(out)


def to_notebook(text: str, stem: str, origin: str = "<source>", variant: str = "solution") -> nbformat.NotebookNode:
    """Build a notebook; cell ids derive from the stem so rebuilding does not churn the file."""
    if not any(line.startswith("# %%") for line in text.splitlines()):
        raise SourceError(f"{origin}: no '# %%' cell markers found")
    parsed = jupytext.reads(text, fmt="py:percent")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(parsed.cells):
        if cell.cell_type == "markdown":
            node = nbformat.v4.new_markdown_cell(cell.source)
        else:
            node = nbformat.v4.new_code_cell(strip_solutions(cell.source, variant, origin).strip("\n"))
        node["id"] = f"{stem}-{index:02d}"
        if cell.metadata.get("tags"):
            node.metadata["tags"] = list(cell.metadata["tags"])
        nb.cells.append(node)
    return nb


def load_source(path: Path, variant: str = "solution") -> nbformat.NotebookNode:
    path = Path(path)
    return to_notebook(path.read_text(encoding="utf-8"), path.stem, origin=str(path), variant=variant)
