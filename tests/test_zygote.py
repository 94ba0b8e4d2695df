"""The batch's warm model loader (grading.zygote) keeps every wall of the isolated sandbox.

Each model here is "models from code": its script runs when the model loads, inside the loader,
and its predictions carry back what it could see and do there.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import psutil
import pytest

from conftest import processes_running, require
from grading import sandbox, zygote

SPY = r'''
import json, os, socket, glob
import mlflow.pyfunc

def probe():
    seen = {"uid": os.getuid(), "pid": os.getpid()}
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    seen["caps"] = [k for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb") if int(status[k], 16)]
    seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    seen["environ"] = sorted(os.environ)
    try:
        seen["environ_block"] = open("/proc/self/environ", "rb").read().decode(errors="replace")
    except OSError as exc:
        seen["environ_block"] = type(exc).__name__
    seen["root"] = sorted(os.listdir("/"))
    seen["shadow"] = open("/etc/shadow").read()
    seen["others"] = sorted(glob.glob("OTHERS/*"))
    seen["planted_before"] = os.path.exists("/tmp/planted")
    open("/tmp/planted", "w").write("from an earlier model")
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=2)
        seen["network"] = "connected"
    except OSError as exc:
        seen["network"] = type(exc).__name__
    try:
        os.kill(1, 9)
        seen["killed_loader"] = "sent"
    except OSError as exc:
        seen["killed_loader"] = type(exc).__name__
    try:
        os.kill(-1, 9)  # everything it may signal, its own process last
    except OSError:
        pass
    return seen

class Spy(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        import subprocess
        subprocess.Popen(["sleep", "6161.5"], start_new_session=True)  # a process left behind
        self.seen = json.dumps(probe())

    def predict(self, context, model_input, params=None):
        return [self.seen] * len(model_input)

mlflow.models.set_model(Spy())
'''

HOG = r'''
import mlflow.pyfunc
class Hog(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.ballast = [bytearray(64 * 1024 * 1024) for _ in range(64)]  # 4 GB, touched
    def predict(self, context, model_input, params=None):
        return [0] * len(model_input)
mlflow.models.set_model(Hog())
'''

SLEEPER = r'''
import time
import mlflow.pyfunc
class Sleeper(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        time.sleep(600)
    def predict(self, context, model_input, params=None):
        return [0] * len(model_input)
mlflow.models.set_model(Sleeper())
'''


def save(code: str, folder: Path) -> str:
    import mlflow.pyfunc

    script = folder.parent / f"{folder.name}.py"
    script.write_text(code)
    mlflow.pyfunc.save_model(str(folder), python_model=str(script), pip_requirements=["mlflow"])
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return str(folder)


@pytest.fixture(scope="module")
def loader(tmp_path_factory):
    require(None if sandbox.mode() == "isolated" else "the zygote needs the isolated sandbox (root, bwrap, setpriv)")
    os.environ["COURSE_GRADER_SECRET"] = "the answers"  # in the grader's environment only
    try:
        path = zygote.start()
        assert path and os.stat(Path(path).parent).st_mode & 0o077 == 0, "only root may connect"
        yield path, tmp_path_factory.mktemp("zygote")
    finally:
        zygote.stop()
        del os.environ["COURSE_GRADER_SECRET"]


def allowed_tops() -> set[str]:
    """The top-level names a sandbox's root may hold: the system's, and those of what it reads."""
    targets = [t for _, _, t in sandbox.system_mounts()] + [t for _, t in sandbox.readable_binds([])]
    return {Path(t).parts[1] for t in targets} | {"proc", "dev", "tmp"}


def folder_for(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    folder.chmod(0o755)
    return folder


def test_an_honest_model_is_predicted_as_a_new_sandbox_would(loader):
    honest_round_trip(*loader, "honest")


def honest_round_trip(path: str, root: Path, name: str) -> None:
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    from course import labdata

    split = labdata.load("lab04")
    model = LogisticRegression(max_iter=500).fit(split.X_train, split.y_train)
    scratch = folder_for(root, name)
    mlflow.sklearn.save_model(model, str(scratch / "model"))
    for p in scratch.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    with sandbox.identity() as uid:
        done = zygote.run(path, [["lab04", "test", str(scratch / "model")]], uid, sandbox.Limits(timeout=120),
                          [scratch])
    (answer,) = [r for r in sandbox.json_records(done.stdout) if "model" in r]
    assert answer["predictions"] == model.predict(split.X_test).tolist()
    assert done.returncode == 0 and not done.timed_out and done.seconds < 5


def test_a_model_sees_only_its_own_sandbox_and_cannot_touch_the_loader(loader):
    path, root = loader
    listener = socket.create_server(("127.0.0.1", 0))  # a grader-side service the model must not reach
    port = listener.getsockname()[1]
    others = folder_for(root, "other-student")
    (others / "answers.txt").write_text("another student's files")
    code = SPY.replace("PORT", str(port)).replace("OTHERS", str(others))
    first, second = folder_for(root, "spy-a"), folder_for(root, "spy-b")
    requests = [["lab04", "test", save(code, first / "model")], ["lab04", "test", save(code, second / "model")]]
    # A grading call first: its child gets the grader's environment, the zygote never holds it.
    called = zygote.call(path, "prewarmed_work:environment", ["COURSE_GRADER_SECRET"], sandbox.Limits(timeout=120), [])
    assert called.stdout.strip() == "the answers"
    try:
        with sandbox.identity() as uid:
            done = zygote.run(path, requests, uid, sandbox.Limits(timeout=120), [first, second])
        with sandbox.identity() as uid:  # the next submission, with its own uid and sandbox
            after = zygote.run(path, requests[:1], uid, sandbox.Limits(timeout=120), [first])
    finally:
        listener.close()
    answers = [r for r in sandbox.json_records(done.stdout + after.stdout) if "model" in r]
    assert len(answers) == 3 and all("predictions" in a for a in answers), answers
    seen = [json.loads(a["predictions"][0]) for a in answers]
    for view in seen:
        assert view["uid"] >= sandbox.UID_BASE and view["caps"] == []
        assert view["processes"][0] == 1 and len(view["processes"]) <= 4, view["processes"]  # its namespace
        assert "COURSE_GRADER_SECRET" not in view["environ"] and view["shadow"] == ""
        assert "the answers" not in view["environ_block"] and "COURSE_GRADER" not in view["environ_block"]
        assert view["others"] == [] and view["network"] != "connected"
        assert set(view["root"]) <= allowed_tops(), set(view["root"]) - allowed_tops()
    # The first model killed what it could: the loader (pid 1) lived on and served the second.
    assert seen[1]["planted_before"] is True  # same submission, same /tmp: its own file
    assert seen[2]["planted_before"] is False  # another submission never sees it
    # Nothing a model started outlived its loader.
    assert not processes_running("6161.5")


def test_memory_and_time_are_bounded_and_the_loader_serves_the_next_request(loader):
    path, root = loader
    hog, sleeper = folder_for(root, "hog"), folder_for(root, "sleeper")
    with sandbox.identity() as uid:
        ate = zygote.run(path, [["lab04", "test", save(HOG, hog / "model")]], uid,
                         sandbox.Limits(timeout=120, memory_mb=512), [hog])
    assert "memory" in ate.limits_hit and not [r for r in sandbox.json_records(ate.stdout) if "predictions" in r]
    started = time.monotonic()
    with sandbox.identity() as uid:
        slept = zygote.run(path, [["lab04", "test", save(SLEEPER, sleeper / "model")]], uid,
                           sandbox.Limits(timeout=4), [sleeper])
    assert slept.timed_out and time.monotonic() - started < 20
    honest_round_trip(path, root, "after-the-attacks")


def test_stopping_the_batch_stops_the_loader(tmp_path):
    require(None if sandbox.mode() == "isolated" else "the zygote needs the isolated sandbox (root, bwrap, setpriv)")
    path = zygote.start()
    server = zygote._process.pid
    zygote.stop()
    assert not psutil.pid_exists(server) or psutil.Process(server).status() == psutil.STATUS_ZOMBIE
    assert not Path(path).parent.exists()
    shutil.rmtree(tmp_path, ignore_errors=True)
