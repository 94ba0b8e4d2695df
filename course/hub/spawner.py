"""Each learner's JupyterLab: their own system user, in a bubblewrap view of the machine.

The view is a fresh root holding the system (read-only; /etc/shadow unreadable), Python and the
course's packages (read-only, bound where the editable install looks for them), the hand-outs at
/opt/course-handouts (read-only), the learner's home (the only writable folder besides a private
/tmp and /dev/shm, both sized) and a process namespace of its own. Other learners' homes, the
course's solutions, the hub's state and the git checkout are not in it. The network is the
learner's own (course.hub.relay): through it the server reaches the hub's API and the MLflow
server, and the hub's proxy reaches the server; nothing else on the host. A cgroup of its own
bounds the learner's memory (the RAM disks included) and processes, and weighs its share of
contended cores; the home is a file system of its own size (course.hub.homes).

bubblewrap runs as root to build the view, then setpriv becomes the learner with no
capabilities and no way to gain any. On the first start the learner's copy of the hand-outs is
made as the learner, so no root process ever writes into a folder a learner controls.
"""
from __future__ import annotations

import asyncio
import os
import pwd
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import random_port
from traitlets import Integer, Unicode

from course import paths, uris
from course.hub import homes, relay
from grading import sandbox, selfcheck

HANDOUTS = "/opt/course-handouts"
SHM_BYTES = 256 * 1024 * 1024
TMP_BYTES = 1024 * 1024 * 1024  # /tmp is memory: unsized, one learner could take half the machine's
# Each learner's share of the machine (a cgroup): lab04 with its self-check peaks near 1 GB, and
# ex06 starts PostgreSQL, S3 and an MLflow server of its own.
MEMORY_MB, PROCESSES, CPU_SHARES = 3072, 512, 1024
HOME_MB = 2048  # the home's size (course.hub.homes): the course's own files take ~60 MB of it
# This view is the learner's sandbox: a self-check loads the learner's own models in a process of
# theirs (a bubblewrap inside it could not mount its own /proc). docs/z2jh-values.yaml sets the same.
# MLflow's telemetry thread can unset its session variable while a request reads it (a KeyError
# seen once in a hub test); the course sends no telemetry anywhere else either.
# With an S3 artifact store, MLflow's server offers clients presigned URLs into the bucket
# (server-info's multipart capabilities), and the client then fetches every artifact from the
# bucket itself. Learners do not reach the bucket: their files go through the server's proxy.
LEARNER_ENV = {"COURSE_SANDBOX": "process", "MLFLOW_DISABLE_TELEMETRY": "true",
               "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false", "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "false"}
# Where learners share a network (a spawner without the relay's), a kernel's TCP ports on 127.0.0.1
# are open to all of them, and anyone may subscribe to its output channel (IOPub). Kernels here talk
# over Unix sockets in a folder of the learner's private /tmp (a socket's path is at most 107 bytes).
KERNELS = {"args": ["--KernelManager.transport=ipc"], "env": {"JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime"}}


def view(home: str, runtime: Path, tmp_bytes: int = TMP_BYTES, hosts: Path | None = None) -> list[str]:
    """bwrap's arguments for one learner's view, up to the command. hosts: the view's /etc/hosts."""
    binds = [(p, p) for p in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)})]
    binds += [(str(runtime / package), str(paths.ROOT / package)) for package in ("course", "grading")]
    binds.append((str(runtime / "handouts"), HANDOUTS))
    binds += [(str(hosts), "/etc/hosts")] if hosts else []
    # A /dev/shm of its own: without one, joblib (scikit-learn's n_jobs) finds no semaphores,
    # warns in the learner's notebook and runs serially.
    return [*sandbox.view(binds, [home], tmp_bytes), "--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
            "--chdir", home, "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session"]


