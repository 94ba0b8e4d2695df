"""Expectations are data: ``grading/expectations/<target>.yaml`` says what must exist in MLflow.

A file names the experiments it looks at, the run selections its checks read,
and the checks themselves. This module only loads and validates that data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grading.errors import UsageError

FOLDER = Path(__file__).resolve().parent / "expectations"
CHECK_FIELDS = {"id", "kind", "points", "description", "message", "hint", "when"}
OPTIONS = {"reproduce"}  # a check with `when: reproduce` runs only when the grader is asked to
SERVED_BY = {"production-stack"}  # a section run-course runs against a stack it starts for it
DEFAULT_MESSAGE = "expected {expected}; found {found}"


@dataclass(frozen=True)
class RunSelection:
    """Which runs a check reads: finished runs matching `filter` (and `parent`), the latest one per
    `group_by` configuration; with no group_by, the single latest run; with `keep: all`, every one."""
    name: str
    experiment: str
    filter: str = ""
    group_by: tuple[str, ...] = ()
    parent: str | None = None  # another selection whose single run is the parent
    keep: str = "latest"  # or "all"


@dataclass(frozen=True)
class Check:
    id: str
    kind: str
    points: float
    description: str
    hint: str
    message: str = DEFAULT_MESSAGE
    spec: dict = field(default_factory=dict)  # the kind's own fields
    when: str | None = None  # an option (see OPTIONS) the check needs, e.g. "reproduce"


@dataclass(frozen=True)
class Expectations:
    target: str
    title: str
    experiments: dict[str, str]
    runs: dict[str, RunSelection]
    checks: tuple[Check, ...]
    served_by: str | None = None  # see SERVED_BY; None: the store run-course was given

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks if c.when is None)

    def chosen(self, options: set[str] = frozenset()) -> list[Check]:
        """The checks that run with these options: every unconditional one, plus those they enable."""
        return [c for c in self.checks if c.when is None or c.when in options]


def targets(folder: Path = FOLDER) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load(target: str, folder: Path = FOLDER) -> Expectations:
    path = folder / f"{target}.yaml"
    if not path.exists():
        raise UsageError(f"unknown target {target}; valid targets: {', '.join(targets(folder))}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse(target, data, origin=str(path))


def parse(target: str, data: dict, origin: str = "<expectations>") -> Expectations:
    from grading.kinds import KINDS

    def fail(why: str):
        raise UsageError(f"{origin}: {why}")

    if not isinstance(data, dict):
        fail("must be a mapping with title, experiments and checks")
    if data.get("served_by") is not None and data["served_by"] not in SERVED_BY:
        fail(f"served_by is {data['served_by']!r}; use {', '.join(sorted(SERVED_BY))} or leave it out")
    experiments = data.get("experiments") or {}
    if not experiments:
        fail("names no experiments")
    runs = {}
    for name, sel in (data.get("runs") or {}).items():
        if sel.get("experiment") not in experiments:
            fail(f"run selection {name!r} names unknown experiment {sel.get('experiment')!r}")
        bad_keys = [k for k in sel.get("group_by", ()) if not k.startswith(("params.", "metrics.", "tags.")) and k != "inputs.digest"]
        if bad_keys:
            fail(f"run selection {name!r} groups by {bad_keys[0]!r}; keys start with params., metrics. or tags., or are inputs.digest")
        if sel.get("keep", "latest") not in ("latest", "all"):
            fail(f"run selection {name!r} has keep {sel['keep']!r}; use latest or all")
        runs[name] = RunSelection(name, sel["experiment"], sel.get("filter", ""),
                                  tuple(sel.get("group_by", ())), sel.get("parent"), sel.get("keep", "latest"))
    for sel in runs.values():
        if sel.parent and sel.parent not in runs:
            fail(f"run selection {sel.name!r} has unknown parent {sel.parent!r}")
    checks, seen = [], set()
    for raw in data.get("checks") or []:
        missing = {"id", "kind", "points", "description", "hint"} - raw.keys()
        if missing:
            fail(f"check {raw.get('id', '?')!r} lacks {', '.join(sorted(missing))}")
        if raw["id"] in seen:
            fail(f"check id {raw['id']!r} appears twice")
        seen.add(raw["id"])
        if raw["kind"] not in KINDS:
            fail(f"check {raw['id']!r} has unknown kind {raw['kind']!r}; kinds: {', '.join(sorted(KINDS))}")
        if raw.get("when") is not None and raw["when"] not in OPTIONS:
            fail(f"check {raw['id']!r} has when {raw['when']!r}; options: {', '.join(sorted(OPTIONS))}")
        spec = {k: v for k, v in raw.items() if k not in CHECK_FIELDS}
        for ref_key, table in (("runs", runs), ("experiment", experiments)):
            if ref_key in spec and spec[ref_key] not in table:
                fail(f"check {raw['id']!r} names unknown {ref_key} {spec[ref_key]!r}")
        checks.append(Check(raw["id"], raw["kind"], float(raw["points"]), raw["description"].strip(),
                            raw["hint"].strip(), raw.get("message", DEFAULT_MESSAGE).strip(), spec, raw.get("when")))
    if not checks:
        fail("has no checks")
    return Expectations(target, data.get("title", target), dict(experiments), runs, tuple(checks),
                        data.get("served_by"))
