"""The hub's configuration in its three forms agrees: course/hub/jupyterhub_config.py (what
`python -m course.hub` runs), docker/compose.class.yaml and docs/z2jh-values.yaml (Kubernetes).

Nothing here starts a server; test_hub.py runs the local hub for real.
"""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from conftest import ROOT, require
from test_docker_compose import check_mlflow_and_jupyterlab
from course.hub import command, login, spawner

DOCKER = ROOT / "docker"
VALUES = ROOT / "docs" / "z2jh-values.yaml"
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")


def local_config(monkeypatch, tmp_path):
    for name, value in {"COURSE_HUB_STATE": str(tmp_path), "COURSE_HUB_URL": "http://127.0.0.1:8000",
                        "COURSE_HUB_API_URL": "http://127.0.0.1:8081", "COURSE_HUB_PROXY_API_URL": "http://127.0.0.1:8001",
                        "COURSE_HUB_PROXY": str(command.PROXY), "COURSE_HUB_TRACKING_URI": "http://mlflow:5000",
                        "COURSE_HUB_PUBLIC_URL": "http://localhost:8000"}.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader(command.CONFIG.name, path=str(command.CONFIG.parent)).load_config()


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def test_the_local_hub_keeps_the_login_encrypted_and_its_files_in_the_state_folder(monkeypatch, tmp_path):
    config = local_config(monkeypatch, tmp_path)
    assert config.JupyterHub.authenticator_class == "course.hub.login.MLflowAuthenticator"
    assert config.JupyterHub.spawner_class == "course.hub.spawner.CourseSpawner"
    assert config.Authenticator.enable_auth_state is True
    assert config.MLflowAuthenticator.tracking_uri == "http://mlflow:5000"
    # Each learner's server on an origin of its own, under the address learners open.
    assert config.JupyterHub.subdomain_host == "http://localhost:8000"
    for path in (config.JupyterHub.db_url.removeprefix("sqlite:///"), config.JupyterHub.cookie_secret_file,
                 config.ConfigurableHTTPProxy.pid_file, config.CourseSpawner.runtime):
        assert path.startswith(str(tmp_path)), path


def test_kubernetes_values_use_the_same_login_and_environment(monkeypatch, tmp_path):
    from jupyterhub.auth import Authenticator, LocalAuthenticator

    local = local_config(monkeypatch, tmp_path)
    hub, single = values()["hub"], values()["singleuser"]
    name = hub["config"]["JupyterHub"]["authenticator_class"]
    assert name.startswith("course.hub.login.")
    chosen = getattr(login, name.rsplit(".", 1)[1])
    # The same login as the local hub's, without system users: KubeSpawner runs pods.
    assert issubclass(chosen, Authenticator) and not issubclass(chosen, LocalAuthenticator)
    assert issubclass(login.MLflowAuthenticator, chosen)
    for trait in hub["config"][chosen.__name__]:
        assert chosen.class_traits(config=True).get(trait) is not None, trait
    assert hub["config"]["Authenticator"]["enable_auth_state"] is local.Authenticator.enable_auth_state is True
    assert hub["config"]["JupyterHub"]["subdomain_host"].startswith("https://") and local.JupyterHub.subdomain_host
    key = hub["extraEnv"]["JUPYTERHUB_CRYPT_KEY"]
    assert isinstance(key, dict) and "secretKeyRef" in key["valueFrom"], "the key must come from a Secret"
    assert {k: single["extraEnv"][k] for k in spawner.LEARNER_ENV} == spawner.LEARNER_ENV
    assert single["defaultUrl"].endswith("/course") and local.Spawner.default_url.endswith("/course")
    assert single["cmd"] == "jupyterhub-singleuser"
    # The learner's volume must not hide the image's hand-outs, which the start hook copies into it.
    hook = " ".join(single["lifecycleHooks"]["postStart"]["exec"]["command"])
    mount = single["storage"]["homeMountPath"]
    assert "cp -Rn" in hook and mount in hook and "solutions" not in hook
    assert single["defaultUrl"].removeprefix("/lab/tree") in mount + "/course"


