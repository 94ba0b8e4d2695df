"""A class server (basic auth and the class's rules, course.class_server): learners' accounts, the
grader, permissions, and what a learner may name and point at.

One server for the module (the auth app and its user store start in ~8 s). Its auth config denies
everyone but the admin and an experiment's creator by default (default_permission = NO_PERMISSIONS),
so a learner sees only their own work.
"""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, assert_one_line_error, require, run_cli

pytestmark = pytest.mark.slow  # real servers, end to end

ADMIN = ("admin", secrets.token_urlsafe(16))
LEARNERS = {"alice": "alice-" + secrets.token_urlsafe(12), "bob": "bob-" + secrets.token_urlsafe(12)}
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def credentials(username: str, password: str) -> dict[str, str]:
    return {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password}


def accounts(url: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course.accounts", "--tracking-uri", url, *args], cwd=ROOT,
                          env={**os.environ, **credentials(*ADMIN), **(env or {})},
                          capture_output=True, text=True, timeout=60)


def get(url: str, auth: tuple[str, str] | None = None) -> int:
    headers = {"Authorization": "Basic " + base64.b64encode(":".join(auth).encode()).decode()} if auth else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from course import stack

    require(None if importlib.util.find_spec("flask_wtf") else "Flask-WTF is missing (the auth app needs it)")
    from course.accounts import CLASS_APP, server_settings

    folder = tmp_path_factory.mktemp("auth-server")
    running = stack.start_mlflow(folder, f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts"),
                                 app_name=CLASS_APP, extra_env=server_settings(folder, *ADMIN))
    try:
        yield running.url
    finally:
        running.service.stop()


@pytest.fixture(scope="module")
def learners(server, tmp_path_factory):
    """alice and bob, created by the accounts command; the first call's result is kept for the test."""
    table = tmp_path_factory.mktemp("learners") / "learners.csv"
    table.write_text("username,password\n" + "".join(f"{u},{p}\n" for u, p in LEARNERS.items()))
    return table, accounts(server, str(table))


def test_the_api_answers_401_without_credentials(server):
    assert get(server + "/health") == 200
    assert get(server + SEARCH) == 401
    assert get(server + SEARCH, ("alice", "not-her-password")) == 401
    assert get(server + SEARCH, ADMIN) == 200


def test_accounts_creates_the_learners_then_keeps_them(server, learners):
    table, first = learners
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["created", "alice", "created", "bob"]
    again = accounts(server, str(table))
    assert again.returncode == 0, again.stderr
    assert [line.split()[:2] for line in again.stdout.splitlines()] == [["kept", "alice"], ["kept", "bob"]]
    assert all(get(server + SEARCH, (u, p)) == 200 for u, p in LEARNERS.items())


