"""Expectations are data: ``grading/expectations/<target>.yaml`` says what must exist in MLflow.

A file names the experiments it looks at, the run selections its checks read,
and the checks themselves. This module only loads and validates that data: a
mistake in it is one line at load time, never a lost point in a learner's grade.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from course import labdata
from grading.errors import UsageError

FOLDER = Path(__file__).resolve().parents[1] / "expectations"
TOP_FIELDS = ("title", "served_by", "experiments", "runs", "checks")
CHECK_REQUIRED = ("id", "kind", "points", "description", "hint")
CHECK_FIELDS = {*CHECK_REQUIRED, "message", "when"}
OPTIONS = {"reproduce"}  # a check with `when: reproduce` runs only when the grader is asked to
# Where the work is logged when it is not the store the grader is given. "production-stack": a
# section run-course runs against a stack it starts for it. "own-server": the notebook starts a
# server of its own, on a store of the learner's own when the tracking URI is a class server
# (course.tracking.own_server_store), which grade-class cannot read.
SERVED_BY = {"production-stack", "own-server"}
DEFAULT_MESSAGE = "expected {expected}; found {found}"

# A field's type, by the name an error message shows.
TEXT, NUMBER, WHOLE, FLAG, SCALAR = "text", "a number", "a whole number", "true or false", "text or a number"
MAPPING, LISTS, NAMES, RENAMES = "a mapping", "a mapping of lists", "a list of names", "a mapping of names to names"
TYPES = {
    TEXT: lambda v: isinstance(v, str),
    NUMBER: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    WHOLE: lambda v: isinstance(v, int) and not isinstance(v, bool),
    FLAG: lambda v: isinstance(v, bool),
    SCALAR: lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool),
    MAPPING: lambda v: isinstance(v, dict),
    LISTS: lambda v: isinstance(v, dict) and all(isinstance(x, list) for x in v.values()),
    NAMES: lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    RENAMES: lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in [*v, *v.values()]),
}


@dataclass(frozen=True)
class Fields:
    """A kind's own fields, each with its type: those it reads as spec[...] and as spec.get(...)."""
    required: dict[str, str]
    optional: dict[str, str] = field(default_factory=dict)
    open: bool = False  # python: further fields belong to the function it calls


EXPECTED = {"expected": TEXT}  # kinds built on kinds._each_run take a custom "expected" text
FIELDS = {
    "experiment_exists": Fields({"experiment": TEXT}, {"artifact_scheme": TEXT}),
    "run_count": Fields({"runs": TEXT}, {"min": NUMBER, "max": NUMBER, "each": LISTS, "distinct": TEXT,
                                         "min_distinct": WHOLE, "requires": TEXT}),
    "params": Fields({"runs": TEXT, "params": MAPPING}, EXPECTED),
    "metrics": Fields({"runs": TEXT, "metrics": MAPPING}, EXPECTED),
    "tags": Fields({"runs": TEXT, "tags": MAPPING}, EXPECTED),
    "artifacts": Fields({"runs": TEXT}, {"files": MAPPING, **EXPECTED}),
    "logged_model": Fields({"runs": TEXT}, {"name": TEXT, "flavor": TEXT, "signature_inputs": WHOLE,
                                                         "signature_columns": NAMES, "model_metrics": NAMES,
                                                         "key_tag": TEXT, "destination": TEXT, **EXPECTED}),
    "registered_model": Fields({"runs": TEXT, "name": TEXT, "best_by": TEXT},
                               {"alias": TEXT, "higher_is_better": FLAG, "signature": FLAG}),
    "dataset_input": Fields({"runs": TEXT}, {"name": TEXT, "digest": SCALAR, "digest_from_tag": TEXT, **EXPECTED}),
    "recomputed_metric": Fields({"runs": TEXT, "metric": TEXT, "dataset": TEXT},
                                {"name": TEXT, "tolerance": NUMBER, "score": TEXT, "split": TEXT,
                                 "model": TEXT}),
    "python": Fields({"function": TEXT}, {"runs": TEXT, "experiment": TEXT}, open=True),
    "reproducible": Fields({"runs": TEXT, "same": NAMES, "metrics": NAMES},
                           {"tolerance": NUMBER, "min_repeated": WHOLE}),
    "project_reproduces": Fields({"runs": TEXT, "project": TEXT, "params": RENAMES, "metrics": NAMES},
                                 {"entry_point": TEXT, "tolerance": NUMBER, "timeout": NUMBER}),
    "lineage": Fields({"runs": TEXT, "repo_tag": TEXT, "commit_tag": TEXT, "version_tag": TEXT, "dvc_file": TEXT},
                      EXPECTED),
}
SELECTION = Fields({"experiment": TEXT}, {"filter": TEXT, "group_by": NAMES, "parent": TEXT, "keep": TEXT,
                                        "logged_model": FLAG})
