"""Renderers of a GradingResult: text, JSON, Gradescope results.json, JUnit XML, Markdown, HTML.

They only format; scores come from the result itself.
"""
from __future__ import annotations

import html
import json
import re
from xml.etree import ElementTree as ET

from grading.engine.results import GradingResult


# What a terminal, a spreadsheet or a viewer would act on rather than show: C0 and C1 controls (escape
# sequences: clear the screen, write the clipboard, rewrite a line) and the bidirectional overrides
# that reorder text. Newlines and tabs stay; each format deals with newlines.
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: str) -> str:
    """Text from a submission with every control character shown as its code (ESC as \\x1b)."""
    return CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                        value)


def _points(value: float) -> str:
    return f"{value:g}"


def text(result: GradingResult) -> str:
    width = max([len(c.id) for c in result.checks] + [5])
    lines = [f"{result.target}: {result.title}", ""]
    for c in result.checks:
        mark = "PASS" if c.passed else "FAIL"
        lines.append(f"  {mark}  {c.id:<{width}}  {_points(c.earned):>3}/{_points(c.points):<3} {c.description}")
        if not c.passed:
            lines.append(f"        {'':<{width}}  {c.message}")
            lines.append(f"        {'':<{width}}  hint: {c.hint}")
    passed, total = result.counts
    lines += ["", f"  score {_points(result.score)}/{_points(result.max_score)}, {passed}/{total} checks passed"]
    lines += [f"  note: {n}" for n in result.notes]
    return printable("\n".join(lines))


def as_json(result: GradingResult) -> str:
    return json.dumps(result.as_dict(), indent=2)


def gradescope(result: GradingResult, execution_time: float = 0.0, preface: str = "") -> str:
    tests = [{
        "name": f"{c.id}: {c.description}",
        "score": c.earned,
        "max_score": c.points,
        "status": c.status,
        "output": "" if c.passed else printable(f"{c.message}\nHint: {c.hint}"),
        "visibility": "visible",
    } for c in result.checks]
    passed, total = result.counts
    return json.dumps({
        "score": result.score,
        "execution_time": round(execution_time, 3),
        "output": printable((f"{preface}\n\n" if preface else "") + f"{result.target}: {passed}/{total} checks passed"
                            + "".join(f"\n{n}" for n in result.notes)),
        "stdout_visibility": "visible",
        "tests": tests,
    }, indent=2)


def junit(result: GradingResult) -> str:
    passed, total = result.counts
    suite = ET.Element("testsuite", name=result.target, tests=str(total), failures=str(total - passed), errors="0")
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname=result.target, name=c.id)
        if not c.passed:
            failure = ET.SubElement(case, "failure", message=printable(c.message))
            failure.text = printable(f"{c.message}\nHint: {c.hint}")
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode", xml_declaration=True)


def markdown(result: GradingResult) -> str:
    passed, total = result.counts
    lines = [f"# {result.target}: {result.title}", "",
             f"**Score: {_points(result.score)}/{_points(result.max_score)}** ({passed}/{total} checks passed)", "",
             "| check | points | result | what to do |", "|---|---|---|---|"]
    for c in result.checks:
        outcome = "passed" if c.passed else f"failed: {c.message}"
        lines.append(f"| {c.description} | {_points(c.earned)}/{_points(c.points)} | {inert(outcome)} | {inert(c.hint)} |")
    lines += [""] + [f"> {inert(n)}" for n in result.notes]
    return "\n".join(lines).rstrip() + "\n"


def inert(value: str) -> str:
    """Text from a submission (run names, exceptions) as inert Markdown: no table break, no HTML,
    no link or image."""
    return (printable(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("[", "\\[")
            .replace("]", "\\]").replace("|", "\\|").replace("\n", " "))


def html_table(result: GradingResult) -> str:
    passed, total = result.counts
    # JupyterLab right-aligns table cells; sentences read better from the left.
    left = "style='text-align:left'"
    rows = "".join(
        f"<tr><td {left}>{html.escape(c.description)}</td><td>{_points(c.earned)}/{_points(c.points)}</td>"
        f"<td style='color:{'#1a7f37' if c.passed else '#cf222e'}'>{'pass' if c.passed else 'fail'}</td>"
        f"<td {left}>{'' if c.passed else html.escape(printable(c.message + ' Hint: ' + c.hint))}</td></tr>"
        for c in result.checks
    )
    notes = "".join(f"<p><em>{html.escape(printable(n))}</em></p>" for n in result.notes)
    return (f"<p><strong>{html.escape(result.target)}</strong>: {_points(result.score)}/{_points(result.max_score)} points, "
            f"{passed}/{total} checks passed</p><table><thead><tr><th {left}>check</th><th>points</th><th>result</th>"
            f"<th {left}>what to do</th></tr></thead><tbody>{rows}</tbody></table>{notes}")


FORMATS = {"text": text, "json": as_json, "gradescope": gradescope, "junit": junit, "markdown": markdown}
