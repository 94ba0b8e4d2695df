"""JupyterHub's configuration for the course, read by ``jupyterhub -f`` (course.hub.command starts it).

Everything that differs between two hubs comes from COURSE_HUB_* variables, so this one file
serves the local hub, docker/compose.yaml and the tests alike. Nothing secret is in it: the
cookie secret and the auth-state key live in the state folder (mode 0700), and the key reaches
JupyterHub as JUPYTERHUB_CRYPT_KEY.
"""
import os
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub's loader provides it)
state = Path(os.environ["COURSE_HUB_STATE"])

c.JupyterHub.bind_url = os.environ["COURSE_HUB_URL"]
# One origin per learner (alice.HOST): a page served from one learner's server cannot call the hub
# or another learner's server with the visitor's cookies.
c.JupyterHub.subdomain_host = os.environ["COURSE_HUB_PUBLIC_URL"]
c.JupyterHub.hub_bind_url = os.environ["COURSE_HUB_API_URL"]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # the hub's Ctrl-C stops every learner's server too

c.ConfigurableHTTPProxy.command = [os.environ["COURSE_HUB_PROXY"]]
c.ConfigurableHTTPProxy.api_url = os.environ["COURSE_HUB_PROXY_API_URL"]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")

c.JupyterHub.authenticator_class = "course.hub.login.MLflowAuthenticator"
c.MLflowAuthenticator.tracking_uri = os.environ["COURSE_HUB_TRACKING_URI"]
c.MLflowAuthenticator.home_base = os.environ.get("COURSE_HUB_HOMES", "/home")
c.Authenticator.enable_auth_state = True  # the MLflow password, encrypted with JUPYTERHUB_CRYPT_KEY

c.JupyterHub.spawner_class = "course.hub.spawner.CourseSpawner"
c.CourseSpawner.runtime = str(state / "runtime")
c.CourseSpawner.checks_url = os.environ.get("COURSE_HUB_CHECKS_URL", "")  # grading.remote_check
for name, value in os.environ.items():  # each learner's share, from command.py's flags
    if name.startswith("COURSE_HUB_LEARNER_"):
        setattr(c.CourseSpawner, name.removeprefix("COURSE_HUB_LEARNER_").lower(), int(value))
c.Spawner.default_url = "/lab/tree/course"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
