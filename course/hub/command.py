"""Start JupyterHub for a class: ``python -m course.hub --tracking-uri URL [--port N] [--state DIR]``.

The server at URL must run the course's class app (``--app-name course-class``); its accounts (``python -m course.accounts``)
are the hub's. The hub listens on 127.0.0.1:PORT (default 8000, or a free port; --ip 0.0.0.0 in a
container); put a TLS proxy in front of it for a real class. Ctrl-C stops the hub, its proxy and
every learner's server.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from course import accounts, paths, stack, uris
from course.hub import spawner
from course.errors import CourseError

CONFIG = Path(__file__).with_name("jupyterhub_config.py")
PROXY = paths.ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
READY_SECONDS = 60
LEARNER_PREFIX = "COURSE_HUB_LEARNER_"  # + a CourseSpawner trait's name, upper case: each learner's share


class HubError(CourseError):
    pass


def default_state() -> Path:
    return paths.ROOT / ".course" / "hub"


def check_machine() -> None:
    if os.geteuid() != 0:
        raise HubError("the hub starts each learner's server as their own system user, which needs root; "
                       "run it as root (sudo)")
    for tool, package in (("bwrap", "bubblewrap"), ("setpriv", "util-linux"), ("useradd", "passwd")):
        if shutil.which(tool) is None:
            raise HubError(f"{tool} is missing; install the {package} package")
    if not PROXY.exists() or shutil.which("node") is None:
        raise HubError("JupyterHub's proxy is missing; run `make setup` (it runs `npm ci` for configurable-http-proxy)")


def check_server(uri: str) -> None:
    """The server answers, and has accounts: users/current without a login must say 401."""
    if not uris.is_server(uri):
        raise HubError(f"--tracking-uri must be the MLflow server's http(s):// address, not {uri!r}")
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/api/2.0/mlflow/users/current", timeout=10):
            status = 200
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        raise HubError(f"no MLflow server answers at {uri} ({getattr(exc, 'reason', exc)}); start it first") from None
    if status != 401:
        raise HubError(f"{uri} has no accounts (HTTP {status} without a login); start it with "
                       f"`mlflow server --app-name {accounts.CLASS_APP}` and create them with `python -m course.accounts`")
    if not accounts.is_class_server(uri):
        raise HubError(f"{uri} is not a class server: plain basic-auth lets a learner take another's names and "
                       f"read host files through it; start it with `mlflow server --app-name {accounts.CLASS_APP}` "
                       "(docs/accounts.md)")


def prepare_state(state: Path) -> str:
    """The state folder (root's alone), the runtime copy learners see, and the auth-state key."""
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    key_file = state / "crypt_key"
    if not key_file.exists():
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    copy_runtime(state / "runtime")
    return key_file.read_text().strip()


def copy_runtime(runtime: Path) -> None:
    """course/ and grading/ (self-checks need the expectations) and the hand-outs, never the solutions,
    nor the expectations that hold answers: the hub's grader checks those (grading.remote_check)."""
    from grading.remote_check import holds_answers

    fresh = runtime.with_name("runtime.new")
    shutil.rmtree(fresh, ignore_errors=True)
    patterns = shutil.ignore_patterns("__pycache__", "*.pyc", "source", "reference-parameters")

    def skip(folder: str, names: list[str]) -> set[str]:
        held = {n for n in names if n.endswith(".yaml") and holds_answers(Path(folder) / n)}
        return set(patterns(folder, names)) | held

    for package in ("course", "grading"):
        shutil.copytree(paths.ROOT / package, fresh / package, ignore=skip)
    shutil.copytree(paths.NOTEBOOKS, fresh / "handouts" / "notebooks", ignore=skip)
    shutil.copytree(paths.LABS, fresh / "handouts" / "labs", ignore=skip)
    for item in [fresh, *fresh.rglob("*")]:
        os.chmod(item, 0o755 if item.is_dir() else 0o644)
    shutil.rmtree(runtime, ignore_errors=True)
    fresh.rename(runtime)


def public_url(given: str | None, port: int) -> str:
    """The address learners open. Each learner's server gets an origin of its own under it
    (alice.localhost:8000, alice.hub.example.edu), so a page one learner serves cannot act as the
    hub or as another learner in that person's browser."""
    url = (given or f"http://localhost:{port}").rstrip("/")
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme not in ("http", "https") or not host or parsed.path or parsed.query:
        raise HubError(f"--public-url must be http(s)://HOST[:PORT], not {given!r}")
    if host.replace(".", "").isdigit() or ":" in host:
        raise HubError(f"--public-url needs a host name, not the address {host}: each learner's server is served "
                       f"at <name>.HOST (use localhost on one machine, or a name with wildcard DNS)")
    return url


def hub_environment(uri: str, state: Path, key: str, ip: str, port: int, public: str,
                    bounds: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}  # the admin's login stays here
    shares = {f"{LEARNER_PREFIX}{name.upper()}": str(value) for name, value in bounds.items()}
    return {**env, **shares, "JUPYTERHUB_CRYPT_KEY": key, "COURSE_HUB_STATE": str(state),
            "COURSE_HUB_TRACKING_URI": uri, "COURSE_HUB_URL": f"http://{ip}:{port}", "COURSE_HUB_PUBLIC_URL": public,
            "COURSE_HUB_API_URL": f"http://127.0.0.1:{stack.free_port()}",
            "COURSE_HUB_PROXY_API_URL": f"http://127.0.0.1:{stack.free_port()}", "COURSE_HUB_PROXY": str(PROXY),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])}


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/hub/api", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course.hub", description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                        help="the class's MLflow server, with basic auth (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000, or a free one if taken)")
    parser.add_argument("--ip", default="127.0.0.1", help="the address the hub listens on (default 127.0.0.1)")
    parser.add_argument("--public-url", help="the address learners open, http(s)://HOST[:PORT]; each learner's server "
                        "is at <name>.HOST, so HOST needs wildcard DNS (default http://localhost:PORT, which "
                        "browsers resolve with every subdomain)")
    bounds = parser.add_argument_group("each learner's share of the machine")
    bounds.add_argument("--memory-mb", type=positive, default=spawner.MEMORY_MB,
                        help=f"memory, /tmp included (default {spawner.MEMORY_MB})")
    bounds.add_argument("--processes", type=positive, default=spawner.PROCESSES,
                        help=f"processes at once (default {spawner.PROCESSES})")
    bounds.add_argument("--tmp-mb", type=positive, default=spawner.TMP_BYTES // 2**20,
                        help=f"the size of /tmp, a RAM disk (default {spawner.TMP_BYTES // 2**20})")
    bounds.add_argument("--home-mb", type=positive, default=spawner.HOME_MB,
                        help=f"the size of the home, a file system of its own (default {spawner.HOME_MB})")
    bounds.add_argument("--cpu-shares", type=positive, default=spawner.CPU_SHARES,
                        help=f"weight on contended cores (default {spawner.CPU_SHARES}, an equal share)")
    parser.add_argument("--state", type=Path, default=default_state(),
                        help="the hub's own folder: database, secrets, runtime copy (default .course/hub)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if not args.tracking_uri:
            raise HubError("pass --tracking-uri (or set MLFLOW_TRACKING_URI) to the class's MLflow server")
        port = stack.port_or_free(args.port)
        public = public_url(args.public_url, port)
        check_machine()
        check_server(args.tracking_uri)
        state = args.state.resolve()
        key = prepare_state(state)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bounds = {"memory_mb": args.memory_mb, "processes": args.processes, "tmp_bytes": args.tmp_mb * 2**20,
              "cpu_shares": args.cpu_shares, "home_mb": args.home_mb}
    env = hub_environment(args.tracking_uri, state, key, args.ip, port, public, bounds)
    local = f"http://127.0.0.1:{port}"
    log = state / "jupyterhub.log"
    checks_port = stack.free_port()
    env["COURSE_HUB_CHECKS_URL"] = f"http://127.0.0.1:{checks_port}"
    with open(state / "checks.log", "ab") as sink:
        checks = subprocess.Popen([sys.executable, "-m", "grading.remote_check", "--tracking-uri", args.tracking_uri,
                                   "--port", str(checks_port)], cwd=state, stdout=sink, stderr=subprocess.STDOUT,
                                  env={"PATH": env["PATH"], "LANG": "C.UTF-8", "HOME": str(state)},
                                  start_new_session=True)
    with open(log, "ab") as sink:
        hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=state, env=env,
                               stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not ready(local):
            if hub.poll() is not None or time.monotonic() > deadline:
                print(f"error: JupyterHub did not start; see {log}", file=sys.stderr)
                return 2
            time.sleep(0.5)
        print(f"JupyterHub:   {public}  (log in with your MLflow username and password)", flush=True)
        print(f"Listening on: {env['COURSE_HUB_URL']}")
        print(f"MLflow:       {args.tracking_uri}")
        print(f"Hub log:      {log}")
        print(f"pid:          {hub.pid}")
        print("Press Ctrl-C to stop.", flush=True)
        hub.wait()
        print(f"error: JupyterHub exited with code {hub.returncode}; see {log}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)  # JupyterHub stops the proxy and every learner's server
            try:
                hub.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(hub.pid, signal.SIGKILL)
                hub.wait()
        os.killpg(checks.pid, signal.SIGKILL)  # the grader keeps nothing that a kill loses
        checks.wait()
