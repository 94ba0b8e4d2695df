"""Many client processes logging runs through one tracking server at once, and a check of what arrived.

    python -m course.loadgen --tracking-uri URL --experiment-id ID --journals DIR [--processes 16] [--runs 50]

The launcher imports MLflow once, then forks one client process per --processes.
Each client logs --runs runs through the server's REST API: create the run, one
log_batch with a few params and a metric over several steps, one small text
artifact uploaded through the server's artifact proxy, then end the run. After
every call the server acknowledged, the client appends what it logged to its
journal (DIR/client-NN.jsonl); on the first error it writes the error there and
on stderr and exits 1. The launcher writes DIR/clients.json (each client's PID,
exit code and seconds) and exits 0 only if every client finished.

Tests and benchmarks start it with :func:`start_load`, read the journals with
:func:`read_journals` and read everything acknowledged back through the server with
:func:`verify`; :func:`load_and_verify` does all three.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
METRIC = "loss"
ARTIFACT_DIR = "notes"
ARTIFACT_NAME = "run.txt"


# --- what one run logs -------------------------------------------------------------------------

def run_params(client: int, index: int) -> dict[str, str]:
    return {"client": str(client), "index": str(index), "learning_rate": f"{0.001 * (index + 1):.3f}",
            "optimizer": "sgd" if index % 2 else "adam"}


def metric_value(client: int, index: int, step: int) -> float:
    return round(1.0 / (1 + step) + client / 1000 + index / 1_000_000, 9)


def artifact_text(client: int, index: int) -> str:
    return f"client {client} run {index}\n" + "x" * (index % 17) + "\n"


# --- the client processes ----------------------------------------------------------------------

def _client(tracking_uri: str, experiment_id: str, number: int, runs: int, steps: int, journal: Path) -> int:
    from mlflow.entities import Metric, Param, RunStatus
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    scratch = journal.parent / f"scratch-{number:02d}"
    scratch.mkdir(exist_ok=True)
    with open(journal, "a", buffering=1) as out:
        def acknowledged(**entry) -> None:
            out.write(json.dumps(entry) + "\n")

        for index in range(runs):
            call, started, run_id = "create_run", time.monotonic(), None
            try:
                run = client.create_run(experiment_id, run_name=f"c{number:02d}-r{index:03d}")
                run_id = run.info.run_id
                acknowledged(run=run_id, client=number, index=index, artifact_uri=run.info.artifact_uri)

                call, started = "log_batch", time.monotonic()
                params = run_params(number, index)
                now = int(time.time() * 1000)
                metrics = [[METRIC, step, metric_value(number, index, step)] for step in range(steps)]
                client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()],
                                 metrics=[Metric(k, v, now, s) for k, s, v in metrics])
                acknowledged(run=run_id, params=params, metrics=metrics)

                call, started = "log_artifact", time.monotonic()
                local = scratch / ARTIFACT_NAME
                local.write_text(artifact_text(number, index))
                # The repository for the run's own mlflow-artifacts URI: no extra GetRun per upload.
                get_artifact_repository(run.info.artifact_uri, tracking_uri=tracking_uri).log_artifact(
                    str(local), ARTIFACT_DIR)
                acknowledged(run=run_id, artifact=f"{ARTIFACT_DIR}/{ARTIFACT_NAME}", size=local.stat().st_size)

                call, started = "set_terminated", time.monotonic()
                client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
                acknowledged(run=run_id, finished=True)
            except Exception as error:  # noqa: BLE001 - any failure ends this client, recorded as such
                message = " ".join(f"{type(error).__name__}: {error}".split())
                acknowledged(error=message, call=call, run=run_id, call_seconds=round(time.monotonic() - started, 3))
                print(f"loadgen client {number}: {call} failed: {message}", file=sys.stderr, flush=True)
                return 1
        acknowledged(done=runs)
    return 0


def _launch(args: argparse.Namespace) -> int:
    # MLflow's telemetry thread, when it cannot fetch its config (offline), pops a variable from
    # os.environ while requests scans os.environ for proxies: a KeyError in a client now and then.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    # set_terminated would otherwise fetch the run again (one more request) just to print its URL.
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    # Import once here; each forked client starts with MLflow loaded instead of paying ~2 s of CPU.
    import mlflow.entities  # noqa: F401
    import mlflow.store.artifact.artifact_repository_registry  # noqa: F401
    import mlflow.tracking  # noqa: F401
    import threading

    # fork is safe only without other threads or open connections; nothing here has made a request yet.
    if threading.active_count() != 1:
        print("error: the load launcher has threads after importing MLflow; cannot fork clients safely",
              file=sys.stderr)
        return 2
    journals = Path(args.journals)
    journals.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    children: dict[int, int] = {}
    for number in range(args.processes):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _client(args.tracking_uri, args.experiment_id, number, args.runs, args.steps,
                               journals / f"client-{number:02d}.jsonl")
            except BaseException:  # noqa: BLE001 - shown, then this child ends like any other
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)  # never return into the launcher's own loop
        children[pid] = number
    clients = {}
    while children:
        pid, status = os.wait()
        number = children.pop(pid)
        clients[number] = {"client": number, "pid": pid, "exit": os.waitstatus_to_exitcode(status),
                           "seconds": round(time.monotonic() - started, 3)}
    summary = {"seconds": round(time.monotonic() - started, 3),
               "clients": [clients[n] for n in sorted(clients)]}
    (journals / "clients.json").write_text(json.dumps(summary, indent=1))
    return 0 if all(c["exit"] == 0 for c in clients.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--experiment-id", required=True)
    parser.add_argument("--journals", required=True, metavar="DIR")
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("--runs", type=int, default=50, help="runs per process")
    parser.add_argument("--steps", type=int, default=5, help="metric steps per run")
    return _launch(parser.parse_args(argv))


# --- driving a load from a test or benchmark ----------------------------------------------------

@dataclass
class Acknowledged:
    """What the server acknowledged for one run, from a client's journal."""

    run_id: str
    client: int
    index: int
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, int, float]] = field(default_factory=list)
    artifact: tuple[str, int] | None = None
    finished: bool = False