# Inside a params or metrics rule and an artifact's content: a typo there would silently check less.
PARAM_KEYS, METRIC_KEYS = ("type", "equals", "one_of", "salt", "sha256"), ("min", "max", "equals", "tolerance", "min_steps")
PARAM_CASTS = {"int": int, "float": float, "str": str}  # as kinds.params casts a logged value
FILE_KINDS = ("any", "image", "json", "table")
SCORES = ("accuracy", "f1", "precision", "recall", "roc_auc", "rmse", "mae", "r2")  # grading.engine.recompute.SCORES


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
    logged_model: bool = False  # only runs that logged a model (MLflow 3 sets no run tag that says so)


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

    @property
    def exercise(self) -> bool:
        """Grades a learner's exercise: its description starts "Exercise N: " (labs/README.md)."""
        return self.description.startswith("Exercise ")


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


def load(target: str, folder: Path = FOLDER, filters: bool = True) -> Expectations:
    """The target's expectations. filters=False leaves out parsing the run filters, which imports
    MLflow (about 1 s); a caller that does so runs check_filters before it selects any run."""
    path = folder / f"{target}.yaml"
    if not path.exists():
        raise UsageError(f"unknown target {target}; valid targets: {', '.join(targets(folder))}")
    shown = _shown_path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UsageError(f"{shown} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {shown}: {getattr(exc, 'strerror', None) or 'it is not UTF-8 text'}") from None
    return parse(target, data, origin=shown, filters=filters)


def check_filters(spec: Expectations, folder: Path = FOLDER) -> None:
    """The filter check load(filters=False) left out, with the same one-line error."""
    for sel in spec.runs.values():
        problem = _filter_problem(sel.filter)
        if problem:
            raise UsageError(f"{_shown_path(folder / f'{spec.target}.yaml')}: {_unparsable(sel.name, sel.filter, problem)}")


def _unparsable(name: str, text: str, problem: str) -> str:
    return f"run selection {name!r} has a filter MLflow cannot parse, {text!r}: {problem}"


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse(target: str, data: dict, origin: str = "<expectations>", filters: bool = True) -> Expectations:
    try:
        return _parse(target, data, filters)
    except UsageError as exc:
        raise UsageError(f"{origin}: {exc}") from None


