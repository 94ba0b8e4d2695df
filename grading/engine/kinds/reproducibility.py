"""Check kinds for reproducibility and lineage: repeated runs agree, a project re-runs to the same
metrics, and a run's data version and commit are real in the repository it names."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from course import paths
from grading.engine.kinds.common import Outcome, each_run, run_label, select_runs
from grading.engine.store import value_of


def reproducible(store, spec) -> Outcome:
    """Runs that agree on every `same` key (params, inputs.digest) must agree on every metric."""
    keys, names, tolerance = spec["same"], spec["metrics"], spec.get("tolerance", 1e-9)
    expected = (f"runs with equal {', '.join(keys)} to have equal {', '.join(names)} (±{tolerance:g}), "
                f"and at least {spec.get('min_repeated', 1)} configuration run more than once")
    selected, missing = select_runs(store, spec)
    if missing:
        return missing
    groups: dict[tuple, list] = {}
    for run in selected.runs:
        groups.setdefault(tuple(value_of(run, k) for k in keys), []).append(run)
    repeated = [runs for runs in groups.values() if len(runs) > 1]
    problems = []
    for runs in repeated:
        first = runs[0]
        for other in runs[1:]:
            for name in names:
                a, b = first.data.metrics.get(name), other.data.metrics.get(name)
                if a is None or b is None:
                    problems.append(f"{run_label(first if a is None else other)}: no metric {name}")
                elif abs(a - b) > tolerance:
                    problems.append(f"{run_label(first)} and {run_label(other)} share {', '.join(keys)} "
                                    f"but {name} is {a:.10g} vs {b:.10g}")
    if len(repeated) < spec.get("min_repeated", 1):
        problems.append(f"{len(repeated)} configuration(s) run more than once among {len(selected.runs)} run(s)")
    found = "; ".join(problems[:4]) or f"{len(repeated)} repeated configuration(s), metrics equal"
    return Outcome(not problems, expected, found)


def project_reproduces(store, spec) -> Outcome:
    """Re-run the course's MLflow project with the latest selected run's parameters, into a
    scratch store, and compare the metrics. The graded store is only read."""
    selected, missing = select_runs(store, spec)
    if missing:
        return missing
    run = selected.runs[0]
    names, tolerance = spec["metrics"], spec.get("tolerance", 1e-9)
    project = paths.ROOT / spec["project"]
    expected = f"re-running {spec['project']} with {run_label(run)}'s parameters to give the same {', '.join(names)}"
    args = [a for name in spec["params"] if name in run.data.params
            for a in ("-P", f"{spec['params'][name]}={run.data.params[name]}")]
    with tempfile.TemporaryDirectory(prefix="reproduce-") as scratch:
        uri = paths.sqlite_uri(Path(scratch))
        inherited = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")}
        env = {**inherited, "MLFLOW_TRACKING_URI": uri,
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        done = subprocess.run(
            [sys.executable, "-m", "mlflow", "run", str(project), "-e", spec.get("entry_point", "main"),
             "--env-manager", "local", "--experiment-name", "reproduce", *args],
            env=env, capture_output=True, text=True, timeout=spec.get("timeout", 600), cwd=scratch,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
            return Outcome(False, expected, f"the project failed to run: {last}")
        from mlflow import MlflowClient

        client = MlflowClient(uri)
        again = client.search_runs([client.get_experiment_by_name("reproduce").experiment_id])[0]
    problems = []
    for name in names:
        a, b = run.data.metrics.get(name), again.data.metrics.get(name)
        if a is None or b is None or abs(a - b) > tolerance:
            problems.append(f"{name}: logged {a}, re-run {b}")
    return Outcome(not problems, expected, "; ".join(problems) or "same metrics on re-run")


def lineage(store, spec) -> Outcome:
    """A run's data version (tag) equals the md5 in the .dvc file at its recorded git commit, in the
    repository it names; its dataset input's digest is that md5; the commit exists."""
    repo_tag, commit_tag, version_tag, dvc_file = spec["repo_tag"], spec["commit_tag"], spec["version_tag"], spec["dvc_file"]

    def judge(run):
        tags = run.data.tags
        missing = [t for t in (repo_tag, commit_tag, version_tag) if not tags.get(t)]
        if missing:
            return [f"tag {', '.join(missing)} missing"]
        repo, commit, version = Path(tags[repo_tag]), tags[commit_tag], tags[version_tag]
        if not (repo / ".git").exists():
            return [f"{repo_tag}={repo} is not a git repository"]
        kind = _git(repo, "cat-file", "-t", commit)
        if kind != "commit":
            return [f"{commit_tag}={commit[:12]} is not a commit of {repo}"]
        recorded = _git(repo, "show", f"{commit}:{dvc_file}")
        try:
            md5 = yaml.safe_load(recorded)["outs"][0]["md5"]
        except (TypeError, KeyError, IndexError, yaml.YAMLError):
            return [f"commit {commit[:12]} has no readable {dvc_file}"]
        problems = []
        if md5 != version:
            problems.append(f"{version_tag}={version[:12]} but {dvc_file} at {commit[:12]} says {md5[:12]}")
        digests = [d.dataset.digest for d in (run.inputs.dataset_inputs if run.inputs else [])]
        if md5 not in digests:
            problems.append(f"no dataset input with digest {md5[:12]} (found {', '.join(d[:12] for d in digests) or 'none'})")
        return problems

    expected = f"tag {version_tag} = the md5 in {dvc_file} at commit {commit_tag}, and a dataset input with that digest"
    return each_run(store, {**spec, "expected": spec.get("expected") or expected}, judge)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() if done.returncode == 0 else ""
