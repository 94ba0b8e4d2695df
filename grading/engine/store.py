"""Read-only, scoped queries against a tracking store.

Every query names its experiment ids (or one run or model id); nothing here
lists the whole store, writes to it, or loads a model.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from course import uris

from grading.errors import first_line

if TYPE_CHECKING:  # annotations only: the store reads expectations, it does not load them
    from grading.engine.expectations import Expectations, RunSelection


@dataclass
class Selected:
    runs: list  # mlflow Run objects, one per configuration
    note: str = ""
    extras: list = field(default_factory=list)  # runs with none of the group_by keys (a parent, a smoke test)


class MissingExperiment(Exception):
    pass


class Unreadable(Exception):
    """An artifact the grader will not read: too large, outside the store, not a regular file."""


ARTIFACT_CAP = 20 * 1024 * 1024  # bytes of one artifact the grader reads into memory
LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")  # what MLflow 3 makes; a database may say anything


@dataclass
class Context:
    """How a store is graded: `confine` keeps every local artifact path inside that folder (a
    submission's store, whose database could name any path); the sandbox settings are for
    loading its models."""
    confine: Path | None = None
    relocate: tuple[str, str] | None = None  # (folder the database names, where its copy is)
    sandbox_uid: int | None = None
    sandbox_limits: object = None  # grading.sandbox.Limits; required when models are recomputed
    zygote: str | None = None  # the socket of a warm model loader (grading.zygote), with sandbox_uid
    # A class server (grade-class): only the owner's runs count, and only files behind the
    # server's artifact proxy are read (a local path would be read by the grader, as root).
    owner: str | None = None
    served_only: bool = False


class Store:
    def __init__(self, tracking_uri: str, expectations: Expectations, prefix: str = "",
                 context: Context | None = None):
        from mlflow import MlflowClient

        from grading import sandbox

        self.uri = tracking_uri
        self.expectations = expectations
        self.prefix = prefix
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.context = context or Context(sandbox_limits=sandbox.Limits(timeout=300))
        self._experiments: dict = {}
        self._selections: dict[str, Selected] = {}
        self._repos: dict = {}
        self._models: dict[tuple[str, str], list] = {}
        self.predictions: dict = {}  # (dataset, part, model uri) -> {"predictions": ...} or {"error": ...}

    # Experiments -----------------------------------------------------------------
    def experiment_name(self, key: str) -> str:
        return self.prefix + self.expectations.experiments[key]

    def registered_name(self, name: str) -> str:
        """A registered model's name in this learner's namespace, as for experiments."""
        return self.prefix + name

    def experiment(self, key: str):
        """The experiment by name, or None; one query per experiment, cached."""
        if key not in self._experiments:
            self._experiments[key] = self.client.get_experiment_by_name(self.experiment_name(key))
        return self._experiments[key]

    def require_experiment(self, key: str):
        experiment = self.experiment(key)
        if experiment is None or experiment.lifecycle_stage != "active":
            raise MissingExperiment(f"no experiment named {self.experiment_name(key)!r}")
        return experiment

    # Runs ------------------------------------------------------------------------
    def select(self, name: str) -> Selected:
        if name not in self._selections:
            self._selections[name] = self._select(self.expectations.runs[name])
        return self._selections[name]

    def _select(self, sel: RunSelection) -> Selected:
        from mlflow.utils.search_utils import SearchUtils

        experiment = self.require_experiment(sel.experiment)
        # Only attribute clauses go to the server: MLflow's SQL store evaluates tag and param
        # clauses as store-wide subqueries, so their cost grows with other experiments' runs
        # (8 ms -> 33 ms with 10,000 foreign runs). The experiment id and status keep the query
        # scoped; the selection's own filter then runs on this experiment's runs alone.
        runs = self.client.search_runs(
            [experiment.experiment_id], filter_string="attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"], max_results=5000,
        )
        foreign = 0
        if self.context.owner is not None:
            owned = [r for r in runs if r.info.user_id == self.context.owner]
            foreign, runs = len(runs) - len(owned), owned
        if sel.filter:
            runs = SearchUtils.filter(runs, sel.filter)
        if sel.logged_model:
            sources = {m.source_run_id for m in self.client.search_logged_models(
                experiment_ids=[experiment.experiment_id], max_results=5000)}
            runs = [r for r in runs if r.info.run_id in sources]
        if sel.parent:
            parents = self.select(sel.parent).runs
            if not parents:
                return Selected([], f"no parent run for {sel.name!r}")
            runs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
        # A run with none of the keys is not a configuration: the run count names it, and the
        # per-run checks do not judge it (one structural slip costs one check).
        extras = [r for r in runs if sel.group_by and all(value_of(r, key) is None for key in sel.group_by)]
        extra_ids = {r.info.run_id for r in extras}
        runs = [r for r in runs if r.info.run_id not in extra_ids]
        notes = [_extras_note(sel, extras)] if extras else []
        if foreign:
            notes.append(f"{foreign} run(s) in {experiment.name!r} were made by another account and do not count")
        if sel.keep == "all":
            return Selected(list(runs), "; ".join(notes), extras)
        latest: dict[tuple, object] = {}
        for run in runs:  # newest first, so the first run of each configuration wins
            latest.setdefault(tuple(value_of(run, key) for key in sel.group_by), run)
        chosen = list(latest.values())
        if len(runs) > len(chosen):
            what = "each configuration" if sel.group_by else f"selection {sel.name!r}"
            notes.append(f"{len(runs)} finished runs match {sel.name!r}; the latest for {what} counts")
        return Selected(chosen, "; ".join(notes), extras)

    # Models ----------------------------------------------------------------------
    def logged_models(self, experiment_id: str, run_id: str) -> list:
        """A run's logged models; one query per run, cached (the model checks and the truth
        checks ask for the same runs: 3 queries instead of 14 for one lab)."""
        if (experiment_id, run_id) not in self._models:
            self._models[experiment_id, run_id] = list(self.client.search_logged_models(
                experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'", max_results=100))
        return list(self._models[experiment_id, run_id])

    def model_metadata(self, model_uri: str) -> dict:
        """The MLmodel file as data: flavors and signature, without importing the model."""
        import yaml

        text = self.read_text(model_uri.rstrip("/") + "/MLmodel")
        # libyaml's safe loader: the same types as yaml.safe_load, parsed in C (a tenth of the time).
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506

    # Artifacts -------------------------------------------------------------------
    def list_run_artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        """Every file path under a run's artifact root, recursively."""
        found, pending = [], [path]
        while pending:
            for item in self._artifact_repo_for_run(run_id).list_artifacts(pending.pop()):
                (pending if item.is_dir else found).append(item.path)
        return sorted(found)

    def read_run_artifact(self, run_id: str, path: str) -> bytes:
        repo = self._artifact_repo_for_run(run_id)
        parent = path.rpartition("/")[0] or None
        sizes = {i.path: i.file_size for i in repo.list_artifacts(parent)}
        if (sizes.get(path) or 0) > ARTIFACT_CAP:
            raise Unreadable(f"{path} is {sizes[path] / 1e6:.1f} MB; the grader reads files up to {ARTIFACT_CAP / 1e6:.0f} MB")
        return self._read_capped(lambda tmp: repo.download_artifacts(path, dst_path=tmp))

    def read_text(self, uri: str) -> str:
        from mlflow.artifacts import download_artifacts

        from grading import harvest

        resolved = self._resolve(uri)
        local = uris.local_path(resolved)
        if local is not None:  # read in place, capped: no copy of whatever the name points at
            try:
                return harvest.read_file(local, ARTIFACT_CAP).decode()
            except (harvest.Refused, OSError) as exc:
                raise Unreadable(f"{local.name} cannot be read ({exc})") from None
        return self._read_capped(lambda tmp: download_artifacts(artifact_uri=resolved, dst_path=tmp,
                                                                tracking_uri=self.uri)).decode()

    def _read_capped(self, download) -> bytes:
        from grading import harvest

        with tempfile.TemporaryDirectory() as tmp:
            try:
                return harvest.read_file(Path(download(tmp)), ARTIFACT_CAP)
            except harvest.Refused as exc:
                raise Unreadable(str(exc)) from None

    def copy_model(self, uri: str, target: Path, cap: int) -> str | None:
        """Copy a logged model's files into target (a new folder), at most cap bytes; the problem, or None."""
        from grading import harvest

        try:
            resolved = self._resolve(uri)
        except Unreadable as exc:
            return str(exc)
        folder = uris.local_path(resolved)
        try:
            if folder is not None:
                copied = harvest.copy_tree(folder, target, cap, cap)
                if copied.skipped:
                    return "the model's files were not copied: " + "; ".join(copied.skipped[:3])
                return None
            from mlflow.artifacts import download_artifacts

            size = self._remote_size(resolved)
            if size > cap:
                return f"the model's files are {size / 1e6:.0f} MB; the grader copies models up to {cap / 1e6:.0f} MB"
            with tempfile.TemporaryDirectory(dir=Path(target).parent) as tmp:
                local = download_artifacts(artifact_uri=resolved, dst_path=tmp, tracking_uri=self.uri)
                os.replace(local, target)  # the model's folder itself, wherever MLflow nested it
            return None
        except (OSError, harvest.Refused) as exc:
            return f"the model's files cannot be read: {exc}"
        except Exception as exc:  # a remote store's own errors
            return f"the model's files cannot be downloaded: {first_line(exc) or type(exc).__name__}"

    def _artifact_repo_for_run(self, run_id: str):
        """One repository per run: listing and reading a run's files then cost one get_run, not one each."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        if run_id not in self._repos:
            # mlflow-artifacts: URIs resolve against the server being graded, not the process's default URI.
            self._repos[run_id] = get_artifact_repository(
                self._resolve(self.client.get_run(run_id).info.artifact_uri), tracking_uri=self.uri)
        return self._repos[run_id]

    def _remote_size(self, uri: str) -> int:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo, total, pending = get_artifact_repository(uri, tracking_uri=self.uri), 0, [None]
        while pending:
            for item in repo.list_artifacts(pending.pop()):
                if item.is_dir:
                    pending.append(item.path)
                else:
                    total += item.file_size or 0
        return total

    def _resolve(self, uri: str) -> str:
        """An embedded store cannot resolve ``mlflow-artifacts:`` URIs; the course serves them from
        the ``artifacts`` folder beside the database, so read them there."""
        if uris.scheme(uri) == "mlflow-artifacts" and uris.sqlite_file(self.uri):
            from course.tracking import artifact_root_for

            return self._confined((artifact_root_for(self.uri) / uri.split(":", 1)[1].lstrip("/")).as_uri())
        if uri.startswith("models:/"):
            model_id, _, rest = uri[len("models:/"):].partition("/")
            if not LOGGED_MODEL_ID.fullmatch(model_id) or ".." in rest.split("/"):
                raise Unreadable(f"{uri!r} is not a logged model's URI")
            model = self.client.get_logged_model(model_id)
            # The whole path is confined, not just the model's folder: the rest may climb out of it.
            return self._confined(self._resolve(model.artifact_location).rstrip("/") + (f"/{rest}" if rest else ""))
        return self._confined(uri)

    def _confined(self, uri: str) -> str:
        """A submission's database may name any location: only its own folder is read."""
        if self.context.served_only and not uris.is_proxied(uri):
            raise Unreadable(f"{uri} is not behind the class server's artifact proxy (mlflow-artifacts:); "
                             "grade-class reads no other location")
        root = self.context.confine
        if root is None:
            return uri
        folder = uris.local_path(uri)
        if folder is not None and self.context.relocate:
            seen_as, copy = self.context.relocate
            if folder == Path(seen_as) or Path(seen_as) in folder.parents:
                folder = Path(copy) / folder.relative_to(seen_as)
                uri = folder.as_uri()
        if folder is None:
            raise Unreadable(f"{uri} is not in the submission's store")
        real, inside = os.path.realpath(folder), os.path.realpath(root)
        if os.path.commonpath([real, inside]) != inside:
            raise Unreadable(f"{uri} is outside the submission's store")
        return uri


def _extras_note(sel: RunSelection, extras: list) -> str:
    if not extras:
        return ""
    names = ", ".join(repr(r.data.tags.get("mlflow.runName") or r.info.run_id[:8]) for r in extras[:3])
    return (f"{len(extras)} run(s) without {', '.join(sel.group_by)} ({names}) are not configurations of "
            f"{sel.name!r}; only the run count counts them")


def value_of(run, key: str):
    """A run's value for a key such as params.C, metrics.accuracy, tags.purpose or inputs.digest
    (the digests of the run's dataset inputs)."""
    if key == "inputs.digest":
        return ",".join(sorted(d.dataset.digest for d in (run.inputs.dataset_inputs if run.inputs else [])))
    kind, _, name = key.partition(".")
    table = {"params": run.data.params, "metrics": run.data.metrics, "tags": run.data.tags}.get(kind)
    if table is None:
        raise ValueError(f"group_by key {key!r} must start with params., metrics. or tags., or be inputs.digest")
    return table.get(name)
