"""The pins: exact everywhere, and the same for pip and conda users."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([A-Za-z0-9_.\-+]+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        assert match, f"not an exact pin: {line!r}"
        found[canonical(match.group(1))] = match.group(2)
    return found


def pyproject_pins(extras: bool = True) -> dict[str, str]:
    """The direct pins; with extras, the test tools too (environment.yml is a working environment)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = project.get("optional-dependencies", {}).values() if extras else []
    return pins([*project["dependencies"], *(d for group in groups for d in group)])


def conda_pip_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    return pins(pip_sections[0])


def lock_pins() -> dict[str, str]:
    lines = [l for l in (ROOT / "requirements.lock").read_text().splitlines() if l.strip() and not l.startswith("#")]
    return pins(lines)


def test_every_direct_dependency_is_pinned_exactly_and_mlflow_is_3_17_2():
    direct = pyproject_pins()
    assert direct["mlflow"] == "3.17.2"
    for required in ["scikit-learn", "pandas", "matplotlib", "jupyterlab", "papermill", "nbclient",
                     "nbformat", "ipykernel", "pytest", "nbval", "skops"]:
        assert required in direct, f"{required} is not pinned in pyproject.toml"


def test_test_tools_are_an_extra_not_a_runtime_dependency():
    runtime, test = pyproject_pins(extras=False), pyproject_pins()
    for tool in ["pytest", "nbval", "pytest-xdist", "playwright"]:
        assert tool not in runtime and tool in test, tool


def test_environment_yml_pins_the_same_versions_as_pyproject():
    assert conda_pip_pins() == pyproject_pins()


def test_environment_yml_and_pyproject_agree_on_python_3_11():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    assert "python=3.11" in env["dependencies"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == "==3.11.*"


def test_lock_contains_every_direct_pin_at_the_same_version():
    lock = lock_pins()
    for name, version in pyproject_pins().items():
        assert lock.get(name) == version, f"requirements.lock has {name}=={lock.get(name)}, pyproject {version}"


def test_installed_versions_match_the_lock():
    from importlib.metadata import PackageNotFoundError, version

    mismatched = {}
    for name, pinned in lock_pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            mismatched[name] = (pinned, installed)
    assert not mismatched, f"installed packages differ from requirements.lock: {mismatched}"


def test_the_lock_is_complete_and_nbformat_imports_without_the_iri_parser():
    """The lock is installed with --no-deps, so it must hold everything pip check asks for; and
    rfc3987-syntax, left out on purpose, must not come back: it made every import of nbformat
    (each papermill run and sandboxed submission) 0.8 s slower."""
    import subprocess
    import sys

    assert "rfc3987-syntax" not in lock_pins() and "lark" not in lock_pins()
    checked = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    probe = "import sys, nbformat, papermill; print('rfc3987_syntax' in sys.modules)"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "False"
    for recipe in ("Makefile", "docker/Dockerfile"):
        assert "--no-deps -r requirements.lock" in (ROOT / recipe).read_text(), recipe
