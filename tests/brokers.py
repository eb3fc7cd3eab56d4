"""Private RabbitMQ nodes beside the machine's own, for tests that stop, kill or cluster brokers.

Other people's tests run on the system node (rabbit@localhost, 5672) at the same time, so a
test that takes a broker away must take its own. Each node here has its own name
(`docex<i>-<tag>@localhost`), ports, config, data and logs in one temp dir, and a random
Erlang cookie in that dir's `home/`: nothing of the system node, its files or its cookie is
used (/work/shared/SCALE.md §8.1). Only epmd is shared.

Debian's /usr/sbin/rabbitmq* wrappers run as the rabbitmq user with the system cookie, and
/etc/rabbitmq names the system node and its listener, so the nodes are started with the real
scripts in the server's sbin and each gets its own RABBITMQ_CONF_ENV_FILE. Plugins only on
request (the consistent-hash exchange of SCALE.md D4); management stays off, as its listener
would take the system node's port 15672.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# The environment variable that names the process which owns a node (also kept in the file
# `owner` of the nodes' directory): a node whose owner is gone is a leftover of a crashed run,
# and the next run removes it.
OWNER = "DOCEX_RABBIT_OWNER"
NAME_PREFIX = "docex"
DIR_PREFIX = "docex-rabbit-"
BOOT_TIMEOUT = 90.0
# SCALE.md §8.1: the dist port is the AMQP port + 20000, so AMQP ports stay below the
# ephemeral range (32768+) and their dist ports below 65536.
AMQP_PORTS = range(10000, 30000)
DIST_OFFSET = 20000


class BrokerError(Exception):
    pass


def server_scripts() -> Path:
    """The server's own sbin directory, not Debian's /usr/sbin wrappers (see the module doc)."""
    found = sorted(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/sbin"))
    if not found:
        raise BrokerError(
            "no /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin: run scripts/ensure-services"
        )
    return found[-1]


@dataclass(frozen=True)
class Node:
    index: int
    name: str
    amqp_port: int
    directory: Path

    @property
    def dist_port(self) -> int:
        return self.amqp_port + DIST_OFFSET

    @property
    def url(self) -> str:
        """guest may connect only from loopback, which is where the tests are."""
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.amqp_port}"

    @property
    def env_file(self) -> Path:
        return self.directory / "rabbitmq-env.conf"


class PrivateRabbit:
    """N private nodes, clustered when N > 1. Indexes count from 0, as in the node names."""

    def __init__(
        self, directory: Path, tag: str, nodes: list[Node], open_files: int | None = None
    ) -> None:
        self.directory = directory
        self.open_files = open_files
        self.tag = tag
        self.nodes = nodes
        self.home = directory / "home"
        self.sbin = server_scripts()
        self._pids: dict[int, int] = {}

    @classmethod
    def start(
        cls, count: int, plugins: Sequence[str] = (), open_files: int | None = None
    ) -> PrivateRabbit:
        """Boot `count` nodes in parallel, with these plugins enabled, and join them into one
        cluster around node 0. `open_files`: the nodes' limit of open files (ulimit -n), for a
        broker set up as a careless install would be."""
        remove_leftovers()
        tag = secrets.token_hex(4)
        directory = Path(tempfile.gettempdir()) / f"{DIR_PREFIX}{tag}"
        directory.mkdir(mode=0o700)
        (directory / "owner").write_text(OWNER_MARK)
        ports = free_amqp_ports(count)
        nodes = [
            Node(i, f"{NAME_PREFIX}{i}-{tag}@localhost", port, directory / f"node{i}")
            for i, port in enumerate(ports)
        ]
        rabbit = cls(directory, tag, nodes, open_files)
        try:
            rabbit._write_files(plugins)
            for node in nodes:
                rabbit._launch(node)
            for node in nodes:
                rabbit._wait_ready(node)
            for node in nodes[1:]:
                rabbit.ctl(node.index, "stop_app")
                rabbit.ctl(node.index, "join_cluster", nodes[0].name)
                rabbit.ctl(node.index, "start_app")
        except BaseException:
            rabbit.stop_all()
            raise
        return rabbit

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def ctl_command(self, i: int) -> list[str]:
        """`rabbitmqctl` aimed at node i with this cluster's cookie, as a command prefix, for
        code that runs rabbitmqctl itself (docex.router.provision)."""
        return [
            "env",
            f"HOME={self.home}",
            f"RABBITMQ_CONF_ENV_FILE={self.nodes[i].env_file}",
            str(self.sbin / "rabbitmqctl"),
            "-n",
            self.nodes[i].name,
        ]

    def ctl(self, i: int, *args: str, timeout: float = 60) -> str:
        """Run rabbitmqctl against node i; its stdout, or BrokerError with its stderr."""
        done = subprocess.run(
            [*self.ctl_command(i), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.nodes[i].directory,
        )
        if done.returncode != 0:
            message = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise BrokerError(
                f"rabbitmqctl {' '.join(args)} on {self.nodes[i].name} failed:"
                f" {message[-1] if message else done.returncode}"
            )
        return done.stdout

    def pid(self, i: int) -> int:
        """Node i's beam process, as its own `status` told when it came up."""
        if i not in self._pids:
            raise BrokerError(f"{self.nodes[i].name} is not running: start_node({i}) first")
        return self._pids[i]

    def kill(self, i: int) -> None:
        """kill -9 node i, as a crash would, and wait until it is gone."""
        kill_node_process(self.pid(i), self.nodes[i])
        del self._pids[i]

    def stop(self, i: int) -> None:
        """Stop node i cleanly (`rabbitmqctl stop`) and wait until its process has exited."""
        pid = self.pid(i)
        self.ctl(i, "stop")
        wait_gone(pid, self.nodes[i].name)
        del self._pids[i]

    def start_node(self, i: int) -> None:
        """Start node i again after kill or stop; a cluster member rejoins by itself."""
        if i in self._pids:
            raise BrokerError(f"{self.nodes[i].name} is running already: kill({i}) or stop({i})")
        self._launch(self.nodes[i])
        self._wait_ready(self.nodes[i])

    def restart(self, i: int) -> None:
        self.stop(i)
        self.start_node(i)

    def leader_of(self, queue: str, vhost: str = "/") -> int:
        """The index of the node that leads a quorum queue, asked of any running node."""
        if not self._pids:
            raise BrokerError("no node is running: start one before asking for a leader")
        asked = next(iter(self._pids))
        listed = json.loads(
            self.ctl(asked, "list_queues", "-p", vhost, "name", "leader", "--formatter", "json")
        )
        leaders = [row["leader"] for row in listed if row["name"] == queue]
        if not leaders:
            raise BrokerError(f"no queue {queue} in vhost {vhost}: declare it before asking")
        return next(node.index for node in self.nodes if node.name == leaders[0])

    def stop_all(self) -> None:
        """Kill every node still running and remove the directory: nothing of the run stays.
        Nodes are found by their environment, so one still booting (no pid known) goes too."""
        by_name = {node.name: node for node in self.nodes}

        def ours(env: dict[str, str]) -> bool:
            return env.get("RABBITMQ_NODENAME") in by_name

        for pid, env in node_processes(ours).items():
            kill_node_process(pid, by_name[env["RABBITMQ_NODENAME"]])
        self._pids.clear()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _write_files(self, plugins: Sequence[str]) -> None:
        self.home.mkdir()
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)
        for node in self.nodes:
            node.directory.mkdir()
            (node.directory / "rabbitmq.conf").write_text(
                f"listeners.tcp.1 = 127.0.0.1:{node.amqp_port}\n"
            )
            (node.directory / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
            node.env_file.write_text(
                f"NODE_PORT={node.amqp_port}\n"
                f"DIST_PORT={node.dist_port}\n"
                f"CONFIG_FILE={node.directory / 'rabbitmq.conf'}\n"
                f"ENABLED_PLUGINS_FILE={node.directory / 'enabled_plugins'}\n"
                f"MNESIA_BASE={node.directory / 'mnesia'}\n"
                f"LOG_BASE={node.directory / 'log'}\n"
                # Like the system node: Erlang distribution on loopback only.
                'export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"\n'
            )

    def _launch(self, node: Node) -> None:
        env = {
            **os.environ,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_CONF_ENV_FILE": str(node.env_file),
            OWNER: OWNER_MARK,
        }
        limit = [] if self.open_files is None else ["prlimit", f"--nofile={self.open_files}"]
        # cwd: a node that fails to boot drops erl_crash.dump where it was started.
        done = subprocess.run(
            [*limit, str(self.sbin / "rabbitmq-server"), "-detached"],
            env=env,
            cwd=node.directory,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode != 0:
            raise BrokerError(
                f"rabbitmq-server -detached for {node.name} exited {done.returncode}:"
                f" see {node.directory}/log"
            )

    def _wait_ready(self, node: Node) -> None:
        """Poll `status` until the node listens for AMQP: `await_startup` fails at once while
        a new node is not yet registered in epmd."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            try:
                status = json.loads(
                    self.ctl(node.index, "status", "--formatter", "json", timeout=20)
                )
            except (BrokerError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                last = str(exc)
            else:
                if any(
                    listener["protocol"] == "amqp" and listener["port"] == node.amqp_port
                    for listener in status.get("listeners", [])
                ):
                    self._pids[node.index] = int(status["pid"])
                    return
                last = "no AMQP listener yet"
            time.sleep(0.3)
        raise BrokerError(
            f"{node.name} not up after {BOOT_TIMEOUT:.0f} s ({last}): see {node.directory}/log"
        )


@contextlib.contextmanager
def running(
    count: int, plugins: Sequence[str] = (), open_files: int | None = None
) -> Iterator[PrivateRabbit]:
    """`count` private nodes for as long as the block runs, removed however it ends."""
    rabbit = PrivateRabbit.start(count, plugins, open_files)
    try:
        yield rabbit
    finally:
        rabbit.stop_all()


def free_amqp_ports(count: int) -> list[int]:
    """Ports free now for both a node's AMQP listener and its dist port (AMQP + 20000)."""
    ports: list[int] = []
    for port in random.sample(AMQP_PORTS, len(AMQP_PORTS)):
        if all(bindable(p) for p in (port, port + DIST_OFFSET)):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise BrokerError(f"no {count} free port pairs in {AMQP_PORTS}: close some listeners")


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def owner_mark(pid: int) -> str | None:
    """A process's pid with its start time, so a reused pid is not taken for the owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{pid}:{stat.rsplit(')', 1)[1].split()[19]}"


OWNER_MARK = owner_mark(os.getpid()) or str(os.getpid())


def environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(
        item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item
    )


def node_processes(matches: Callable[[dict[str, str]], bool]) -> dict[int, dict[str, str]]:
    """The beam processes whose environment `matches` accepts, with that environment."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if not (proc / "comm").read_text().startswith("beam"):
                continue
        except OSError:
            continue
        env = environ(int(proc.name))
        if matches(env):
            found[int(proc.name)] = env
    return found


def kill_node_process(pid: int, node: Node) -> None:
    """SIGKILL, but only a process whose environment names this very node and its files."""
    env = environ(pid)
    if not env:
        return  # already gone
    if env.get("RABBITMQ_NODENAME") != node.name or env.get("RABBITMQ_CONF_ENV_FILE") != str(
        node.env_file
    ):
        raise BrokerError(f"pid {pid} is not {node.name}: refusing to kill it")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_gone(pid, node.name)


def wait_gone(pid: int, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while running_process(pid):
        if time.monotonic() > deadline:
            raise BrokerError(f"{name} (pid {pid}) still running after {timeout:.0f} s")
        time.sleep(0.05)


def running_process(pid: int) -> bool:
    """A zombie counts as gone: it holds no port and no file, and this machine's init (a
    process_api) takes up to 2 s to reap one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def remove_leftovers() -> None:
    """Kill the nodes of earlier runs that crashed before their cleanup, and remove their
    directories. Only what carries an owner mark whose process is gone counts as a leftover:
    a run going on beside this one keeps its nodes."""

    def orphaned(env: dict[str, str]) -> bool:
        return (
            env.get("RABBITMQ_NODENAME", "").startswith(NAME_PREFIX)
            and "RABBITMQ_CONF_ENV_FILE" in env
            and gone(env.get(OWNER))
        )

    for pid, env in node_processes(orphaned).items():
        env_file = Path(env["RABBITMQ_CONF_ENV_FILE"])
        kill_node_process(pid, Node(-1, env["RABBITMQ_NODENAME"], 0, env_file.parent))
    for directory in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        owner = directory / "owner"
        if owner.exists() and gone(owner.read_text()):
            shutil.rmtree(directory, ignore_errors=True)


def gone(mark: str | None) -> bool:
    """Whether the process an owner mark names has ended (no mark: not ours, not gone)."""
    if not mark:
        return False
    return owner_mark(int(mark.split(":")[0])) != mark
