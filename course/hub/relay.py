"""A learner's network: a namespace of its own, with two ways through, kept by this relay.

``python -m course.hub.relay --serve PORT --reach HOST:PORT [--reach HOST:PORT ...]``, as root.

The relay makes a new network namespace (only a loopback in it) for one learner's server, whose
processes the spawner starts inside it. From then on it forwards, byte for byte:

- **in**: the host's 127.0.0.1:PORT (where the hub's proxy looks for the learner's server) to
  127.0.0.1:PORT in the learner's namespace, where the server listens;
- **out**: 127.0.0.1:P in the learner's namespace to each HOST:P given with --reach (the hub's
  API and the class's MLflow server), and nowhere else.

So a learner reaches the hub and the MLflow server and nothing else on the host: not the bucket,
not PostgreSQL, not another learner's servers, which listen in namespaces of their own. A --reach
host that is a name (mlflow.example.edu) is listed with the loopback address in the hosts file the
relay writes (--hosts-file), which the view binds over /etc/hosts, so the learner's clients keep
the name (TLS and MLflow's Host check see the real one).

It prints ``ready PID`` when it listens, and runs until it is killed.
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
LOOPBACK = "127.0.0.1"
CHUNK = 1 << 16

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def loopback_up() -> None:
    """`ip link set lo up`, without needing iproute2: a new namespace's loopback starts down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


class Namespaces:
    """The host's network namespace and the learner's, and sockets made in either."""

    def __init__(self):
        self.host = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare a network namespace")
        self.learner = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        loopback_up()

    def socket(self, where: int, family: int = socket.AF_INET) -> socket.socket:
        """A socket of the namespace `where` (a socket stays in the one it was made in)."""
        _setns(where)
        try:
            made = socket.socket(family, socket.SOCK_STREAM)
        finally:
            _setns(self.learner)  # home: the relay itself lives in the learner's namespace
        made.setblocking(False)
        return made

    def listener(self, where: int, port: int) -> socket.socket:
        made = self.socket(where)
        made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        made.bind((LOOPBACK, port))
        made.listen(128)
        return made


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _forward(spaces: Namespaces, where: int, ip: str, port: int, reader, writer) -> None:
    """One accepted connection, joined to ip:port as seen from the namespace `where`."""
    loop = asyncio.get_running_loop()
    try:
        outgoing = spaces.socket(where)
        await asyncio.wait_for(loop.sock_connect(outgoing, (ip, port)), 30)
    except (OSError, asyncio.TimeoutError):
        writer.close()
        return
    far_reader, far_writer = await asyncio.open_connection(sock=outgoing)
    await asyncio.gather(_pump(reader, far_writer), _pump(far_reader, writer))


async def relay(serve: int, reach: list[tuple[str, int]], spaces: Namespaces) -> None:
    """reach: (ip, port) pairs, resolved before the namespace was made (there is no DNS inside)."""
    servers = []
    # in: the hub's proxy, on the host, to the learner's server
    servers.append(await asyncio.start_server(
        lambda r, w: _forward(spaces, spaces.learner, LOOPBACK, serve, r, w), sock=spaces.listener(spaces.host, serve)))
    # out: the learner, to each allowed address
    for ip, port in reach:
        servers.append(await asyncio.start_server(
            lambda r, w, ip=ip, port=port: _forward(spaces, spaces.host, ip, port, r, w),
            sock=spaces.listener(spaces.learner, port)))
    print(f"ready {os.getpid()}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


class Network:
    """The spawner's handle on one learner's relay: its process, its namespace, its hosts file."""

    def __init__(self, process: subprocess.Popen, hosts: Path):
        self.process, self.hosts = process, hosts
        self.namespace = os.open(f"/proc/{process.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    @classmethod
    async def start(cls, serve: int, reach: list[str], folder: Path, name: str) -> "Network":
        folder.mkdir(mode=0o700, exist_ok=True)
        hosts = folder / f"{name}.hosts"
        argv = [sys.executable, "-m", "course.hub.relay", "--serve", str(serve), "--hosts-file", str(hosts)]
        for target in reach:
            argv += ["--reach", target]
        log = folder / f"{name}.log"
        with open(log, "ab") as sink:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=sink, stdin=subprocess.DEVNULL,
                                       start_new_session=True, text=True)
        line = await asyncio.to_thread(process.stdout.readline)
        if not line.startswith("ready"):
            process.kill()
            process.wait()
            raise RuntimeError(f"{name}'s network could not be made; see {log}")
        return cls(process, hosts)

    def enter(self) -> None:
        """In the learner's server process before it execs: join the learner's namespace."""
        _setns(self.namespace)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.namespace)
        self.hosts.unlink(missing_ok=True)


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


def hosts_file(reach: list[tuple[str, int]]) -> str:
    """/etc/hosts for the learner's view: the reached names, at the loopback where the relay listens."""
    names = sorted({host for host, _ in reach if not host.replace(".", "").isdigit() and host != "localhost"})
    return "".join(f"{LOOPBACK}\t{name}\n" for name in ["localhost", *names])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.hub.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, required=True, help="the port of the learner's server")
    parser.add_argument("--reach", type=address, action="append", default=[], help="HOST:PORT the learner may reach")
    parser.add_argument("--hosts-file", help="write the view's /etc/hosts here")
    args = parser.parse_args(argv)
    if args.hosts_file:
        with open(args.hosts_file, "w") as handle:
            handle.write(hosts_file(args.reach))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        resolved = [(socket.gethostbyname(host), port) for host, port in args.reach]
        asyncio.run(relay(args.serve, resolved, Namespaces()))
    except OSError as exc:
        print(f"error: the learner's network cannot be made: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
