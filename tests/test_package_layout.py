"""The grading package shows its four tools, and its modules import without cycles."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT, run_cli

PACKAGE = ROOT / "grading"
TOOLS = {"engine": "check", "run_course": "run-course", "autograde": "grade", "doctor": "doctor"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str]) -> set[str]:
    """The grading modules this file imports, anywhere in it, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and getattr(node.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grading"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return found & known


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports(path, set(files)) - {name} for name, path in files.items()}


def test_no_module_imports_in_a_cycle():
    edges, cycles = graph(), []

    def visit(node, trail):
        for nxt in sorted(edges[node]):
            if nxt in trail:
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, trail + [nxt])
        done.add(node)

    done: set[str] = set()
    for start in sorted(edges):
        if start not in done:
            visit(start, [start])
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles[:5])


def test_no_module_borrows_another_modules_private_names():
    borrowed = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("grading"):
                borrowed += [f"{path.relative_to(ROOT)}: {a.name}" for a in node.names
                             if a.name.startswith("_") and not a.name.startswith("__")]
    assert not borrowed, borrowed


def test_the_tree_and_the_help_name_the_four_tools():
    for folder in TOOLS:
        assert (PACKAGE / folder / "__init__.py").is_file(), folder
    shown = run_cli("--help").stdout
    for folder, command in TOOLS.items():
        assert f"grading/{folder}" in shown and command in shown, (folder, shown)
