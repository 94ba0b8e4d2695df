"""A class on one server: `python -m course.hub`, its proxy, and the class's MLflow server
(course.accounts.class_stack: PostgreSQL, S3, `mlflow server --app-name course-class`).

alice and bob log in through Chromium and run lab04 in their JupyterLab; carol does the same
through the hub's REST API and her server's kernel API; dave has an account and does nothing.
grade-class then grades the class from the MLflow server. Last, eve attacks the class from her
own JupyterLab kernel and her own server's pages.
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import csv
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest
import requests

from conftest import CHROMIUM_FLAGS, ROOT, process_family, require, run_cli, still_running
from jupyter_page import cells, last_output, open_notebook, run_all

pytestmark = pytest.mark.slow  # a hub, a proxy, PostgreSQL, S3 and an MLflow server, end to end

ADMIN = ("teacher", "teacher-" + secrets.token_urlsafe(12))
LEARNERS = {name: f"{name}-" + secrets.token_urlsafe(12) for name in ("alice", "bob", "carol", "dave")}
HUB_URL = re.compile(r"JupyterHub:\s+(http://localhost:(\d+))")
# Each learner's share of the machine, smaller than the defaults so the floods below end sooner.
SHARE = ["--memory-mb", "2048", "--processes", "256", "--tmp-mb", "256", "--home-mb", "512"]
# What JupyterLab shows a learner: every cell in the page, and no news prompt over it.
LAB_SETTINGS = {"notebook-extension/tracker": {"windowingMode": "none"},
                "apputils-extension/notification": {"fetchNews": "false"}}


def credentials(username: str, password: str) -> dict[str, str]:
    return {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password}


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    """The class's server as docs/accounts.md sets one up, with the class's accounts."""
    from course import accounts, stack

    require(stack.postgres_missing() or (None if stack.weed_binary() else "the 'weed' binary is missing"))
    folder = tmp_path_factory.mktemp("class-server")
    with accounts.class_stack(folder / "stack", *ADMIN) as running:
        table = folder / "learners.csv"
        table.write_text("username,password\n" + "".join(f"{u},{p}\n" for u, p in LEARNERS.items()))
        made = subprocess.run([sys.executable, "-m", "course.accounts", "--tracking-uri", running.tracking_uri, str(table)],
                              env={**os.environ, **credentials(*ADMIN)}, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        yield running


@pytest.fixture(scope="module")
def hub(class_server, tmp_path_factory):
    """`python -m course.hub` on free ports; stopped with Ctrl-C, after which nothing it started runs."""
    from course.hub import command

    require(None if os.geteuid() == 0 else "the hub runs learners as system users, which needs root")
    require(None if command.PROXY.exists() else "configurable-http-proxy is missing (make setup runs npm ci)")
    existing = {name for name in [*LEARNERS, ADMIN[0]] if _account(name)}
    state = tmp_path_factory.mktemp("hub") / "state"
    process = subprocess.Popen([sys.executable, "-m", "course.hub", "--tracking-uri", class_server.tracking_uri, "--port", "0",
                                "--state", str(state), *SHARE], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, **credentials(*ADMIN)}, start_new_session=True)
    url = port = None
    for line in process.stdout:
        if found := HUB_URL.search(line):
            url, port = found.groups()
        if line.startswith("Press Ctrl-C"):
            break
    assert url, process.stderr.read()
    try:
        yield {"url": url, "port": port, "state": state, "pid": process.pid, "mlflow": class_server.tracking_uri,
               "stack": class_server}
    finally:
        family = process_family(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        left = still_running(family) + [p.pid for p in psutil.process_iter(["username"])
                                        if p.info["username"] in LEARNERS]
        for name in [*LEARNERS, ADMIN[0]]:
            if name not in existing and _account(name):
                subprocess.run(["userdel", "--remove", name], capture_output=True)
        assert not left, f"the hub's Ctrl-C left processes running: {left}"


def _account(name: str):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def solution_filled(notebook: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[int]]:
    """lab04 as handed out, with the solution's cells typed into its exercises."""
    solution = nbformat.read(ROOT / "solutions" / "lab04.ipynb", as_version=4).cells
    exercises = [i for i, (a, b) in enumerate(zip(notebook.cells, solution)) if a.source != b.source]
    assert exercises and all("NotImplementedError" in notebook.cells[i].source for i in exercises)
    for index in exercises:
        notebook.cells[index].source = solution[index].source
    return notebook, exercises


def prepare_lab_settings(username: str) -> None:
    """The learner's own JupyterLab settings, as they would set them in the Settings menu."""
    account = pwd.getpwnam(username)
    base = Path(account.pw_dir) / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    for plugin, values in LAB_SETTINGS.items():
        path = base / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    for folder in [base.parents[2], *base.parents[2].rglob("*")]:
        os.chown(folder, account.pw_uid, account.pw_gid)


