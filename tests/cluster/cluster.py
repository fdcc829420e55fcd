"""A Waypoint cluster on loopback, each part an OS process a fault can kill: a 3-node NATS
cluster (JetStream, `sync_interval: always`, routes between the nodes, a store each) with
the streams at 3 replicas, a fresh database on the local PostgreSQL, and two replicas of
every role of the split layout (web on two ports, relay, worker).

Built on the fault suite's `System` (tests/faults/system.py): the same settings, tokens
and processes, with instances named `web-1`, `web-2`, `relay-1`, ... instead of one per
role, and the NATS cluster's three servers in GUIDANCE_NATS_URL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.embedded import free_port, nats_answers, nats_binary, start_postgres
from shared.serve import SERVICES
from tests.conftest import DEFAULT_DB, fresh_database
from tests.faults.system import ROLES, System

NATS_NODES = ("n1", "n2", "n3")
REPLICAS = 2
# Connections: 6 processes x 4 services share max_connections (100 here, with other
# tests running): one event-store connection each (growing by one under load), one for
# the read models; the followers and the key vault hold their own (see `connections`).
POOLS = {
    "GUIDANCE_DB_POOL_SIZE": "1",
    "GUIDANCE_DB_MAX_OVERFLOW": "1",
    "GUIDANCE_READ_POOL_SIZE": "1",
}


def role_of(name: str) -> str:
    """`web` of `web-2`."""
    return name.rsplit("-", 1)[0]


@dataclass
class NatsNode:
    name: str
    port: int
    route_port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


@dataclass
class NatsCluster:
    """Three nats-servers routed to each other, each with JetStream on its own store."""

    workdir: Path
    nodes: dict[str, NatsNode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in NATS_NODES:
            self.nodes[name] = NatsNode(name, free_port(), free_port(), self.workdir / name)

    @property
    def url(self) -> str:
        """Every server, as GUIDANCE_NATS_URL takes a cluster."""
        return ",".join(node.url for node in self.nodes.values())

    def config(self, node: NatsNode) -> str:
        store = node.data_dir / "jetstream"
        routes = ", ".join(
            f'"nats-route://127.0.0.1:{other.route_port}"'
            for other in self.nodes.values()
            if other is not node
        )
        return (
            f"server_name: {node.name}\n"
            f'listen: "127.0.0.1:{node.port}"\n'
            f"jetstream {{\n  store_dir: {str(store)!r}\n  sync_interval: always\n}}\n"
            f"cluster {{\n  name: waypoint\n"
            f'  listen: "127.0.0.1:{node.route_port}"\n'
            f"  routes: [{routes}]\n}}\n"
        )

    def start(self, name: str) -> None:
        node = self.nodes[name]
        (node.data_dir / "jetstream").mkdir(parents=True, exist_ok=True)
        config = node.data_dir / "nats.conf"
        config.write_text(self.config(node))
        log = open(node.data_dir / "nats.log", "ab")  # noqa: SIM115 - owned by the process
        node.process = subprocess.Popen(
            [nats_binary(), "-c", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_all(self, seconds: float = 30.0) -> None:
        for name in self.nodes:
            self.start(name)
        self.wait(seconds)

    def wait(self, seconds: float = 30.0, names: tuple[str, ...] | None = None) -> None:
        """Until each node (of `names`) answers with JetStream (the cluster's meta leader
        elected)."""
        deadline = time.monotonic() + seconds
        for name in names or tuple(self.nodes):
            node = self.nodes[name]
            while not nats_answers(node.url, timeout=0.5):
                if node.process is None or node.process.poll() is not None:
                    raise RuntimeError(f"nats-server {name} exited; see {node.data_dir}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"NATS cluster not ready in {seconds} s; see {self.workdir}")
                time.sleep(0.2)

    def kill(self, name: str) -> None:
        """kill -9 of one node."""
        process = self.nodes[name].process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for node in self.nodes.values():
            process = node.process
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Cluster(System):
    """`System` with `REPLICAS` instances of each role and a NATS cluster."""

    replicas: int = REPLICAS
    cluster: NatsCluster | None = None
    web_ports: dict[str, int] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    # How often each instance was started (a restart is a new incarnation: `worker-1'`).
    starts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.instances("web"):
            self.web_ports[name] = free_port()
        for role in ("relay", "worker"):
            for name in self.instances(role):
                self.metrics_ports[name] = free_port()
        self.port = self.web_ports["web-1"]

    def instances(self, role: str | None = None) -> list[str]:
        roles = ROLES if role is None else (role,)
        return [f"{r}-{n}" for r in roles for n in range(1, self.replicas + 1)]

    def incarnation(self, name: str) -> str:
        """`worker-1` for the first start, `worker-1'` for the second, ..."""
        return name + "'" * (self.starts.get(name, 1) - 1)

    @property
    def nats_url(self) -> str:
        assert self.cluster is not None
        return self.cluster.url

    def web_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.web_ports[name]}"

    def env(self, role: str) -> dict[str, str]:
        name = role
        env = super().env(role_of(name))
        env.update(POOLS)
        env["GUIDANCE_STREAM_REPLICAS"] = "3"
        # Its connections carry its name (and incarnation) in pg_stat_activity.
        env["GUIDANCE_DB_APPLICATION_NAME"] = self.incarnation(name)
        env.pop("PGAPPNAME", None)
        if name in self.web_ports:
            env["GUIDANCE_PORT"] = str(self.web_ports[name])
        if name in self.metrics_ports:
            env["GUIDANCE_METRICS_PORT"] = str(self.metrics_ports[name])
        return env

    def command(self, role: str) -> list[str]:
        name = role
        base = super().command(role_of(name))
        if name in self.web_ports:
            base[base.index("--port") + 1] = str(self.web_ports[name])
        return base

    def start(self, role: str) -> None:
        self.starts[role] = self.starts.get(role, 0) + 1
        super().start(role)

    # -- NATS ------------------------------------------------------------------------------
    def start_nats(self) -> None:
        self.cluster = NatsCluster(self.workdir / "nats")
        self.cluster.start_all()

    def kill_nats(self) -> None:
        """kill -9 of every node (the whole cluster down)."""
        assert self.cluster is not None
        for name in self.cluster.nodes:
            self.cluster.kill(name)

    def wait_ready(self, seconds: float = 120.0) -> None:
        """Until every web instance answers every service's readiness probe."""
        deadline = time.monotonic() + seconds
        for name in self.instances("web"):
            while True:
                if self.processes[name].poll() is not None:
                    raise RuntimeError(f"{name} exited; see {self.workdir / (name + '.log')}")
                with contextlib.suppress(httpx.HTTPError):
                    if all(
                        httpx.get(f"{self.web_url(name)}/{s}/readyz", timeout=2).status_code == 200
                        for s in SERVICES
                    ):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready in {seconds} s; see {self.workdir}")
                time.sleep(0.3)

    def stop(self) -> None:
        for name in reversed(self.instances()):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for name in reversed(self.instances()):
            process = self.processes.get(name)
            if process is None:
                continue
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.cluster is not None:
            self.cluster.stop()


@contextmanager
def running_cluster(
    workdir: Path | None = None, *, shared_postgres: bool = False
) -> Iterator[Cluster]:
    """The whole cluster on a fresh database, stopped (every process) afterwards.

    On an embedded PostgreSQL of its own (max_connections 400) unless `shared_postgres`:
    six processes of four services each hold more connections (see `connections` in
    tests/cluster/observe.py) than the local server's 100 leave free while other tests run.
    """
    base = os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cluster-")))
        postgres = None
        if not shared_postgres:
            postgres = start_postgres(workdir / "pg")
            base = postgres.url
            stack.callback(postgres.stop)
        url = stack.enter_context(fresh_database(base, prefix="waypoint_cluster"))
        system = Cluster(database_url=url, workdir=workdir, postgres=postgres)
        stack.callback(system.stop)
        system.start_nats()
        # The relays first, so that a relay process (not a worker's stand-in) holds the
        # leases; then the rest.
        for name in (*system.instances("relay"), *system.instances("web")):
            system.start(name)
        system.wait_ready()
        for name in system.instances("worker"):
            system.start(name)
        yield system
