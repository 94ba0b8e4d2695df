"""class-report.html: a class's results in one page an instructor reads in a minute.

Learners by checks as a heatmap, each check's pass rate, and the hints that the most learners
need. One static file with its own style: no script, nothing fetched. Every word a learner's
work could have put in it (a name, a message) is escaped.
"""
from __future__ import annotations

import statistics
from html import escape

NOTHING_LOGGED = "nothing logged: none of this lab's experiments exists under this learner's names"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.summary { color: #57606a; margin-bottom: 1.5rem; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; }
th.check { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: 500; white-space: nowrap; }
td.cell { width: 1.6rem; text-align: center; }
.pass { background: #2da44e; color: #fff; } .part { background: #d4a72c; } .fail { background: #cf222e; color: #fff; }
.none { background: #eaeef2; color: #57606a; }
td.name { text-align: left; white-space: nowrap; } td.score { text-align: right; font-variant-numeric: tabular-nums; }
.bar { background: #eaeef2; width: 12rem; height: .8rem; display: inline-block; vertical-align: middle; }
.bar span { background: #2da44e; height: 100%; display: block; }
"""


def html(spec, results: dict) -> str:
    """`results`: {learner: GradingResult}, each with spec's checks in spec's order."""
    names = sorted(results, key=lambda n: (-results[n].score, n))
    checks = [c for c in spec.chosen()]
    scores = [results[n].score for n in names]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>{escape(spec.target)}: class report</title><style>{STYLE}</style></head><body>",
             f"<h1>{escape(spec.target)}: {escape(spec.title)}</h1>",
             f"<p class='summary'>{len(names)} learners · mean {_num(statistics.mean(scores) if scores else 0)} "
             f"· median {_num(statistics.median(scores) if scores else 0)} of {_num(spec.max_score)} points · "
             f"{sum(1 for n in names if results[n].passed)} with full marks · "
             f"{sum(1 for n in names if nothing_logged(results[n]))} logged nothing</p>",
             "<h2>Learners by checks</h2>", _heatmap(names, checks, results),
             "<h2>Each check's pass rate</h2>", _rates(names, checks, results),
             "<h2>The hints the most learners need</h2>", _hints(names, checks, results),
             "</body></html>"]
    return "\n".join(parts) + "\n"


def _num(value: float) -> str:
    return f"{value:.3g}"


def nothing_logged(result) -> bool:
    """Every check failed for the one reason grade-class gives a learner with no experiment."""
    return bool(result.checks) and all(c.message.endswith(NOTHING_LOGGED) for c in result.checks)


def _by_id(result) -> dict:
    return {c.id: c for c in result.checks}


def _heatmap(names, checks, results) -> str:
    head = "".join(f"<th class='check' title='{escape(c.description, quote=True)}'>{escape(c.id)}</th>" for c in checks)
    rows = []
    for name in names:
        result = results[name]
        found = _by_id(result)
        nothing = nothing_logged(result)
        cells = []
        for check in checks:
            c = found.get(check.id)
            kind = "none" if nothing or c is None else "pass" if c.passed else "part" if c.earned > 0 else "fail"
            mark = {"pass": "✓", "part": "½", "fail": "✗", "none": "·"}[kind]
            tip = "" if c is None or c.passed else c.message
            cells.append(f"<td class='cell {kind}' title='{escape(tip, quote=True)}'>{mark}</td>")
        rows.append(f"<tr><td class='name'>{escape(name)}</td>{''.join(cells)}"
                    f"<td class='score'>{_num(result.score)}/{_num(result.max_score)}</td></tr>")
    return f"<table><tr><th>learner</th>{head}<th>score</th></tr>{''.join(rows)}</table>"


def _rates(names, checks, results) -> str:
    rows = []
    for check in checks:
        passed = sum(1 for n in names if (c := _by_id(results[n]).get(check.id)) is not None and c.passed)
        rate = passed / len(names) if names else 0.0
        rows.append(f"<tr><td class='name'>{escape(check.id)}</td><td class='name'>{escape(check.description)}</td>"
                    f"<td class='score'>{passed}/{len(names)}</td>"
                    f"<td><span class='bar'><span style='width:{rate * 100:.0f}%'></span></span> {rate:.0%}</td></tr>")
    return f"<table><tr><th>check</th><th>what it asks</th><th>passed</th><th>rate</th></tr>{''.join(rows)}</table>"


def _hints(names, checks, results, shown: int = 5) -> str:
    """Among the learners who logged something: one who logged nothing needs to start, not a hint."""
    names = [n for n in names if not nothing_logged(results[n])]
    needed = []
    for check in checks:
        who = [n for n in names if (c := _by_id(results[n]).get(check.id)) is not None and not c.passed]
        if who:
            needed.append((len(who), check))
    if not needed:
        return "<p>Every learner who logged anything passed every check.</p>"
    needed.sort(key=lambda pair: (-pair[0], pair[1].id))
    items = "".join(f"<li><strong>{count} of {len(names)}</strong> need <em>{escape(check.id)}</em>: "
                    f"{escape(check.hint)}</li>" for count, check in needed[:shown])
    return f"<ol>{items}</ol>"