def _parse(target: str, data, filters: bool = True) -> Expectations:
    if not isinstance(data, dict):
        raise UsageError(f"holds {_shown(data)}, not a mapping with title, experiments and checks"
                         if data is not None else "is empty; it needs title, experiments and checks")
    unknown = [k for k in data if k not in TOP_FIELDS]
    if unknown:
        raise UsageError(f"has unknown field {unknown[0]!r} (the fields are {', '.join(TOP_FIELDS)})"
                         + _did_you_mean(unknown[0], TOP_FIELDS))
    if data.get("served_by") is not None and data["served_by"] not in sorted(SERVED_BY):
        raise UsageError(f"served_by is {data['served_by']!r}; use {', '.join(sorted(SERVED_BY))} or leave it out")
    title = data.get("title", target)
    if not isinstance(title, str):
        raise UsageError(f"title must be text, not {_shown(title)}")
    experiments = data.get("experiments") or {}
    if not isinstance(experiments, dict) or not experiments:
        raise UsageError("names no experiments; give experiments: {key: experiment name}")
    for key, name in experiments.items():
        if not isinstance(key, str) or not isinstance(name, str) or not name:
            raise UsageError(f"experiment {key!r} must name an experiment, not {_shown(name)}")
    runs = _selections(data.get("runs"), experiments, filters)
    raw_checks = data.get("checks")
    if raw_checks is not None and not isinstance(raw_checks, list):
        raise UsageError(f"checks is {_shown(raw_checks)}, not a list (each check starts with `- id:`)")
    checks, seen = [], set()
    for number, raw in enumerate(raw_checks or [], start=1):
        check = _check(number, raw, experiments, runs)
        if check.id in seen:
            raise UsageError(f"check id {check.id!r} appears twice")
        seen.add(check.id)
        checks.append(check)
    if not checks:
        raise UsageError("has no checks")
    return Expectations(target, title, dict(experiments), runs, tuple(checks), data.get("served_by"))


def _selections(raw, experiments: dict, filters: bool = True) -> dict[str, RunSelection]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError(f"runs is {_shown(raw)}, not a mapping of selection names to selections")
    runs = {}
    for name, sel in raw.items():
        what = f"run selection {name!r}"
        if not isinstance(sel, dict):
            raise UsageError(f"{what} is {_shown(sel)}, not a mapping with experiment "
                             "(and filter, group_by, parent, keep, logged_model)")
        _validate_fields(what, sel, SELECTION, "a run selection")
        if sel["experiment"] not in experiments:
            raise UsageError(f"{what} names unknown experiment {sel['experiment']!r}; "
                             f"experiments: {', '.join(experiments)}")
        bad_keys = [k for k in sel.get("group_by", ()) if not k.startswith(("params.", "metrics.", "tags."))
                    and k != "inputs.digest"]
        if bad_keys:
            raise UsageError(f"{what} groups by {bad_keys[0]!r}; keys start with params., metrics. or tags., "
                             "or are inputs.digest")
        if sel.get("keep", "latest") not in ("latest", "all"):
            raise UsageError(f"{what} has keep {sel['keep']!r}; use latest or all")
        problem = _filter_problem(sel.get("filter", "")) if filters else None
        if problem:
            raise UsageError(_unparsable(name, sel["filter"], problem))
        runs[name] = RunSelection(name, sel["experiment"], sel.get("filter", ""), tuple(sel.get("group_by", ())),
                                  sel.get("parent"), sel.get("keep", "latest"), sel.get("logged_model", False))
    for sel in runs.values():
        if sel.parent and sel.parent not in runs:
            raise UsageError(f"run selection {sel.name!r} has unknown parent {sel.parent!r}")
        ancestor, hops = sel.parent, 0
        while ancestor and hops <= len(runs):  # a cycle would recurse without end while grading
            ancestor, hops = runs[ancestor].parent, hops + 1
        if ancestor:
            raise UsageError(f"run selection {sel.name!r} is its own ancestor through parent; break the cycle")
    return runs


def _filter_problem(text: str) -> str | None:
    """MLflow's own reason it cannot parse a run filter, or None; Store.select parses it the same way."""
    if not text:
        return None
    from mlflow.utils.search_utils import SearchUtils

    try:
        SearchUtils.parse_search_filter(text)
    except Exception as exc:  # MlflowException mostly; odd input may raise others
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return None