@pytest.fixture(scope="module")
def class_compose(tmp_path_factory) -> dict:
    """`docker-compose config` of the stack with the class overlay, with .env.example's values."""
    exe = shutil.which("docker-compose")
    if exe is None:
        require("docker-compose is not installed (apt-get install docker-compose)")
    folder = tmp_path_factory.mktemp("compose") / "docker"
    shutil.copytree(DOCKER, folder, ignore=shutil.ignore_patterns(".env"))
    shutil.copy(folder / ".env.example", folder / ".env")
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    done = subprocess.run([exe, "-f", "compose.yaml", "-f", "compose.class.yaml", "config"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "${" not in done.stdout, "a variable was left uninterpolated"
    return yaml.safe_load(done.stdout)["services"]


def mounts_of(service: dict) -> dict[str, tuple[str, str]]:
    """target -> (source, mode), from docker-compose's SOURCE:TARGET:MODE; a named volume's source has no /."""
    found = {}
    for volume in service["volumes"]:
        source, target, mode = volume.rsplit(":", 2)
        found[target] = (source.split("/docker/", 1)[1] if "/docker/" in source else source, mode)
    return found


def test_the_class_stack_asks_for_a_login_and_serves_the_hub(class_compose):
    server = [str(a) for a in class_compose["mlflow"]["command"]]
    from course.accounts import CLASS_APP

    assert server[server.index("--app-name") + 1] == CLASS_APP
    check_mlflow_and_jupyterlab(class_compose)  # the production server, with accounts
    env = class_compose["mlflow"]["environment"]
    mounts = mounts_of(class_compose["mlflow"])
    auth = configparser.ConfigParser()
    auth.read(DOCKER / "basic_auth.ini")
    assert mounts[env["MLFLOW_AUTH_CONFIG_PATH"]] == ("basic_auth.ini", "ro")
    assert auth["mlflow"]["default_permission"] == "NO_PERMISSIONS"
    database = auth["mlflow"]["database_uri"].removeprefix("sqlite:///")
    assert any(database.startswith(target + "/") and "/" not in source for target, (source, _) in mounts.items()), database
    assert "admin_password" not in auth["mlflow"] and env["MLFLOW_AUTH_ADMIN_PASSWORD"]
    assert class_compose["jupyterlab"]["profiles"] == ["single-learner"]

    hub = class_compose["hub"]
    args = command.build_parser().parse_args([str(a) for a in hub["command"][3:]])
    assert hub["command"][:3] == ["python", "-m", "course.hub"]
    host = args.tracking_uri.removeprefix("http://")
    assert host in server[server.index("--allowed-hosts") + 1].split(",")
    assert args.ip == "0.0.0.0" and hub["ports"][0]["target"] == args.port
    targets = set(mounts_of(hub))
    assert any(str(args.state).startswith(t + "/") for t in targets), "the hub's secrets must outlive the container"
    dockerfile = (DOCKER / "hub" / "Dockerfile").read_text()
    homes = next(line.split("=", 1)[1] for line in dockerfile.splitlines() if line.startswith("ENV COURSE_HUB_HOMES="))
    assert homes in targets and "SYS_ADMIN" in hub["cap_add"]
    assert command.public_url(args.public_url, args.port) == "http://localhost:8000"
    # Storage is reached through the MLflow server alone: not from the hub, nor from a learner's server.
    networks = {name: set(service.get("networks") or ["default"]) for name, service in class_compose.items()}
    assert networks["postgres"] == networks["seaweedfs"] == {"storage"} and "storage" in networks["mlflow"]
    assert not networks["hub"] & networks["postgres"] and not networks["jupyterlab"] & networks["postgres"]
    declared = yaml.safe_load((DOCKER / "compose.class.yaml").read_text())["networks"]
    assert declared["storage"]["internal"] is True


def test_every_class_secret_comes_from_env():
    services = yaml.safe_load((DOCKER / "compose.class.yaml").read_text())["services"]
    example = (DOCKER / ".env.example").read_text()
    found = 0
    for service in services.values():
        for name, value in (service.get("environment") or {}).items():
            if any(word in name for word in SECRET_WORDS) and name != "MLFLOW_AUTH_CONFIG_PATH":
                found += 1
                assert str(value).startswith("${") and ":?" in str(value), (name, value)
                assert str(value)[2:].split(":")[0] + "=" in example, name
    assert found == 2
