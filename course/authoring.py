"""Turn a percent-format source (``# %%`` cells) into a notebook.

Sources are plain Python files, so reviews show real diffs. A cell starts with
a line ``# %%``, optionally followed by ``[markdown]`` and ``tags=[...]``.
Markdown cells keep their text as ``# ``-prefixed comment lines.

A lab has one source for two notebooks: code between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` stays in the solution and becomes an exercise
(``# YOUR CODE HERE`` and a ``raise NotImplementedError``) in the learner's copy.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

CELL_MARKER = re.compile(r"^# %%(?P<rest>.*)$")
TAGS = re.compile(r"tags=(\[[^\]]*\])")
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
VARIANTS = ("solution", "lab")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class SourceError(ValueError):
    """A source file that cannot become a notebook."""


def parse_cells(text: str, origin: str = "<source>") -> list[dict]:
    """Split a percent-format text into [{'kind', 'tags', 'lines'}]; text before the first marker is dropped."""
    cells: list[dict] = []
    for number, line in enumerate(text.splitlines(), start=1):
        marker = CELL_MARKER.match(line)
        if marker:
            rest = marker.group("rest")
            kind = "markdown" if "[markdown]" in rest else "code"
            tags_match = TAGS.search(rest)
            try:
                tags = json.loads(tags_match.group(1)) if tags_match else []
            except json.JSONDecodeError as exc:
                raise SourceError(f"{origin}:{number}: tags must be a JSON list: {exc}") from None
            cells.append({"kind": kind, "tags": tags, "lines": []})
        elif cells:
            cells[-1]["lines"].append(line)
    if not cells:
        raise SourceError(f"{origin}: no '# %%' cell markers found")
    return cells


def _markdown_text(lines: list[str]) -> str:
    out = []
    for line in lines:
        if line.startswith("# "):
            out.append(line[2:])
        elif line.strip() in ("#", ""):
            out.append("")
        else:
            out.append(line)
    return "\n".join(out).strip("\n")


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
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(parse_cells(text, origin)):
        if cell["kind"] == "markdown":
            node = nbformat.v4.new_markdown_cell(_markdown_text(cell["lines"]))
        else:
            code = strip_solutions("\n".join(cell["lines"]), variant, origin)
            node = nbformat.v4.new_code_cell(code.strip("\n"))
        node["id"] = f"{stem}-{index:02d}"
        if cell["tags"]:
            node.metadata["tags"] = cell["tags"]
        nb.cells.append(node)
    return nb


def load_source(path: Path, variant: str = "solution") -> nbformat.NotebookNode:
    path = Path(path)
    return to_notebook(path.read_text(encoding="utf-8"), path.stem, origin=str(path), variant=variant)