def _check(number: int, raw, experiments: dict, runs: dict) -> Check:
    if not isinstance(raw, dict):
        raise UsageError(f"check #{number} is {_shown(raw)}, not a mapping with {', '.join(CHECK_REQUIRED)}")
    what = f"check {raw['id']!r}" if isinstance(raw.get("id"), str) else f"check #{number}"
    missing = [k for k in CHECK_REQUIRED if k not in raw]
    if missing:
        raise UsageError(f"{what} lacks field {missing[0]!r} (every check needs: {', '.join(CHECK_REQUIRED)})")
    for key in ("id", "kind", "description", "hint", "message"):
        if key in raw and not isinstance(raw[key], str):
            raise UsageError(f"{what} field {key!r} must be text, not {_shown(raw[key])}")
    points = raw["points"]
    if not TYPES[NUMBER](points) or not math.isfinite(points) or points < 0:
        raise UsageError(f"{what} has points {_shown(points)}; use a number, 0 or more")
    kind = raw["kind"]
    if kind not in FIELDS:  # FIELDS names every kind (a test holds it equal to kinds.KINDS)
        raise UsageError(f"{what} has unknown kind {kind!r}; kinds: {', '.join(sorted(FIELDS))}"
                         + _did_you_mean(kind, FIELDS))
    if raw.get("when") is not None and raw["when"] not in sorted(OPTIONS):
        raise UsageError(f"{what} has when {raw['when']!r}; options: {', '.join(sorted(OPTIONS))}")
    message = raw.get("message", DEFAULT_MESSAGE).strip()
    try:
        message.format(expected="", found="")
    except (KeyError, IndexError, ValueError):
        raise UsageError(f"{what} has a message with a placeholder other than {{expected}} and {{found}}") from None
    spec = {k: v for k, v in raw.items() if k not in CHECK_FIELDS}
    _validate_fields(what, spec, FIELDS[kind], f"kind {kind}")
    for ref_key, table, noun in (("runs", runs, "run selection"), ("requires", runs, "run selection"),
                                 ("experiment", experiments, "experiment")):
        if ref_key in spec and spec[ref_key] not in table:
            raise UsageError(f"{what} names unknown {noun} {spec[ref_key]!r}; {noun}s: {', '.join(table) or 'none'}")
    _validate_rules(what, kind, spec)
    return Check(raw["id"], kind, float(points), raw["description"].strip(), raw["hint"].strip(), message, spec,
                 raw.get("when"))


def _validate_fields(what: str, given: dict, fields: Fields, owner: str) -> None:
    """Every required field present, no unknown one (likely a typo), each of its declared type."""
    for key in fields.required:
        if key not in given:
            raise UsageError(f"{what} lacks field {key!r} ({owner} needs: {', '.join(fields.required)})")
    known = {**fields.required, **fields.optional}
    for key, value in given.items():
        if key not in known:
            if fields.open:
                continue
            raise UsageError(f"{what} has unknown field {key!r} ({owner} takes: {', '.join(known)})"
                             + _did_you_mean(key, known))
        if not TYPES[known[key]](value):
            raise UsageError(f"{what} field {key!r} must be {known[key]}, not {_shown(value)}")