class CourseSpawner(LocalProcessSpawner):
    _cgroup: sandbox.Cgroup | None = None
    _network: relay.Network | None = None
    runtime = Unicode(help="The hub's root-owned copy of course/, grading/ and handouts/ (command.py makes it)").tag(
        config=True)
    tmp_bytes = Integer(TMP_BYTES, help="The size of each learner's /tmp, a RAM disk (bytes)").tag(config=True)
    memory_mb = Integer(MEMORY_MB, help="Each learner's memory, /tmp and /dev/shm included (MB)").tag(config=True)
    processes = Integer(PROCESSES, help="How many processes each learner may run at once").tag(config=True)
    cpu_shares = Integer(CPU_SHARES, help="Each learner's share of contended cores (1024: an equal share)").tag(
        config=True)
    home_mb = Integer(HOME_MB, help="The size of each learner's home (MB)").tag(config=True)
    checks_url = Unicode("", help="The hub's grader for self-checks whose answers stay out of the view").tag(
        config=True)

    def make_preexec_fn(self, name):
        # bubblewrap needs root to build the view; setpriv drops to the learner inside it. Before
        # bubblewrap starts, the process joins the learner's network and cgroup, and all it starts with it.
        network, cgroup = self._network, self._cgroup

        def enter():
            if network is not None:
                network.enter()
            if cgroup is not None and cgroup.active:
                cgroup.enter()
        return enter

    def user_env(self, env):
        env = super().user_env(env)
        env.update({"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
                    "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "LOGNAME": self.user.name,
                    "SHELL": "/bin/bash",  # the terminal needs a real shell; nologin is for logins
                    **LEARNER_ENV, **KERNELS["env"]})
        if self.checks_url:
            env[selfcheck.REMOTE] = self.checks_url
        return env

    async def start(self):
        account = pwd.getpwnam(self.user.name)
        if not self.port:
            self.port = random_port()
        # The learner reaches the hub's API and the MLflow server, and nothing else of the host's.
        reach = [uris.host_port(url) for url in (self.hub.api_url, self.environment["MLFLOW_TRACKING_URI"],
                                                 self.checks_url) if url]
        self._network = await relay.Network.start(self.port, reach, Path(self.runtime).parent / "networks",
                                                  self.user.name)
        self._cgroup = sandbox.Cgroup(f"learner-{self.user.name}", self.memory_mb, self.processes, self.cpu_shares)
        if not self._cgroup.active:
            self.log.warning("%s's server runs without its memory, process and CPU bounds: cannot make a cgroup",
                             self.user.name)
        image = Path(self.runtime).parent / "homes" / f"{self.user.name}.ext4"
        # mkfs and the first copy take a moment: off the hub's event loop.
        if not await asyncio.to_thread(homes.bound, Path(account.pw_dir), image, self.home_mb, account.pw_uid,
                                       account.pw_gid):
            self.log.warning("%s's home has no size bound: no loop device can be used here", self.user.name)
        # The learner's own copy of the hand-outs, made by the learner; what they changed stays.
        # JupyterHub appends the server's arguments, which "$@" passes on.
        first = f'mkdir -p "$HOME/course" && cp -Rn {HANDOUTS}/. "$HOME/course/" && exec "$@"'
        self.cmd = [*view(account.pw_dir, Path(self.runtime), self.tmp_bytes, self._network.hosts), "--",
                    "setpriv", "--reuid", str(account.pw_uid), "--regid", str(account.pw_gid), "--init-groups",
                    "--no-new-privs", "--bounding-set", "-all", "--inh-caps", "-all", "--",
                    "/bin/sh", "-c", first, "sh", str(Path(sys.executable).parent / "jupyterhub-singleuser"),
                    *KERNELS["args"]]
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        homes.release(Path(pwd.getpwnam(self.user.name).pw_dir))
        if self._network is not None:
            self._network.stop()
            self._network = None
        if self._cgroup is not None:
            self._cgroup.remove()  # kills what the learner left behind, then the group
            self._cgroup = None