@dataclass
class Journals:
    runs: dict[str, Acknowledged]
    errors: list[dict]  # one per client that failed: error, call, call_seconds, client
    done: int  # clients that logged all their runs

    @property
    def complete_runs(self) -> int:
        return sum(1 for run in self.runs.values() if run.finished)


def read_journals(folder: Path) -> Journals:
    runs: dict[str, Acknowledged] = {}
    errors, done = [], 0
    for path in sorted(folder.glob("client-*.jsonl")):
        number = int(path.stem.split("-")[1])
        for line in path.read_text().splitlines():
            if not line.endswith("}"):
                continue  # a line cut short by a kill; nothing in it was acknowledged as whole
            entry = json.loads(line)
            if "error" in entry:
                errors.append({**entry, "client": number})
            elif "done" in entry:
                done += 1
            elif "index" in entry:
                runs[entry["run"]] = Acknowledged(entry["run"], entry["client"], entry["index"], entry["artifact_uri"])
            elif "params" in entry:
                runs[entry["run"]].params = entry["params"]
                runs[entry["run"]].metrics = [tuple(m) for m in entry["metrics"]]
            elif "artifact" in entry:
                runs[entry["run"]].artifact = (entry["artifact"], entry["size"])
            elif entry.get("finished"):
                runs[entry["run"]].finished = True
    return Journals(runs, errors, done)


def acknowledged_runs(folder: Path) -> int:
    """Runs created so far, counted cheaply while a load is going."""
    count = 0
    for path in folder.glob("client-*.jsonl"):
        with contextlib.suppress(OSError):
            count += path.read_bytes().count(b'"artifact_uri"')  # only a run's first line has it
    return count