def _validate_rules(what: str, kind: str, spec: dict) -> None:
    """The values inside params, metrics, tags and files, which the kinds use without checking."""
    if kind == "params":
        for name, rule in spec["params"].items():
            _validate_param_rule(f"{what} param {name!r}", rule)
    if kind == "metrics":
        for name, rule in spec["metrics"].items():
            if rule is not None and not isinstance(rule, dict):
                raise UsageError(f"{what} metric {name!r} must be a mapping of {', '.join(METRIC_KEYS)}, or empty")
            _validate_keys(f"{what} metric {name!r}", rule or {}, METRIC_KEYS)
            if not all(TYPES[NUMBER](v) for v in (rule or {}).values()):
                raise UsageError(f"{what} metric {name!r} needs numbers for {', '.join(rule)}")
    if kind == "tags":
        for name, value in spec["tags"].items():
            if value is not None and not isinstance(value, (str, int, float)):
                raise UsageError(f"{what} tag {name!r} must be a value, or null for any value, not {_shown(value)}")
    if kind == "artifacts":
        for pattern, content in (spec.get("files") or {}).items():
            if content is not None and content not in FILE_KINDS:
                raise UsageError(f"{what} file {pattern!r} has content {content!r}; use {', '.join(FILE_KINDS)}")
    if kind == "recomputed_metric" and spec.get("score", spec["metric"]) not in SCORES:
        raise UsageError(f"{what} scores {spec.get('score', spec['metric'])!r}; name one of {', '.join(SCORES)} "
                         "with `score:` (the logged metric's name may differ)")
    if kind == "recomputed_metric" and spec["dataset"] not in labdata.names():
        raise UsageError(f"{what} names dataset {spec['dataset']!r}; add course/labdata/{spec['dataset']}.py "
                         f"or name one of {', '.join(labdata.names())}")
    if kind == "recomputed_metric" and spec.get("split", "test") not in labdata.PARTS:
        raise UsageError(f"{what} has split {spec['split']!r}; use one of {', '.join(labdata.PARTS)}")
    if kind == "recomputed_metric" and "model" in spec and not re.fullmatch(r"[^@\s]+@[\w-]+", spec["model"]):
        raise UsageError(f"{what} has model {spec['model']!r}; write it as <registered name>@<alias>")
    if kind == "logged_model" and ("key_tag" in spec) != ("destination" in spec):
        raise UsageError(f"{what} needs key_tag and destination together (the tag, and the server's s3:// "
                         "artifacts destination its key is under)")
    if kind == "logged_model" and not re.fullmatch(r"s3://[^/\s]+(/\S*)?", spec.get("destination", "s3://b")):
        raise UsageError(f"{what} has destination {spec['destination']!r}; write it as s3://<bucket>/<prefix>")
    if kind == "python" and ":" not in spec["function"]:
        raise UsageError(f"{what} field 'function' is {spec['function']!r}; write it as module:callable")


def _validate_param_rule(what: str, rule) -> None:
    if rule is None:  # kinds.params would then require the text "None"
        raise UsageError(f"{what} is null; write {{}} to require only that it is logged, or give its value")
    rule = rule if isinstance(rule, dict) else {"equals": rule}
    _validate_keys(what, rule, PARAM_KEYS)
    cast = PARAM_CASTS.get(rule.get("type", "str"))
    if cast is None:
        raise UsageError(f"{what} has type {rule['type']!r}; use {', '.join(PARAM_CASTS)}")
    if "equals" in rule:
        try:
            if not isinstance(rule["equals"], (str, int, float)):
                raise TypeError
            cast(rule["equals"])
        except (TypeError, ValueError):
            raise UsageError(f"{what} equals {_shown(rule['equals'])}, which is not {rule.get('type', 'str')}") from None
    if "sha256" in rule and not re.fullmatch(r"[0-9a-f]{64}", str(rule["sha256"])):
        raise UsageError(f"{what} sha256 must be 64 lowercase hex digits (sha256 of salt + value)")
    if "salt" in rule and ("sha256" not in rule or not isinstance(rule["salt"], str)):
        raise UsageError(f"{what} salt must be text, and goes with sha256")
    one_of = rule.get("one_of", [])
    if not isinstance(one_of, list) or not all(isinstance(v, (str, int, float)) for v in one_of):
        raise UsageError(f"{what} one_of must be a list of values, not {_shown(one_of)}")


def _validate_keys(what: str, rule: dict, allowed: tuple[str, ...]) -> None:
    unknown = [k for k in rule if k not in allowed]
    if unknown:
        raise UsageError(f"{what} has unknown key {unknown[0]!r} (use {', '.join(allowed)})"
                         + _did_you_mean(unknown[0], allowed))


def _shown(value) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