def log_in(page, hub: dict, username: str) -> None:
    page.goto(f"{hub['url']}/hub/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(LEARNERS.get(username) or ADMIN[1])
    if username == "alice":
        page.shot("login")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/user/{username}/lab"), timeout=120_000)


@pytest.fixture(scope="module")
def in_the_browser(hub, browser):
    """alice and bob each log in, open lab04 in their own JupyterLab, fill it in and Run All."""
    shown = {}
    for username in ("alice", "bob"):
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.shot = lambda name, page=page, who=username: page.screenshot(
            path=str(_shots() / f"test_hub-{who}-{name}.png"))
        try:
            log_in(page, hub, username)
            prepare_lab_settings(username)
            # The hub sent the learner to their own server, on an origin of its own.
            origin = urllib.parse.urlparse(page.url)
            assert origin.hostname == f"{username}.localhost", page.url
            open_notebook(page, f"{origin.scheme}://{origin.netloc}/user/{username}/lab/tree/course/labs/lab04.ipynb?reset")
            _, exercises = solution_filled(nbformat.read(ROOT / "labs" / "lab04.ipynb", as_version=4))
            solution = nbformat.read(ROOT / "solutions" / "lab04.ipynb", as_version=4).cells
            for index in exercises:
                cells(page).nth(index).locator(".cm-content").click()
                page.keyboard.press("Control+A")
                page.keyboard.insert_text(solution[index].source)
            run_all(page)
            shown[username] = last_output(page)
            cells(page).last.scroll_into_view_if_needed()
            page.shot("lab04")
        finally:
            context.close()
    return shown


def to_server(hub: dict, username: str) -> tuple[str, dict]:
    """The same server for a script: the system's resolver does not resolve *.localhost (browsers
    do), so the proxy's loopback address, with the learner's host name in Host."""
    return f"http://127.0.0.1:{hub['port']}/user/{username}", {"Host": f"{username}.localhost:{hub['port']}"}


def _shots() -> Path:
    folder = ROOT / "build" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def api_token(hub: dict, username: str, password: str) -> str:
    """A token for the hub's REST API, asked for with the learner's own username and password."""
    answer = requests.post(f"{hub['url']}/hub/api/users/{username}/tokens", timeout=30,
                           json={"auth": {"username": username, "password": password}, "expires_in": 3600,
                                 "note": "course test"})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def form_login(hub: dict, username: str, password: str) -> requests.Session:
    """The login form, posted as a script would: the hub keeps the MLflow login as auth state."""
    session = requests.Session()
    session.get(f"{hub['url']}/hub/login", timeout=30)
    answer = session.post(f"{hub['url']}/hub/login", timeout=60, allow_redirects=False,
                          data={"username": username, "password": password, "_xsrf": session.cookies["_xsrf"]})
    assert answer.status_code == 302, answer.text
    return session


def start_server(hub: dict, username: str, token: str) -> None:
    headers = {"Authorization": f"token {token}"}
    started = requests.post(f"{hub['url']}/hub/api/users/{username}/server", headers=headers, timeout=60)
    assert started.status_code in (201, 202, 400), started.text  # 400: already running
    deadline = time.monotonic() + 120
    while True:
        user = requests.get(f"{hub['url']}/hub/api/users/{username}", headers=headers, timeout=30).json()
        if (user.get("servers", {}).get("") or {}).get("ready"):
            return
        assert time.monotonic() < deadline, user
        time.sleep(1)


async def _execute(url: str, headers: dict, codes: list[str], timeout: float) -> list[str]:
    """Run each code in one kernel over Jupyter's websocket protocol; each one's text output."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(HTTPRequest(url, headers=headers))
    session, outputs = uuid.uuid4().hex, []
    try:
        for code in codes:
            msg_id = uuid.uuid4().hex
            connection.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session, "username": "",
                           "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            text, done = [], False
            while not done:
                raw = await asyncio.wait_for(connection.read_message(), timeout)
                assert raw is not None, "the kernel's websocket closed"
                message = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "stream":
                    text.append(content["text"])
                elif kind in ("execute_result", "display_data"):
                    text.append(content["data"].get("text/plain", ""))
                elif kind == "error":
                    raise AssertionError(f"{content['ename']}: {content['evalue']}\nin:\n{code}")
                elif kind == "status" and content["execution_state"] == "idle":
                    done = True
            outputs.append("".join(text))
    finally:
        connection.close()
    return outputs


def run_in_kernel(hub: dict, username: str, token: str, codes: list[str], path: str = "course/labs",
                  timeout: float = 300) -> list[str]:
    """Start a kernel in the learner's server through its REST API and run the codes in it."""
    base, host = to_server(hub, username)
    base += "/api"
    headers = {"Authorization": f"token {token}", **host}
    kernel = requests.post(f"{base}/kernels", headers=headers, json={"name": "python3", "path": path}, timeout=60)
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]
    try:
        socket_url = f"{base.replace('http://', 'ws://')}/kernels/{kernel_id}/channels"
        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, _execute(socket_url, headers, codes, timeout)).result()
    finally:
        requests.delete(f"{base}/kernels/{kernel_id}", headers=headers, timeout=60)


@pytest.fixture(scope="module")
def through_the_api(hub):
    """carol: the login form posted by a script, then the hub's REST API and her server's kernel API."""
    form_login(hub, "carol", LEARNERS["carol"])
    token = api_token(hub, "carol", LEARNERS["carol"])
    start_server(hub, "carol", token)
    notebook, _ = solution_filled(nbformat.read(ROOT / "labs" / "lab04.ipynb", as_version=4))
    codes = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    return run_in_kernel(hub, "carol", token, codes)


