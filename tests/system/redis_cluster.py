"""A real Redis Cluster on loopback: three masters and three replicas, private to one run.

Every node is a ``redis-server --cluster-enabled yes`` on spare ports (its client port and,
with ``--cluster-port``, its bus port), with its files in a temporary directory; the
cluster is formed with ``redis-cli --cluster create``. A short node timeout makes a
replica take over a killed master within a few seconds. Every process is ended by its pid.
Used by tests/system/test_redis_cluster.py and bench/scale_out.py.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NODE_TIMEOUT_MS = 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(port: int, *args: str, timeout: float = 5.0) -> str:
    cli = shutil.which("redis-cli") or "redis-cli"
    done = subprocess.run(
        [cli, "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout


@dataclass
class Node:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class RedisClusterServers:
    workdir: Path
    masters: int = 3
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``redis+cluster://`` naming every node (any one of them is enough to start)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout: float = 60.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None or shutil.which("redis-cli") is None:
            raise FileNotFoundError("redis-server and redis-cli are needed for a Redis Cluster")
        deadline = time.monotonic() + timeout
        for _ in range(self.masters * 2):
            self.nodes.append(self._launch(binary, deadline))
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        cli = shutil.which("redis-cli") or "redis-cli"
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True,
            timeout=timeout,
            check=True,
        )
        self.wait_healthy(deadline - time.monotonic())
        for node in self.nodes:  # a replica that never synced could not take over
            while "role:slave" in (info := _cli(node.port, "INFO", "replication")):
                if "master_link_status:up" in info:
                    break
                self._wait(deadline, f"replica {node.port} did not sync")

    def _launch(self, binary: str, deadline: float, attempts: int = 3) -> Node:
        """One node answering PING. A spare port can be taken by another process between
        our probe and redis-server's bind (tests run beside others): then try new ports."""
        for _ in range(attempts):
            port = _free_port()
            workdir = self.workdir / f"node-{port}"
            workdir.mkdir(parents=True)
            args = [binary, "--port", str(port), "--bind", "127.0.0.1"]
            args += ["--cluster-enabled", "yes", "--cluster-port", str(_free_port())]
            args += ["--cluster-config-file", str(workdir / "nodes.conf")]
            args += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
            args += ["--cluster-replica-validity-factor", "0"]  # any replica may take over
            args += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
            node = Node(
                port, subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            while "PONG" not in _cli(port, "PING"):
                if not node.alive:
                    break
                self._wait(deadline, "the cluster's nodes did not start")
            else:
                return node
        raise RuntimeError(f"redis-server exited at start on {attempts} pairs of spare ports")

    def master_ports(self) -> list[int]:
        """The ports of the live masters, as a live node sees them."""
        return self._masters_seen_by(next(n for n in self.nodes if n.alive).port)

    def owner_of(self, slot: int) -> int:
        """The port of the master serving ``slot``, as a live node sees it."""
        node = next(n for n in self.nodes if n.alive)
        for line in _cli(node.port, "CLUSTER", "NODES").splitlines():
            parts = line.split()
            for served in parts[8:]:
                first, _, last = served.partition("-")
                if first.isdigit() and int(first) <= slot <= int(last or first):
                    return int(parts[1].split("@")[0].rsplit(":", 1)[1])
        raise LookupError(f"no master serves slot {slot}")

    @staticmethod
    def _masters_seen_by(port: int) -> list[int]:
        ports = []
        for line in _cli(port, "CLUSTER", "NODES").splitlines():
            parts = line.split()
            if len(parts) > 2 and "master" in parts[2] and "fail" not in parts[2]:
                ports.append(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
        return sorted(ports)

    def kill(self, port: int) -> None:
        """SIGKILL one node (no goodbye to the others)."""
        node = next(n for n in self.nodes if n.port == port)
        assert node.proc is not None
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(10)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Until every live node says the cluster is ok with ``masters`` live masters, each
        of them one of the live nodes: after a master was killed, until the others took
        it for failed and its replica was promoted."""
        deadline = time.monotonic() + timeout
        while True:
            live = [n for n in self.nodes if n.alive]
            states = {_cli(n.port, "CLUSTER", "INFO").split()[0] for n in live}
            masters = [self._masters_seen_by(n.port) for n in live]
            ports = {n.port for n in live}
            if states == {"cluster_state:ok"} and all(
                len(m) == self.masters and set(m) <= ports for m in masters
            ):
                return
            self._wait(deadline, f"the cluster did not become healthy ({states})")

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                if node.proc.poll() is None:
                    node.proc.kill()
                node.proc.wait(10)
                node.proc = None

    @staticmethod
    def _wait(deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise RuntimeError(what)
        time.sleep(0.05)