@dataclass
class Load:
    """A running launcher (a session leader: killing its group stops every client with it)."""

    process: subprocess.Popen
    journals: Path
    stderr: Path

    def clients(self) -> dict:
        return json.loads((self.journals / "clients.json").read_text())

    def wait(self, timeout: float) -> int:
        """The launcher's exit code; on timeout every client is killed and TimeoutError raised."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"load clients still running after {timeout:.0f} s; killed") from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stderr_text(self) -> str:
        return self.stderr.read_text(errors="replace") if self.stderr.exists() else ""


def start_load(tracking_uri: str, experiment_id: str, journals: Path, *, processes: int = 16, runs: int = 50,
               steps: int = 5, env: dict[str, str] | None = None) -> Load:
    journals.mkdir(parents=True, exist_ok=True)
    stderr = journals / "stderr.txt"
    argv = [sys.executable, "-m", "course.loadgen", "--tracking-uri", tracking_uri, "--experiment-id",
            str(experiment_id), "--journals", str(journals), "--processes", str(processes), "--runs", str(runs),
            "--steps", str(steps)]
    with open(stderr, "wb") as err:
        process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    return Load(process, journals, stderr)


@dataclass
class Verdict:
    """What the store holds of the acknowledged runs; `lost` names each acknowledged thing it lacks."""

    runs: int = 0  # acknowledged runs found
    runs_in_experiment: int = 0
    params: int = 0
    metric_values: int = 0
    artifacts: int = 0  # listed through the server with the acknowledged size
    bucket_keys: int | None = None  # found in the bucket, when verify was given one
    lost: list[str] = field(default_factory=list)


def verify(tracking_uri: str, experiment_id: str, acknowledged: dict[str, Acknowledged], *,
           bucket_keys=None, bucket_prefix: str = "", threads: int = 4) -> Verdict:
    """Read back every acknowledged run, param, metric value and artifact through the server.

    bucket_keys(prefix) -> list of keys: when given, each artifact must also be an object in the bucket,
    at bucket_prefix / the run's artifact path.
    """
    import requests
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    verdict = Verdict()
    stored, token = {}, None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        stored.update({run.info.run_id: run for run in page})
        token = page.token
        if not token:
            break
    verdict.runs_in_experiment = len(stored)

    for run_id, ack in acknowledged.items():
        run = stored.get(run_id)
        if run is None:
            verdict.lost.append(f"run {run_id} (client {ack.client}, #{ack.index})")
            continue
        verdict.runs += 1
        for key, value in ack.params.items():
            if run.data.params.get(key) == value:
                verdict.params += 1
            else:
                verdict.lost.append(f"param {key}={value} of run {run_id} (stored: {run.data.params.get(key)})")
        if ack.finished and run.info.status != "FINISHED":
            verdict.lost.append(f"end of run {run_id} (status {run.info.status})")

    present = [ack for ack in acknowledged.values() if ack.run_id in stored]

    def listing(ack: Acknowledged) -> list[str]:
        if not ack.artifact:
            return []
        path, size = ack.artifact
        repo = get_artifact_repository(ack.artifact_uri, tracking_uri=tracking_uri)
        sizes = {f.path: f.file_size for f in repo.list_artifacts(ARTIFACT_DIR)}
        return [] if sizes.get(path) == size else [f"artifact {path} of run {ack.run_id} (listed: {sizes})"]

    # The history of up to 100 runs per request, as the UI's charts read it; one GetMetricHistory per
    # run would cost the server as much as the load itself.
    session = requests.Session()
    stored_values: set[tuple[str, int, float]] = set()
    with_metrics = [ack.run_id for ack in present if ack.metrics]
    for first in range(0, len(with_metrics), 100):
        response = session.get(f"{tracking_uri.rstrip('/')}/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                               params={"run_id": with_metrics[first:first + 100], "metric_key": METRIC},
                               timeout=60)
        response.raise_for_status()
        stored_values |= {(m["run_id"], m["step"], m["value"]) for m in response.json().get("metrics", [])}
    for ack in present:
        for key, step, value in ack.metrics:
            if (ack.run_id, step, value) in stored_values:
                verdict.metric_values += 1
            else:
                verdict.lost.append(f"metric {key} step {step}={value} of run {ack.run_id}")

    with ThreadPoolExecutor(threads) as pool:
        artifact_lost = [item for items in pool.map(listing, present) for item in items]
    verdict.artifacts = sum(1 for a in present if a.artifact) - len(artifact_lost)
    verdict.lost += artifact_lost

    if bucket_keys is not None:
        keys = set(bucket_keys(bucket_prefix))
        verdict.bucket_keys = 0
        for ack in acknowledged.values():
            if not ack.artifact:
                continue
            key = "/".join(p for p in (bucket_prefix, urlparse(ack.artifact_uri).path.strip("/"), ack.artifact[0]) if p)
            if key in keys:
                verdict.bucket_keys += 1
            else:
                verdict.lost.append(f"bucket object {key}")
    return verdict


@dataclass
class Result:
    exit_code: int  # the launcher's: 0 when every client logged all its runs
    seconds: float  # from the first client's start to the last one's exit
    journals: Journals
    verdict: Verdict
    stderr: str  # the clients' error lines
    launcher_pid: int  # leads the process group of the launcher and its clients

    @property
    def runs_per_second(self) -> float:
        return self.journals.complete_runs / self.seconds if self.seconds else 0.0


def load_and_verify(tracking_uri: str, journals: Path, experiment_name: str, *, processes: int = 16,
                    runs: int = 50, steps: int = 5, env: dict[str, str] | None = None, timeout: float = 600,
                    bucket_keys=None, bucket_prefix: str = "") -> Result:
    """A whole load into a new experiment, then everything acknowledged read back through the server."""
    from mlflow.tracking import MlflowClient

    experiment = MlflowClient(tracking_uri).create_experiment(experiment_name)
    load = start_load(tracking_uri, experiment, journals, processes=processes, runs=runs, steps=steps, env=env)
    exit_code = load.wait(timeout)
    read = read_journals(journals)
    verdict = verify(tracking_uri, experiment, read.runs, bucket_keys=bucket_keys, bucket_prefix=bucket_prefix)
    return Result(exit_code, load.clients()["seconds"], read, verdict, load.stderr_text(), load.process.pid)


if __name__ == "__main__":
    sys.exit(main())