def test_two_learners_log_in_and_run_lab04_to_full_marks_in_the_browser(in_the_browser):
    for username, shown in in_the_browser.items():
        assert re.search(r"lab04: 100/100 points, (\d+)/\1 checks passed", shown), (username, shown)


def test_a_third_learner_runs_lab04_through_the_rest_api(through_the_api):
    assert re.search(r"score 100/100, (\d+)/\1 checks passed", through_the_api[-1]), through_the_api[-1]
    # Her view has a /dev/shm: scikit-learn's joblib has its semaphores and prints no warning.
    assert not [out for out in through_the_api if "serial mode" in out], through_the_api


def test_each_learner_works_in_their_own_name_and_cannot_read_another(hub, in_the_browser, through_the_api,
                                                                       monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    for name, value in credentials(*ADMIN).items():
        monkeypatch.setenv(name, value)
    admin = MlflowClient(tracking_uri=hub["mlflow"])
    names = {e.name for e in admin.search_experiments()}
    assert {"alice-lab04", "bob-lab04", "carol-lab04"} <= names and not any(n.startswith("dave") for n in names)
    bobs = admin.get_experiment_by_name("bob-lab04").experiment_id
    for name, value in credentials("alice", LEARNERS["alice"]).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(MlflowException) as denied:
        MlflowClient(tracking_uri=hub["mlflow"]).get_experiment(bobs)
    assert denied.value.get_http_status_code() == 403


def test_no_learner_sees_another_learners_files_the_solutions_or_a_password(hub, in_the_browser, through_the_api):
    homes = {name: Path(pwd.getpwnam(name).pw_dir) for name in ("alice", "bob", "carol")}
    assert all(oct(home.stat().st_mode & 0o777) == "0o700" for home in homes.values())
    token = api_token(hub, "alice", LEARNERS["alice"])
    probe = f"""
import os
print(sorted(os.listdir("/home")), os.path.exists({str(homes['bob'])!r}), os.path.exists({str(ROOT / 'solutions')!r}),
      os.path.exists({str(hub['state'])!r}), os.getuid(), os.environ["MLFLOW_TRACKING_USERNAME"],
      os.path.exists("/proc/{hub['pid']}"), os.access("/etc/shadow", os.R_OK))
# Her kernel's channels are Unix sockets: on TCP anyone on the host could read its output. The one
# port left is ipykernel's pipe for forked children's output, which drops what lacks its random key.
import json, psutil, ipykernel.connect
kernel = get_ipython().kernel
listening = {{c.laddr.port for c in psutil.Process().net_connections("inet") if c.status == "LISTEN"}}
print(json.loads(ipykernel.connect.get_connection_info())["transport"], sorted(listening - {{kernel.iopub_thread._pipe_port}}))
"""
    seen = run_in_kernel(hub, "alice", token, [probe], path="")[0].split()
    uid = str(pwd.getpwnam("alice").pw_uid)
    assert seen == ["['alice']", "False", "False", "False", uid, "alice", "False", "False", "ipc", "[]"], seen
    # Bob's password: nowhere in Alice's files, nor in the environment of any process of hers.
    alices = [p for p in psutil.process_iter(["username"]) if p.info["username"] == "alice"]
    assert alices, "alice's server is not running"
    environments = b"".join(Path(f"/proc/{p.pid}/environ").read_bytes() for p in alices)
    assert LEARNERS["alice"].encode() in environments  # her own login is there, so the search can find one
    files = [p for p in homes["alice"].rglob("*") if p.is_file() and not p.is_symlink()]
    assert files and all(LEARNERS[other].encode() not in environments for other in ("bob", "carol"))
    assert not [p for p in files if any(LEARNERS[o].encode() in p.read_bytes() for o in ("alice", "bob", "carol"))]
    log = (hub["state"] / "jupyterhub.log").read_bytes()
    assert not [name for name, password in LEARNERS.items() if password.encode() in log]


def test_the_instructor_is_a_hub_admin(hub):
    form_login(hub, ADMIN[0], ADMIN[1])
    token = api_token(hub, ADMIN[0], ADMIN[1])
    users = requests.get(f"{hub['url']}/hub/api/users", headers={"Authorization": f"token {token}"}, timeout=30)
    assert users.status_code == 200
    admins = {u["name"]: u["admin"] for u in users.json()}
    assert admins[ADMIN[0]] is True and admins.get("carol") is False


def test_grade_class_grades_everyone_from_the_server(hub, in_the_browser, through_the_api, tmp_path, page):
    """alice, bob and carol did lab04, dave did nothing: every one gets a row, and the report shows
    the class at a glance."""
    from grading.engine import expectations

    out = tmp_path / "class"
    graded = run_cli("grade-class", "--lab", "lab04", "--tracking-uri", hub["mlflow"], "--out", str(out),
                     env=credentials(*ADMIN), timeout=600)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    with open(out / "gradebook.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    full = expectations.load("lab04").max_score
    assert {k: float(v["score"]) for k, v in rows.items()} == {"alice": full, "bob": full, "carol": full, "dave": 0}
    assert rows["dave"]["status"] == "nothing logged"
    # Full marks include the models re-scored from the bucket, through the server (truthful).
    scored = {t["name"].split(":")[0]: t for t in json.loads((out / "carol" / "results.json").read_text())["tests"]}
    assert scored["truthful"]["score"] == scored["truthful"]["max_score"] > 0
    assert "nothing logged" in (out / "dave" / "feedback.md").read_text()
    written = (out / "class-report.html").read_text()
    assert "4 learners" in written and "3 with full marks · 1 logged nothing" in written
    assert "Every learner who logged anything passed every check." in written
    page.goto((out / "class-report.html").as_uri())
    checks = len(expectations.load("lab04").checks)
    assert page.locator("td.cell.pass").count() == 3 * checks
    assert page.locator("td.cell.none").count() == checks  # dave's row
    page.shot("class-report")
    assert not [p for p in out.rglob("*") if p.is_file() and ADMIN[1] in p.read_text(errors="replace")]


# Attacks on the class from eve's own JupyterLab (after grade-class: her account would be one more row).

ATTACKER, VICTIM = "eve", "frank"  # frank has an account and has never logged in


@pytest.fixture(scope="module")
def attacker(hub):
    """eve's account, her login, a hub token and her running server; frank's account."""
    from course import accounts

    server = accounts.AuthServer(hub["mlflow"], *ADMIN)
    for name in (ATTACKER, VICTIM):
        LEARNERS[name] = f"{name}-" + secrets.token_urlsafe(12)
        server.create(name, LEARNERS[name])
    form_login(hub, ATTACKER, LEARNERS[ATTACKER])
    token = api_token(hub, ATTACKER, LEARNERS[ATTACKER])
    start_server(hub, ATTACKER, token)
    return token


ARTIFACTS_ON_THE_HOST = """
import os
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client, loot = MlflowClient(), os.path.expanduser("~/loot")
os.makedirs(loot, exist_ok=True)
try:
    experiment = client.create_experiment("eve-loot", artifact_location="file://" + loot)
    run = client.create_run(experiment)
    os.makedirs(f"{loot}/{run.info.run_id}", exist_ok=True)
    os.symlink("/", f"{loot}/{run.info.run_id}/artifacts")  # the run's artifact folder is now the host's root
    print("CREATED", [a.path for a in client.list_artifacts(run.info.run_id, "etc")][:3])
    print("READ", open(client.download_artifacts(run.info.run_id, "etc/shadow", loot)).read()[:20])
except MlflowException as exc:
    print("REFUSED", exc.get_http_status_code(), str(exc)[:200])
"""


def test_a_learner_cannot_turn_the_class_server_on_the_host(hub, attacker):
    """An experiment stored in a folder of eve's, whose run's artifacts she links to /: refused. And
    had it not been, the server runs as its own user in a view with no home, no checkout and no
    hub state in it."""
    seen = run_in_kernel(hub, ATTACKER, attacker, [ARTIFACTS_ON_THE_HOST], path="")[0]
    assert seen.startswith("REFUSED 403") and "artifact locations" in seen, seen
    service = psutil.Process(hub["stack"].server.service.pid)
    servers = [p for p in service.children(recursive=True) if "python" in Path(p.cmdline()[0]).name]
    assert servers and {p.username() for p in servers} == {"course-mlflow"}
    # What the server's own user finds in the server's view (/proc/PID/root), where a host path
    # readable to that user would be too.
    root = f"/proc/{servers[0].pid}/root"
    for path in ("/etc/shadow", "/home/alice", "/home", str(ROOT / "solutions"), str(ROOT / "labs"), str(hub["state"])):
        found = subprocess.run(["runuser", "-u", "course-mlflow", "--", "ls", "-d", root + path], capture_output=True)
        readable = found.returncode == 0 and subprocess.run(
            ["runuser", "-u", "course-mlflow", "--", "cat" if path == "/etc/shadow" else "ls", root + path],
            capture_output=True).returncode == 0
        assert not readable, path
    own = root + str(hub["stack"].server_folder)  # the probe works: the server's own folder is there
    assert subprocess.run(["runuser", "-u", "course-mlflow", "--", "ls", own], capture_output=True).returncode == 0


SQUAT = """
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient()
for make in (lambda: client.create_experiment("frank-lab04"), lambda: client.create_registered_model("frank-lab04-classifier"),
             lambda: client.rename_experiment(client.create_experiment("eve-soon-franks"), "frank-lab04")):
    try:
        make()
        print("MADE")
    except MlflowException as exc:
        print("REFUSED", exc.get_http_status_code())
"""


def test_a_learner_cannot_take_another_learners_names_before_their_first_login(hub, attacker, monkeypatch):
    from mlflow import MlflowClient

    seen = run_in_kernel(hub, ATTACKER, attacker, [SQUAT], path="")[0]
    assert seen.split() == ["REFUSED", "403"] * 3, seen
    for name, value in credentials(VICTIM, LEARNERS[VICTIM]).items():
        monkeypatch.setenv(name, value)
    frank = MlflowClient(tracking_uri=hub["mlflow"])
    frank.get_experiment(frank.create_experiment("frank-lab04"))  # still free, and his
    frank.create_registered_model("frank-lab04-classifier")


MINT = """<!doctype html><p id="out">waiting</p><script>
(async () => {
  const out = document.getElementById("out");
  try {
    const page = await (await fetch("HUB/hub/token", {credentials: "include"})).text();
    const xsrf = (page.match(/xsrf_token"?\\s*:\\s*"([^"]+)"/) || [])[1];
    const made = await fetch("HUB/hub/api/users/VICTIM/tokens", {method: "POST", credentials: "include",
      headers: {"X-XSRFToken": xsrf, "Content-Type": "application/json"},
      body: JSON.stringify({note: "minted by eve", expires_in: 600})});
    out.textContent = "ANSWERED " + made.status + " " + (await made.text());
  } catch (error) {
    out.textContent = "BLOCKED " + error;
  }
})();
</script>"""
SERVE_A_PAGE = """
import os
www = os.path.expanduser("~/www")
os.makedirs(www, exist_ok=True)
open(www + "/mint.html", "w").write(PAGE)
# Jupyter serves its static folders without a login: add one, for the next start of this server.
os.makedirs(os.path.expanduser("~/.jupyter"), exist_ok=True)
open(os.path.expanduser("~/.jupyter/jupyter_server_config.py"), "w").write(f"c.ServerApp.extra_static_paths = [{www!r}]\\n")
print("written")
"""


def test_a_page_one_learner_serves_cannot_act_as_the_learner_who_opens_it(hub, attacker, browser):
    """eve serves a page from her own server that asks the hub for a token in the name of whoever
    opens it; bob, logged in, opens her link. The page is on eve's origin: the hub's is out of its reach."""
    page_source = MINT.replace("HUB", hub["url"]).replace("VICTIM", "bob")
    run_in_kernel(hub, ATTACKER, attacker, [f"PAGE = {page_source!r}\n" + SERVE_A_PAGE], path="")
    headers = {"Authorization": f"token {attacker}"}
    assert requests.delete(f"{hub['url']}/hub/api/users/{ATTACKER}/server", headers=headers, timeout=60).status_code in (202, 204)
    deadline = time.monotonic() + 60
    while (requests.get(f"{hub['url']}/hub/api/users/{ATTACKER}", headers=headers, timeout=30).json()
           .get("servers", {}).get("")):
        assert time.monotonic() < deadline, "eve's server did not stop"
        time.sleep(1)
    start_server(hub, ATTACKER, attacker)
    served, host = to_server(hub, ATTACKER)
    assert requests.get(f"{served}/static/mint.html", headers=host, timeout=30).status_code == 200  # no login
    # Where the hub itself sends people to eve's server.
    user = requests.get(f"{hub['url']}/hub/api/users/{ATTACKER}", headers=headers, timeout=30).json()
    link = urllib.parse.urljoin(hub["url"] + "/", user["servers"][""]["url"]) + "static/mint.html"
    context = browser.new_context()
    try:
        victim = context.new_page()
        victim.set_default_timeout(60_000)
        victim.shot = lambda name: None
        log_in(victim, hub, "bob")
        victim.goto(link)
        victim.wait_for_function("!document.getElementById('out').textContent.startsWith('waiting')")
        shown = victim.locator("#out").text_content()
    finally:
        context.close()
    assert not shown.startswith("ANSWERED 201"), shown
    admin = api_token(hub, ADMIN[0], ADMIN[1])
    tokens = requests.get(f"{hub['url']}/hub/api/users/bob/tokens", headers={"Authorization": f"token {admin}"},
                          timeout=30).json()
    assert not [t for t in tokens.get("api_tokens", []) if t.get("note") == "minted by eve"], tokens


OWN_SERVER = """
import socket, subprocess, sys, time
server = subprocess.Popen([sys.executable, "-m", "http.server", str(PORT), "--bind", "127.0.0.1"],
                          start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(50):
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
        print("serving")
        break
    except OSError:
        time.sleep(0.2)
"""
KNOCK = """
import socket
seen = {}
for name, port in PORTS.items():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        seen[name] = "open"
    except OSError as exc:
        seen[name] = type(exc).__name__
print(seen)
"""


def test_a_learner_reaches_the_hub_and_the_class_server_and_nothing_else(hub, attacker, through_the_api):
    """From eve's kernel: the MLflow server answers; the bucket (S3, its filer, master and volume
    servers), PostgreSQL and the server carol started in her own JupyterLab (as ex01 has learners
    do) do not, though all of them listen on the host's loopback."""
    from course import stack

    running = hub["stack"]
    weed = dict(a.lstrip("-").split("=", 1) for a in running.s3.service.process.args if a.startswith("-") and "=" in a)
    ports = {name: int(weed[f"{name}.port"]) for name in ("s3", "filer", "master", "volume")}
    ports["postgres"] = running.postgres.port
    ports["mlflow"] = int(urllib.parse.urlparse(hub["mlflow"]).port)
    ports["carol's own server"] = own = stack.free_port()
    carol = api_token(hub, "carol", LEARNERS["carol"])
    assert "serving" in run_in_kernel(hub, "carol", carol, [f"PORT = {own}\n" + OWN_SERVER], path="")[0]
    # carol herself reaches her server; eve reaches only what a learner needs.
    mine = eval(run_in_kernel(hub, "carol", carol, [f"PORTS = {{'own': {own}}}\n" + KNOCK], path="")[0])  # noqa: S307
    assert mine == {"own": "open"}, mine
    seen = eval(run_in_kernel(hub, ATTACKER, attacker, [f"PORTS = {ports!r}\n" + KNOCK], path="")[0])  # noqa: S307
    assert seen.pop("mlflow") == "open", seen
    assert all(outcome != "open" for outcome in seen.values()), seen


HUNT = """
import hashlib, os, re
digest = re.compile(r"[0-9a-f]{64}")
# WANTED holds a hash of each digest, not the digest: this cell's own text lands in the kernel's history.
found = []
# The course's code and hand-outs as the view holds them, and the home (Python's install is the host's own).
for top in (ROOT + "/course", ROOT + "/grading", "/opt/course-handouts", os.path.expanduser("~")):
    for folder, _, names in os.walk(top):
        for name in names:
            try:
                text = open(os.path.join(folder, name), errors="ignore").read()
            except OSError:
                continue
            found += [d for d in digest.findall(text) if hashlib.sha256(d.encode()).hexdigest() in WANTED]
print(sorted(set(found)))
"""


def test_the_quiz_is_checked_by_the_hub_and_its_answers_stay_out_of_the_view(hub, attacker):
    """The quiz's expectations hold each answer as a salted digest, which four tries a question
    recover; on the hub they are not in a learner's view, and the quiz's self-check asks the hub's
    grader (grading.remote_check), which grades the learner's own run with the learner's login."""
    import yaml

    digests = re.findall(r"sha256: ([0-9a-f]{64})", (ROOT / "grading" / "expectations" / "10-quiz.yaml").read_text())
    assert len(digests) == 10
    wanted = [hashlib.sha256(d.encode()).hexdigest() for d in digests]
    seen = run_in_kernel(hub, ATTACKER, attacker, [f"ROOT, WANTED = {str(ROOT)!r}, {wanted!r}\n" + HUNT], path="")[0]
    assert seen.strip() == "[]", seen
    # eve's quiz, with the reference answers typed into its parameters cell but one: the hub grades
    # it, nine right answers earn their points, and the wrong one costs its own, with a report that
    # says where to reread, not what is right.
    answers = yaml.safe_load((ROOT / "grading" / "expectations" / "reference-parameters" / "10-quiz.yaml").read_text())
    wrong = next(letter for letter in "abcd" if letter != answers["q3"])
    notebook = nbformat.read(ROOT / "notebooks" / "10-quiz.ipynb", as_version=4)
    codes = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    codes[0] += "\n" + "".join(f"{name} = {value!r}\n" for name, value in {**answers, "q3": wrong}.items())
    shown = run_in_kernel(hub, ATTACKER, attacker, codes, path="course/notebooks")[-1]
    assert re.search(r"score 10/11, 10/11 checks passed", shown) and "FAIL  q3" in shown, shown
    assert f"'{answers['q3']}'" not in shown.split("FAIL  q3")[1].split("\n  ")[0]


AT_THE_LIMITS = """
import os, subprocess, sys, time

def fill(path, most):  # MB written before the file system refused more (at most `most`)
    written = 0
    with open(path, "wb") as handle:
        try:
            while written < most:
                handle.write(b"x" * 2**20)
                handle.flush()
                written += 1
        except OSError:
            pass
    return written

seen = {"tmp_mb": fill("/tmp/fill", 1024)}  # /tmp is memory (kept full from here on)
home = os.path.expanduser("~/fill")  # the home is on the host's disk: fill it too, then free it
seen["home_mb"] = fill(home, 2048)
os.remove(home)
hog = subprocess.Popen([sys.executable, "-c", "import time\\nb = []\\nfor _ in range(64): b.append(bytes(range(256)) * 2**18)\\ntime.sleep(60)"])
seen["hog"] = hog.wait()  # killed at the memory bound, or 0 after holding 4 GB
sleepers = []
try:
    while len(sleepers) < 600:
        sleepers.append(subprocess.Popen(["sleep", "3600"]))
except OSError as exc:
    seen["refused"] = type(exc).__name__
seen["sleepers"] = len(sleepers)
print(seen)
"""


def test_one_learner_at_their_limits_leaves_the_others_working(hub, attacker, through_the_api):
    """eve fills her /tmp and her home, runs out of memory and forks until refused; each stops at her bound,
    and carol's kernel still answers while eve holds everything she was allowed."""
    share = dict(zip(SHARE[::2], map(int, SHARE[1::2])))
    groups = [p for p in Path("/sys/fs/cgroup").glob(f"*/course-sandbox-learner-{ATTACKER}")]
    assert groups, "eve's server runs in no cgroup of its own"
    seen = eval(run_in_kernel(hub, ATTACKER, attacker, [AT_THE_LIMITS], path="", timeout=240)[0])  # noqa: S307
    assert seen["tmp_mb"] <= share["--tmp-mb"] and seen["home_mb"] <= share["--home-mb"], seen
    assert seen["hog"] == -signal.SIGKILL, seen  # the kernel's memory killer, inside her group only
    assert seen.get("refused") and seen["sleepers"] < share["--processes"], seen
    started = time.monotonic()
    carol = api_token(hub, "carol", LEARNERS["carol"])
    assert run_in_kernel(hub, "carol", carol, ["print(6 * 7)"], path="", timeout=60)[0].strip() == "42"
    assert time.monotonic() - started < 60
    # Stopping eve's server ends all she left running, and her group with it.
    headers = {"Authorization": f"token {attacker}"}
    assert requests.delete(f"{hub['url']}/hub/api/users/{ATTACKER}/server", headers=headers, timeout=60).status_code in (202, 204)
    deadline = time.monotonic() + 60
    while processes_of(ATTACKER) or any(group.exists() for group in groups):
        assert time.monotonic() < deadline, (processes_of(ATTACKER), groups)
        time.sleep(0.5)
    start_server(hub, ATTACKER, attacker)


def processes_of(username: str) -> list[int]:
    return [p.pid for p in psutil.process_iter(["username"]) if p.info["username"] == username]


GUESSES = """
import base64, collections, concurrent.futures, os, time, urllib.error, urllib.request
url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"

def guess(thread):
    seen, count, end = collections.Counter(), 0, time.monotonic() + 12
    while time.monotonic() < end:
        pair = base64.b64encode(f"alice:guess-{thread}-{count}".encode()).decode()
        count += 1
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Basic " + pair}), timeout=60)
            seen[200] += 1
        except urllib.error.HTTPError as exc:
            seen[exc.code] += 1
    return seen

with concurrent.futures.ThreadPoolExecutor(12) as pool:
    print(dict(sum(pool.map(guess, range(12)), collections.Counter())))
"""


def test_a_password_flood_neither_guesses_nor_slows_the_others(hub, attacker):
    """eve guesses alice's password from 12 threads. Past the limit her guesses are refused unchecked
    (429): the server spends milliseconds of CPU on each, not the 0.3 s a password check costs, and
    carol, at work meanwhile, is still answered."""
    from course import ratelimit

    headers = {"Authorization": "Basic " + base64.b64encode(f"carol:{LEARNERS['carol']}".encode()).decode()}
    search = hub["mlflow"] + "/api/2.0/mlflow/experiments/search?max_results=5"
    service = psutil.Process(hub["stack"].server.service.pid)
    servers = [p for p in service.children(recursive=True) if "python" in Path(p.cmdline()[0]).name]

    def server_cpu() -> float:
        return sum(sum(p.cpu_times()[:2]) for p in servers)

    def carols_wait(times: int = 15) -> float:
        waits = []
        for _ in range(times):
            started = time.perf_counter()
            assert requests.get(search, headers=headers, timeout=60).status_code == 200
            waits.append(time.perf_counter() - started)
            time.sleep(0.2)
        return statistics.median(waits)

    before = carols_wait()
    spent = server_cpu()
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        flood = thread.submit(run_in_kernel, hub, ATTACKER, attacker, [GUESSES], "")
        time.sleep(3)
        during = carols_wait()
        seen = {int(k): v for k, v in eval(flood.result()[0]).items()}  # noqa: S307 - a dict of ints printed by the test's own code
    spent = server_cpu() - spent
    assert not seen.get(200) and seen.get(429, 0) > 10 * seen.get(401, 0), seen
    assert seen.get(401, 0) <= ratelimit.ACCOUNT_FAILURES + 12, seen  # 12 may be in flight when the limit is reached
    # CPU, not waiting time, which the machine's other work moves: without the limits each guess
    # cost the server 0.1 s of CPU (155 in 12 s, carol 13x slower); refused, about 3 ms.
    assert spent / sum(seen.values()) < 0.02, (spent, seen)
    assert during < before + 1.0, (before, during)
    # The hub's own login form: after the limit, a guess is not even sent to the MLflow server,
    # and bob, at work before the guesses began, still logs in.
    form_login(hub, "bob", LEARNERS["bob"])
    session = requests.Session()
    session.get(f"{hub['url']}/hub/login", timeout=30)
    for count in range(ratelimit.ACCOUNT_FAILURES + 3):
        answer = session.post(f"{hub['url']}/hub/login", timeout=60, allow_redirects=False,
                              data={"username": "bob", "password": f"guess-{count}", "_xsrf": session.cookies["_xsrf"]})
        assert answer.status_code == 403
    assert "login refused for bob from" in (hub["state"] / "jupyterhub.log").read_text()
    form_login(hub, "bob", LEARNERS["bob"])


# After grade-class: the account made here would be one more learner with nothing logged.
def test_a_wrong_password_or_someone_elses_system_account_cannot_log_in(hub):
    from course import accounts

    # An MLflow account named like a system account the course did not make (daemon): no login,
    # or the learner's server would run as that account.
    daemon_password = "daemon-" + secrets.token_urlsafe(12)
    accounts.AuthServer(hub["mlflow"], *ADMIN).create("daemon", daemon_password)
    assert _account("daemon") and _account("daemon").pw_uid < 1000
    session = requests.Session()
    session.get(f"{hub['url']}/hub/login", timeout=30)
    for username, password in (("alice", "not-alices-password"), ("root", "anything"), ("daemon", daemon_password)):
        answer = session.post(f"{hub['url']}/hub/login", timeout=60, allow_redirects=False,
                              data={"username": username, "password": password, "_xsrf": session.cookies["_xsrf"]})
        assert answer.status_code == 403, (username, answer.status_code)


def test_the_hub_refuses_a_server_without_accounts_in_one_line(tmp_path):
    from conftest import assert_one_line_error
    from course import stack

    plain = stack.start_mlflow(tmp_path / "plain", f"sqlite:///{tmp_path / 'plain.db'}", str(tmp_path / "artifacts"))
    try:
        done = subprocess.run([sys.executable, "-m", "course.hub", "--tracking-uri", plain.url,
                               "--state", str(tmp_path / "state")], cwd=ROOT, capture_output=True, text=True, timeout=60)
        # Nor does grade-class grade it: who made a run or a name there cannot be told.
        graded = run_cli("grade-class", "--lab", "lab04", "--tracking-uri", plain.url, "--out", str(tmp_path / "out"),
                         env=credentials(*ADMIN), timeout=60)
        bad = subprocess.run([sys.executable, "-m", "course.hub", "--tracking-uri", plain.url, "--public-url",
                              "http://10.0.0.5:8000", "--state", str(tmp_path / "state")], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    finally:
        plain.service.stop()
    assert_one_line_error(done, "has no accounts", "--app-name course-class")
    assert_one_line_error(graded, "is not a class server", "--app-name course-class")
    assert_one_line_error(bad, "--public-url", "a host name")
    from course.hub import command

    for url in ("ftp://hub.example.edu", "https://hub.example.edu/path", "http://[::1]:8000"):
        with pytest.raises(command.HubError, match="--public-url"):
            command.public_url(url, 8000)
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    missing = subprocess.run([sys.executable, "-m", "course.hub"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env=env)
    assert_one_line_error(missing, "--tracking-uri")
    dead = subprocess.run([sys.executable, "-m", "course.hub", "--tracking-uri", f"http://127.0.0.1:{stack.free_port()}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert_one_line_error(dead, "no MLflow server answers")


def wildcard_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for name and *.name, as a wildcard certificate from a CA would be."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name), x509.DNSName(f"*.{name}")]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    cert, secret = folder / "hub.crt", folder / "hub.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    secret.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    return cert, secret


NGINX = """daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{}}
http {{
  access_log off;
  client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy; fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi; scgi_temp_path {folder}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name {name} *.{name};
    ssl_certificate {cert}; ssl_certificate_key {key};
    location / {{
      proxy_pass http://127.0.0.1:{hub};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
    }}
  }}
}}
"""


def test_behind_tls_and_a_wildcard_name_each_learner_has_an_origin_of_its_own(hub, browser, tmp_path):
    """The hub as a real class runs it: --public-url https://hub.test:PORT, nginx in front with a
    wildcard certificate, and a browser that resolves hub.test and *.hub.test (as wildcard DNS
    would) to this machine. dave logs in and lands on https://dave.hub.test:PORT, his own origin."""
    from course import stack

    nginx = shutil.which("nginx")
    require(None if nginx else "nginx is not installed (apt-get install nginx-light)")
    name, tls = "hub.test", stack.free_port()
    state = tmp_path / "state"
    second = subprocess.Popen([sys.executable, "-m", "course.hub", "--tracking-uri", hub["mlflow"], "--port", "0",
                               "--public-url", f"https://{name}:{tls}", "--state", str(state), *SHARE], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    proxy = None
    try:
        listening = None
        for line in second.stdout:
            if line.startswith("Listening on:"):
                listening = int(line.rsplit(":", 1)[1])
            if line.startswith("Press Ctrl-C"):
                break
        assert listening, second.stderr.read()
        cert, key = wildcard_certificate(tmp_path, name)
        (tmp_path / "nginx.conf").write_text(NGINX.format(folder=tmp_path, port=tls, name=name, cert=cert, key=key,
                                                          hub=listening))
        proxy = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        resolving = browser.browser_type.launch(executable_path=shutil.which("chromium"), args=[
            *CHROMIUM_FLAGS, f"--host-resolver-rules=MAP {name} 127.0.0.1, MAP *.{name} 127.0.0.1"])
        try:
            context = resolving.new_context(ignore_https_errors=True)  # the certificate is the test's own
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"https://{name}:{tls}/hub/login")
            page.get_by_label("Username").fill("dave")
            page.get_by_label("Password").fill(LEARNERS["dave"])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"/user/dave/lab"))
            page.locator(".jp-LabShell").wait_for()
            landed = urllib.parse.urlparse(page.url)
        finally:
            resolving.close()
        assert (landed.scheme, landed.hostname, landed.port) == ("https", f"dave.{name}", tls), page.url
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=30)
        os.killpg(second.pid, signal.SIGINT)
        second.wait(timeout=60)
