"""A real Waypoint system as separate OS processes, each of which a fault can kill.

A fresh database on the local PostgreSQL, a private nats-server (its own data dir and
port, so that it can be killed and restarted on the same address), and the three roles
of the split layout started one by one: a `web` process serving the four services on
one port, a `relay` process and a `worker` process (`shared.cli worker --role ...`).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.auth import dev_token
from shared.embedded import EmbeddedPostgres, NatsServer, free_port, start_nats, start_postgres
from shared.serve import SERVICES
from shared.settings import Settings
from tests.conftest import DEFAULT_DB, fresh_database

ROLES = ("web", "relay", "worker")
# The consumers' ack_wait in the system under test: short, so that the paused-worker
# scenario sees redeliveries within seconds rather than 30.
ACK_WAIT_SECONDS = 5.0
ROOT = Path(__file__).resolve().parents[2]


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class System:
    """The running processes of one system, and what is needed to reach them."""

    database_url: str
    workdir: Path
    port: int = field(default_factory=free_port)
    nats_port: int = field(default_factory=free_port)
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    master_key: str = field(default_factory=_key)
    audit_key: str = field(default_factory=_key)
    nats: NatsServer | None = None
    # An embedded PostgreSQL of the system's own (so that it can be restarted), or None:
    # a fresh database on the server at GUIDANCE_DATABASE_URL.
    postgres: EmbeddedPostgres | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    @property
    def dbname(self) -> str:
        return self.settings().pg.dbname

    def env(self, role: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUIDANCE_")}
        env.update(
            {
                "GUIDANCE_DATABASE_URL": self.database_url,
                "GUIDANCE_NATS_URL": self.nats_url,
                "GUIDANCE_AUTH_MODE": "dev",
                "GUIDANCE_JWT_SECRET": self.jwt_secret,
                "GUIDANCE_MASTER_KEY": self.master_key,
                "GUIDANCE_AUDIT_SIGNING_KEY": self.audit_key,
                "GUIDANCE_ROLE": role,
                "GUIDANCE_HOST": "127.0.0.1",
                "GUIDANCE_PORT": str(self.port),
                # Three processes of four services each: small pools keep the whole
                # system far below max_connections (100 on CI machines).
                "GUIDANCE_DB_POOL_SIZE": "1",
                "GUIDANCE_DB_MAX_OVERFLOW": "2",
                "GUIDANCE_READ_POOL_SIZE": "2",
                "GUIDANCE_RELAY_POLL_SECONDS": "0.2",
                "GUIDANCE_CONSUMER_ACK_WAIT_SECONDS": str(ACK_WAIT_SECONDS),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url,
            nats_url=self.nats_url,
            auth_mode="dev",
            jwt_secret=self.jwt_secret,
            master_key=self.master_key,
            audit_signing_key=self.audit_key,
        )

    def token(self, *roles: str, org: str, sub: str = "fault-tester", **claims: Any) -> str:
        return dev_token(self.settings(), sub=sub, org=org, roles=roles, **claims)

    # -- NATS ------------------------------------------------------------------------------
    def start_nats(self) -> None:
        self.nats = start_nats(self.workdir / "nats", port=self.nats_port)

    def kill_nats(self) -> None:
        assert self.nats is not None
        self.nats.process.kill()
        self.nats.process.wait()

    # -- PostgreSQL (embedded) -------------------------------------------------------------
    def restart_postgres(self, down_seconds: float = 2.0) -> None:
        """A fast shutdown of the system's embedded PostgreSQL (every connection dropped,
        new ones refused), and a start again on the same data folder and socket."""
        assert self.postgres is not None, "the system runs on a shared PostgreSQL"
        server = self.postgres.server
        self.postgres.stop()
        # pgserver keeps one handle per data folder: forget it, so the next one starts.
        type(server)._instances.pop(server.pgdata, None)
        with contextlib.suppress(OSError):
            (server.pgdata / ".handle_pids.json").unlink()
        time.sleep(down_seconds)
        self.postgres = start_postgres(Path(server.pgdata))

    # -- the roles -------------------------------------------------------------------------
    def command(self, role: str) -> list[str]:
        if role == "web":
            return [
                sys.executable,
                "-m",
                "uvicorn",
                "shared.serve:combined_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
            ]
        return [sys.executable, "-m", "shared.cli", "worker", "--role", role]

    def start(self, role: str) -> None:
        log = open(self.workdir / f"{role}.log", "ab")  # noqa: SIM115 - owned by the process
        self.processes[role] = subprocess.Popen(
            self.command(role),
            cwd=ROOT,
            env=self.env(role),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def signal(self, role: str, sig: signal.Signals) -> None:
        self.processes[role].send_signal(sig)

    def kill(self, role: str) -> None:
        process = self.processes[role]
        process.kill()
        process.wait()

    def restart(self, role: str) -> None:
        self.kill(role)
        self.start(role)

    def wait_ready(self, seconds: float = 90.0) -> None:
        """Until the web process answers every service's readiness probe."""
        deadline = time.monotonic() + seconds
        while True:
            web = self.processes["web"]
            if web.poll() is not None:
                raise RuntimeError(f"the web process exited; see {self.workdir / 'web.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if all(
                    httpx.get(f"{self.base_url}/{s}/readyz", timeout=2).status_code == 200
                    for s in SERVICES
                ):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready in {seconds} s; see {self.workdir}")
            time.sleep(0.2)

    def stop(self) -> None:
        for role in reversed(ROLES):
            process = self.processes.get(role)
            if process is None or process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)
                process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.nats is not None:
            self.nats.stop()


@contextmanager
def running_system(
    workdir: Path | None = None, *, embedded_postgres: bool = False
) -> Iterator[System]:
    """A whole system on a fresh database and a private NATS, stopped afterwards; with
    `embedded_postgres`, on an embedded PostgreSQL of its own that a fault can restart."""
    base = os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="faults-")))
        holder: list[System] = []
        postgres = None
        if embedded_postgres:
            postgres = start_postgres(workdir / "pg")
            base = postgres.url
            # Stopped last (after the database is dropped): the one running by then.
            stack.callback(lambda: (holder[0].postgres if holder else postgres).stop())
        url = stack.enter_context(fresh_database(base, prefix="waypoint_faults"))
        system = System(database_url=url, workdir=workdir, postgres=postgres)
        holder.append(system)
        stack.callback(system.stop)
        system.start_nats()
        for role in ROLES:
            system.start(role)
        system.wait_ready()
        yield system