def test_accounts_bad_input_is_one_line(server, learners, tmp_path):
    table, _ = learners
    assert_one_line_error(accounts(server, str(tmp_path / "missing.csv")), "missing.csv", "does not exist")
    (tmp_path / "bad.csv").write_text("carol,carol-password-1,extra\n")
    assert_one_line_error(accounts(server, str(tmp_path / "bad.csv")), "line 1", "username,password")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert_one_line_error(accounts(closed, str(table)), closed)
    wrong = accounts(server, str(table), env={"MLFLOW_TRACKING_PASSWORD": "wrong-password-123"})
    assert_one_line_error(wrong, "401", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    learner = accounts(server, str(table), env=credentials("bob", LEARNERS["bob"]))
    assert_one_line_error(learner, "403", "'bob' is not an admin")


def test_the_grader_works_with_a_learners_credentials(server, learners, tmp_path):
    # The quiz is the cheapest section that logs and is graded; models and their files go through
    # the class server with a learner's login in test_hub.py.
    alice = credentials("alice", LEARNERS["alice"])
    ran = run_cli("run-course", "--only", "10-quiz", "--no-exercises", "--tracking-uri", server, "--no-progress",
                  "--out", str(tmp_path / "out"), env=alice, timeout=600)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [s["status"] for s in summary["sections"]] == ["passed"], summary
    checked = run_cli("check", "10-quiz", "--tracking-uri", server, env=alice, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "11/11" in checked.stdout


@pytest.mark.parametrize("who", ["nobody", "wrong password"])
def test_the_grader_without_a_valid_login_names_401_and_the_variables(server, tmp_path, who):
    # An empty HOME so no ~/.mlflow/credentials file logs in behind the test's back.
    env = {**credentials("", ""), "HOME": str(tmp_path)} if who == "nobody" else \
        credentials("alice", "not-alices-password")
    commands = [["check", "02-first-experiment"]]
    if who == "nobody":  # run-course probes the same way; once is enough
        commands.append(["run-course", "--only", "02-first-experiment", "--no-exercises", "--no-progress",
                         "--out", str(tmp_path / "out")])
    for args in commands:
        started = time.monotonic()
        result = run_cli(*args, "--tracking-uri", server, env=env, timeout=60)
        assert time.monotonic() - started < 15
        assert_one_line_error(result, "401", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
        assert ("requires a login" if who == "nobody" else "'alice'") in result.stderr


def test_a_learner_cannot_read_another_learners_experiment(server, learners, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    def as_user(username: str, password: str) -> MlflowClient:
        # MLflow's client reads the credentials from the environment on every request.
        for name, value in credentials(username, password).items():
            monkeypatch.setenv(name, value)
        return MlflowClient(tracking_uri=server)

    alice = as_user("alice", LEARNERS["alice"])
    experiment_id = alice.create_experiment("alice-private")
    run = alice.create_run(experiment_id, run_name="mine")
    alice.log_metric(run.info.run_id, "accuracy", 0.9)
    alice.set_terminated(run.info.run_id)
    assert alice.get_experiment(experiment_id).name == "alice-private"
    assert [r.info.run_id for r in alice.search_runs([experiment_id])] == [run.info.run_id]

    bob = as_user("bob", LEARNERS["bob"])
    for read in (lambda: bob.get_experiment(experiment_id), lambda: bob.get_run(run.info.run_id),
                 lambda: bob.get_experiment_by_name("alice-private")):
        with pytest.raises(MlflowException) as denied:
            read()
        assert denied.value.get_http_status_code() == 403
    # Searches are filtered rather than refused: bob's find nothing of alice's.
    assert bob.search_runs([experiment_id]) == []
    assert "alice-private" not in [e.name for e in bob.search_experiments()]
    assert bob.get_experiment(bob.create_experiment("bob-own")).name == "bob-own"  # he can still work

    admin = as_user(*ADMIN)
    assert admin.get_experiment(experiment_id).name == "alice-private"
    assert [r.info.run_id for r in admin.search_runs([experiment_id])] == [run.info.run_id]
    rights = get_app_client("basic-auth", tracking_uri=server)
    assert rights.get_user_permission("alice", "experiment", experiment_id).permission == "MANAGE"
    assert rights.get_user_permission("bob", "experiment", experiment_id).permission == "NO_PERMISSIONS"


def test_the_probe_logs_in_as_mlflows_client_would(monkeypatch, tmp_path):
    from grading import reachability

    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert reachability._auth_headers() == {}
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "t0ken")
    assert reachability._auth_headers() == {"Authorization": "Bearer t0ken"}
    (tmp_path / ".mlflow").mkdir()
    (tmp_path / ".mlflow" / "credentials").write_text(
        "[mlflow]\nmlflow_tracking_username = carol\nmlflow_tracking_password = from-the-file\n")
    assert reachability._auth_headers() == {"Authorization": "Basic " + base64.b64encode(b"carol:from-the-file").decode()}
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "from-the-env")  # the environment wins, as in MLflow
    assert reachability._auth_headers() == {"Authorization": "Basic " + base64.b64encode(b"carol:from-the-env").decode()}


@pytest.mark.parametrize("case", ["dead server", "wrong admin password", "learner, not admin"])
def test_grade_class_bad_login_or_server_is_one_line(server, learners, tmp_path, case):
    if case == "dead server":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
        env, fragment = credentials(*ADMIN), "no MLflow tracking server answers"
    elif case == "wrong admin password":
        url, env, fragment = server, credentials(ADMIN[0], "not-the-password"), "401"
    else:
        url, env, fragment = server, credentials("alice", LEARNERS["alice"]), "'alice' is not an admin"
    result = run_cli("grade-class", "--lab", "lab04", "--tracking-uri", url, "--out", str(tmp_path / "out"), env=env,
                     timeout=60)
    assert_one_line_error(result, fragment)


@pytest.mark.parametrize("lab", ["ex01-tracking-server", "ex06-production-server"])
def test_grade_class_sends_the_sets_done_on_a_learners_own_server_to_grade(server, tmp_path, lab):
    """These sets start a server of the learner's own, on a store of the learner's own: not on the class server."""
    result = run_cli("grade-class", "--lab", lab, "--tracking-uri", server, "--out", str(tmp_path / "out"),
                     env=credentials(*ADMIN), timeout=60)
    assert_one_line_error(result, "a server each learner starts", f"python -m grading grade --lab {lab}")
    assert not (tmp_path / "out").exists()


def test_a_learner_names_only_their_own_and_keeps_artifacts_behind_the_proxy(server, learners, monkeypatch):
    """The class's rules, as the MLflow client meets them: a name that starts with another account's
    is refused (even one no one has used yet), and so is an artifact location the server would read
    or write as itself, or one that sends the client's login to another host."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    for name, value in credentials("bob", LEARNERS["bob"]).items():
        monkeypatch.setenv(name, value)
    bob = MlflowClient(tracking_uri=server)

    def refused(call, *fragments):
        with pytest.raises(MlflowException) as denied:
            call()
        assert denied.value.get_http_status_code() == 403 and all(f in str(denied.value) for f in fragments), denied.value

    refused(lambda: bob.create_experiment("alice-lab04"), "bob-...", "'alice-lab04' is not yours")
    refused(lambda: bob.create_registered_model("alice-lab04-classifier"), "registered model names")
    refused(lambda: bob.create_experiment("lab04"), "start with your username")
    mine = bob.create_experiment("bob-lab04")
    refused(lambda: bob.rename_experiment(mine, "alice-lab04"), "'alice-lab04' is not yours")
    for location in ("file:///etc", "/home/bob/loot", "s3://mlflow/elsewhere", "mlflow-artifacts://evil.example/x"):
        refused(lambda: bob.create_experiment("bob-elsewhere", artifact_location=location), "artifact locations")
    bob.create_registered_model("bob-model")
    refused(lambda: bob.create_model_version("bob-model", source="file:///etc"), "source")
    # The roster is the instructor's.
    assert get(server + "/api/2.0/mlflow/users/list", ("bob", LEARNERS["bob"])) == 403
    assert get(server + "/api/2.0/mlflow/users/list", ADMIN) == 200
    # A run is its creator's, whatever the client says it is.
    run = bob.create_run(mine, tags={"mlflow.user": "alice"})
    assert run.info.user_id == "bob" and bob.get_run(run.info.run_id).data.tags["mlflow.user"] == "bob"
    # The admin names anything: the instructor may set up an experiment for a learner.
    for name, value in credentials(*ADMIN).items():
        monkeypatch.setenv(name, value)
    assert MlflowClient(tracking_uri=server).create_experiment("alice-from-the-instructor")


def test_accounts_refuses_names_that_would_overlap(server, learners, tmp_path):
    """alice-b next to alice: alice-b-lab04 would be both alice's and alice-b's."""
    (tmp_path / "overlap.csv").write_text("alice-b,alice-b-password-1\n")
    assert_one_line_error(accounts(server, str(tmp_path / "overlap.csv")), "'alice-b'", "rename")
    (tmp_path / "spaced.csv").write_text("al ice,al-ice-password-1\n")
    assert_one_line_error(accounts(server, str(tmp_path / "spaced.csv")), "line 1", "'al ice'")


def test_the_hubs_grader_grades_a_learner_with_their_own_login_and_refuses_the_rest(server, learners, tmp_path):
    """grading.remote_check, as the hub runs it for the quiz: the learner's own login or nothing,
    a known target, check ids that cannot pass for options; the answer is the learner's own report."""
    from course import stack

    port = stack.free_port()
    service = subprocess.Popen([sys.executable, "-m", "grading.remote_check", "--tracking-uri", server, "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert service.stdout.readline().startswith("listening")

        def ask(body: dict, login: tuple[str, str] | None) -> tuple[int, dict]:
            headers = {"Content-Type": "application/json"}
            if login:
                headers["Authorization"] = "Basic " + base64.b64encode(":".join(login).encode()).decode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/check", data=json.dumps(body).encode(),
                                             headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        alice = ("alice", LEARNERS["alice"])
        assert ask({"target": "10-quiz"}, None)[0] == 401
        assert ask({"target": "10-quiz"}, ("alice", "not-her-password"))[0] == 401
        assert ask({"target": "no-such-section"}, alice)[0] == 400
        assert ask({"target": "10-quiz", "only": ["--experiment-prefix"]}, alice)[0] == 400
        status, reply = ask({"target": "02-first-experiment"}, ("bob", LEARNERS["bob"]))
        assert status == 200 and reply["code"] == 1  # bob logged nothing: his own report, failed checks
        status, reply = ask({"target": "10-quiz", "only": ["logged"]}, alice)
        assert status == 200 and reply["code"] == 0, reply
        assert json.loads(reply["stdout"])["target"] == "10-quiz"
    finally:
        os.killpg(service.pid, signal.SIGKILL)
        service.wait()
