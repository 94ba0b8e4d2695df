"""Loading expectations: each kind declares its fields, and a mistake is one line naming file, check and field."""
from __future__ import annotations

import ast
import copy
import inspect
import textwrap

import pytest
from mlflow.utils.search_utils import SearchUtils

from grading.engine import expectations, kinds
from grading.engine.kinds import reproducibility
from grading.errors import UsageError
from grading.engine.expectations import FIELDS
from grading.engine.kinds import KINDS

ORIGIN = "grading/expectations/lab04.yaml"
VALID = {
    "title": "T",
    "experiments": {"main": "exp"},
    "runs": {"sweep": {"experiment": "main", "filter": "tags.purpose = 'x'", "group_by": ["params.C"]}},
    "checks": [
        {"id": "accuracy-truthful", "kind": "recomputed_metric", "runs": "sweep", "metric": "accuracy",
         "dataset": "lab04", "points": 10, "description": "d", "hint": "h"},
        {"id": "exists", "kind": "experiment_exists", "experiment": "main", "points": 1, "description": "d", "hint": "h"},
        {"id": "params", "kind": "params", "runs": "sweep", "params": {"C": {"type": "float"}}, "points": 1,
         "description": "d", "hint": "h"},
    ],
}


def _spec_reads(function) -> set[str]:
    """The fields a kind reads from its `spec` (spec["x"], spec.get("x")), itself or through the helpers it calls."""
    module = inspect.getmodule(function)
    found = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "spec" \
                and isinstance(node.slice, ast.Constant):
            found.add(node.slice.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and getattr(node.func.value, "id", None) == "spec" and isinstance(node.args[0], ast.Constant):
            found.add(node.args[0].value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            helper = getattr(module, node.func.id, None)
            if inspect.isfunction(helper) and helper is not function and helper.__module__ in HELPER_MODULES \
                    and "spec" in inspect.signature(helper).parameters:
                found |= _spec_reads(helper)
    return found


HELPER_MODULES = {m.__name__ for m in (kinds.common, kinds.runs, kinds.artifacts, kinds.models, kinds.truth,
                                        kinds.python_function, reproducibility)}


def test_every_kind_declares_the_fields_it_reads():
    assert set(FIELDS) == set(KINDS)
    for kind, function in KINDS.items():
        fields = FIELDS[kind]
        assert fields.required and not set(fields.required) & set(fields.optional), kind
        declared, read = {*fields.required, *fields.optional}, _spec_reads(function)
        assert read <= declared if fields.open else read == declared, f"{kind} reads {sorted(read)}"


def test_every_expectation_file_loads_and_mlflow_parses_its_filters():
    for target in expectations.targets():
        spec = expectations.load(target)
        assert spec.max_score > 0
        for selection in spec.runs.values():
            SearchUtils.parse_search_filter(selection.filter)


def test_a_missing_field_names_the_file_the_check_and_what_the_kind_needs():
    data = copy.deepcopy(VALID)
    del data["checks"][0]["metric"]
    with pytest.raises(UsageError) as raised:
        expectations.parse("lab04", data, origin=ORIGIN)
    assert str(raised.value) == ("grading/expectations/lab04.yaml: check 'accuracy-truthful' lacks field 'metric' "
                                 "(kind recomputed_metric needs: runs, metric, dataset)")


def _set(path, value):
    def mutate(data):
        *parents, last = path
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def _drop(path):
    def mutate(data):
        *parents, last = path
        node = data
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


TRUTHFUL = ("checks", 0)
MISTAKES = {
    # name: (mutation, words the one line must hold)
    "unknown field": (_set((*TRUTHFUL, "tolerence"), 1e-6),
                      ["check 'accuracy-truthful'", "unknown field 'tolerence'", "did you mean 'tolerance'?"]),
    "wrong type": (_set((*TRUTHFUL, "tolerance"), "small"),
                   ["check 'accuracy-truthful'", "field 'tolerance' must be a number, not 'small'"]),
    "wrong type of a required field": (_set((*TRUTHFUL, "metric"), ["accuracy"]),
                                       ["check 'accuracy-truthful'", "field 'metric' must be text"]),
    "unknown run selection": (_set((*TRUTHFUL, "runs"), "swep"),
                              ["check 'accuracy-truthful'", "unknown run selection 'swep'", "run selections: sweep"]),
    "unknown experiment": (_set(("checks", 1, "experiment"), "other"),
                           ["check 'exists'", "unknown experiment 'other'"]),
    "selection not a mapping": (_set(("runs", "sweep"), "main"), ["run selection 'sweep' is 'main', not a mapping"]),
    "selection without experiment": (_drop(("runs", "sweep", "experiment")),
                                     ["run selection 'sweep' lacks field 'experiment'"]),
    "selection with a typo": (_set(("runs", "sweep", "fliter"), "x"),
                              ["run selection 'sweep' has unknown field 'fliter'", "did you mean 'filter'?"]),
    "selection on an unknown experiment": (_set(("runs", "sweep", "experiment"), "nope"),
                                           ["run selection 'sweep' names unknown experiment 'nope'"]),
    "filter MLflow cannot parse": (_set(("runs", "sweep", "filter"), "tags.purpose = 'x' or tags.a = 'b'"),
                                   ["run selection 'sweep' has a filter MLflow cannot parse", "Invalid clause"]),
    "unquoted param value in a filter": (_set(("runs", "sweep", "filter"), "params.C = 1"),
                                         ["run selection 'sweep'", "quoted string value"]),
    "parent cycle": (_set(("runs", "sweep", "parent"), "sweep"), ["run selection 'sweep' is its own ancestor"]),
    "checks not a list": (_set(("checks",), {"id": "x"}), ["checks is {'id': 'x'}, not a list"]),
    "check not a mapping": (_set(("checks", 2), "params"), ["check #3 is 'params', not a mapping"]),
    "check without hint": (_drop((*TRUTHFUL, "hint")), ["check 'accuracy-truthful' lacks field 'hint'"]),
    "points as text": (_set((*TRUTHFUL, "points"), "10"), ["check 'accuracy-truthful' has points '10'"]),
    "negative points": (_set((*TRUTHFUL, "points"), -1), ["check 'accuracy-truthful' has points -1"]),
    "points true": (_set((*TRUTHFUL, "points"), True), ["has points True"]),
    "typo in a param rule": (_set(("checks", 2, "params", "C"), {"tpye": "float"}),
                             ["check 'params' param 'C' has unknown key 'tpye'", "did you mean 'type'?"]),
    "param equals of the wrong type": (_set(("checks", 2, "params", "C"), {"type": "int", "equals": "one"}),
                                       ["check 'params' param 'C' equals 'one', which is not int"]),
    "digest that is not sha256": (_set(("checks", 2, "params", "C"), {"salt": "s", "sha256": "abc"}),
                                  ["check 'params' param 'C' sha256 must be 64 lowercase hex digits"]),
    "message with an unknown placeholder": (_set((*TRUTHFUL, "message"), "got {value}"),
                                            ["check 'accuracy-truthful' has a message with a placeholder"]),
    "dataset without lab data": (_set((*TRUTHFUL, "dataset"), "lab99"),
                                 ["check 'accuracy-truthful' names dataset 'lab99'", "course/labdata/lab99.py"]),
    "unknown top-level field": (_set(("check",), []), ["unknown field 'check'", "did you mean 'checks'?"]),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_a_mistake_is_one_line_naming_the_file_and_where(name):
    mutate, words = MISTAKES[name]
    data = copy.deepcopy(VALID)
    mutate(data)
    with pytest.raises(UsageError) as raised:
        expectations.parse("lab04", data, origin=ORIGIN)
    message = str(raised.value)
    assert message.startswith(f"{ORIGIN}: ") and "\n" not in message, message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("data", [None, ["checks"], "text", 3])
def test_a_file_that_is_not_a_mapping_is_refused(data):
    with pytest.raises(UsageError, match=f"^{ORIGIN}: .*(not a mapping|is empty)"):
        expectations.parse("lab04", data, origin=ORIGIN)


def test_a_python_check_may_carry_fields_for_its_function():
    data = copy.deepcopy(VALID)
    data["checks"].append({"id": "custom", "kind": "python", "function": "grading.engine.kinds.custom:artifacts_went_through_server",
                           "runs": "sweep", "threshold": 3, "points": 1, "description": "d", "hint": "h"})
    assert expectations.parse("lab04", data).checks[-1].spec["threshold"] == 3
    data["checks"][-1]["runs"] = "nope"
    with pytest.raises(UsageError, match="unknown run selection 'nope'"):
        expectations.parse("lab04", data)


def test_no_grading_module_names_a_lab_or_a_section():
    """A lab is data: its expectations file and course/labdata, never code under grading/."""
    from pathlib import Path
    import re

    labs = [p.stem for p in expectations.FOLDER.glob("*.yaml")]
    numbers = sorted({n.split("-")[0] for n in labs if n[:2].isdigit()})
    named = re.compile(r"\b(" + "|".join(re.escape(n) for n in labs) + r")\b|\bsections? (" + "|".join(numbers) + r")\b")
    for module in Path(expectations.__file__).parent.rglob("*.py"):
        found = named.findall(module.read_text())
        assert not found, f"{module.name} names {found}"


def test_filters_left_out_at_load_are_refused_later_with_the_same_line(tmp_path):
    """The autograder loads a lab without parsing its filters (that imports MLflow, ~1 s on its
    critical path) and checks them in its warm-up: the same one line either way."""
    import subprocess
    import sys

    import yaml

    data = copy.deepcopy(VALID)
    data["runs"]["sweep"]["filter"] = "tags.purpose = 'x' or tags.a = 'b'"
    (tmp_path / "lab04.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(UsageError) as at_load:
        expectations.load("lab04", tmp_path)
    spec = expectations.load("lab04", tmp_path, filters=False)
    with pytest.raises(UsageError) as later:
        expectations.check_filters(spec, tmp_path)
    assert str(later.value) == str(at_load.value) and "cannot parse" in str(later.value)
    imported = subprocess.run([sys.executable, "-c", "import sys; from grading.engine import expectations; "
                               "expectations.load('lab04', filters=False); print('mlflow' in sys.modules)"],
                              capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "False"
