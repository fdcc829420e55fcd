"""The connection budget (deploy/k8s/README.md "The connection budget"), measured.

One service's three Deployments of the production overlay (rendered with kustomize, as
tests/deploy does) started as separate OS processes with the same command and the same
settings (the ConfigMap's and each Deployment's own; only the addresses, the secrets and
the identity provider differ: a fresh database on the local PostgreSQL, a private
nats-server, dev tokens), each naming its connections (`GUIDANCE_DB_APPLICATION_NAME`).
`pg_stat_activity` is sampled by application name from before their start until after a
burst of concurrent commands against the web process, and each process's peak must stay
within the ceiling tests/deploy/test_k8s.py computes for its role (`per_process`: one
formula for the README's table, the `max_connections` check and this measurement).

It also reads the relay's and the worker's metrics where Prometheus scrapes them (the
Deployments' `http` port, `/<service>/metrics`): their followers' lease gauges.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from shared.auth import dev_token
from shared.embedded import free_port, start_nats
from shared.settings import PgParams, Settings
from tests.conftest import DEFAULT_DB, fresh_database
from tests.deploy.manifests import find, per_process, render, settings_of

SERVICE = "intake"
ROLES = ("web", "relay", "worker")
# Concurrent journeys (register a client, grant consent, open a case) in the burst, each
# of them ROUNDS times over.
BURST = 20
ROUNDS = 3
SAMPLE_SECONDS = 0.02
ROOT = Path(__file__).resolve().parents[2]


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


class Sampler:
    """Counts the connections of a database in pg_stat_activity, by application name,
    every SAMPLE_SECONDS on a thread of its own; keeps each name's peak per phase."""

    def __init__(self, database_url: str) -> None:
        params = PgParams.from_url(database_url)
        self.dbname = params.dbname
        params.dbname = "postgres"
        params.application_name = "budget-sampler"
        self.dsn = params.dsn()
        self.phase = "start-up"
        self.peaks: dict[str, dict[str, int]] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE datname = %s GROUP BY application_name",
                    (self.dbname,),
                ).fetchall()
                peaks = self.peaks.setdefault(self.phase, {})
                for name, count in rows:
                    peaks[name] = max(peaks.get(name, 0), int(count))
                self.samples += 1
                self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def peak(self, name: str) -> int:
        return max((p.get(name, 0) for p in self.peaks.values()), default=0)


def production() -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all(render("production")) if o]


class Process:
    """One Deployment's container, as a process on this machine."""

    def __init__(
        self,
        docs: list[dict[str, Any]],
        role: str,
        common: dict[str, str],
        workdir: Path,
    ) -> None:
        deployment = find(docs, "Deployment", f"{SERVICE}-{role}")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        configmap = find(docs, "ConfigMap", "waypoint-settings")
        own = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        self.role = role
        self.ceiling = per_process(settings_of(configmap, own), role, False)
        self.name = f"budget-{role}-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        # The manifest's command, on this machine's interpreter.
        command = list(container["command"])
        assert command[0] == "python", command
        self.command = [sys.executable, *command[1:]]
        # The identity provider is replaced by dev tokens: its settings go.
        manifest = {
            k: v
            for k, v in {**configmap["data"], **own}.items()
            if not k.startswith(("GUIDANCE_OIDC_", "GUIDANCE_CONSOLE_"))
        }
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GUIDANCE_")},
            **manifest,
            **common,
            "GUIDANCE_PORT": str(self.port),
            "GUIDANCE_DB_APPLICATION_NAME": self.name,
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("PGAPPNAME", None)
        self.log = workdir / f"{role}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{SERVICE}"

    def start(self) -> None:
        log = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.role} exited: {self.log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[dict[str, Process], Sampler, Settings]]:
    docs = production()
    base = os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="budget-")))
        url = stack.enter_context(fresh_database(base, prefix="waypoint_budget"))
        nats = start_nats(workdir / "nats")
        stack.callback(nats.stop)
        settings = Settings(
            database_url=url,
            nats_url=nats.url,
            auth_mode="dev",
            jwt_secret=secrets.token_urlsafe(32),
            master_key=_key(),
            audit_signing_key=_key(),
        )
        assert settings.master_key and settings.audit_signing_key and settings.jwt_secret
        common = {
            "GUIDANCE_DATABASE_URL": url,
            "GUIDANCE_NATS_URL": nats.url,
            # One nats-server here: streams of one replica.
            "GUIDANCE_STREAM_REPLICAS": "1",
            "GUIDANCE_AUTH_MODE": "dev",
            "GUIDANCE_JWT_SECRET": settings.jwt_secret,
            "GUIDANCE_MASTER_KEY": settings.master_key,
            "GUIDANCE_AUDIT_SIGNING_KEY": settings.audit_signing_key,
            "GUIDANCE_HOST": "127.0.0.1",
        }
        processes = {role: Process(docs, role, common, workdir) for role in ROLES}
        sampler = stack.enter_context(Sampler(url))
        for process in processes.values():
            stack.callback(process.stop)
        # The relay first, so that it (not the worker's stand-in) holds the relay's lease;
        # the web process before the worker for the projection's.
        for role in ("relay", "web", "worker"):
            processes[role].start()
        deadline = time.monotonic() + 60
        for process in processes.values():
            while not process.ready():
                assert time.monotonic() < deadline, f"{process.role} not ready; {process.log}"
                time.sleep(0.2)
        yield processes, sampler, settings


async def journey(http: httpx.AsyncClient, base: str, headers: dict[str, str], n: int) -> None:
    r = await http.post(
        f"{base}/v1/clients",
        json={
            "given_name": "Budget",
            "family_name": f"Tester{n}",
            "birth_date": "1988-04-12",
            "email": f"budget{n}@example.org",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    client = r.json()["client_id"]
    r = await http.post(
        f"{base}/v1/clients/{client}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=headers,
    )
    assert r.status_code in (200, 201), r.text
    r = await http.post(
        f"{base}/v1/cases",
        json={"client_id": client, "career_question": "From logistics to teaching?"},
        headers=headers,
    )
    assert r.status_code == 201, r.text


async def burst(base: str, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(n: int) -> None:
            for r in range(ROUNDS):
                await journey(http, base, headers, r * BURST + n)

        await asyncio.gather(*(one(n) for n in range(BURST)))


def test_each_process_stays_within_its_budget(
    deployed: tuple[dict[str, Process], Sampler, Settings],
) -> None:
    processes, sampler, settings = deployed
    token = dev_token(
        settings, sub="counsellor-1", org=f"org-budget-{uuid.uuid4().hex[:8]}", roles=["counsellor"]
    )
    headers = {"Authorization": f"Bearer {token}"}
    sampler.phase = "idle"
    time.sleep(1.0)
    sampler.phase = "burst"
    started = time.monotonic()
    asyncio.run(burst(processes["web"].url, headers))
    took = time.monotonic() - started
    sampler.phase = "after"
    # The worker's audit trail and the relay catch up with the burst's events.
    time.sleep(3.0)
    rows = []
    for role, process in processes.items():
        phases = {p: sampler.peaks.get(p, {}).get(process.name, 0) for p in sampler.peaks}
        rows.append((role, phases, sampler.peak(process.name), process.ceiling))
    print(
        f"\n{BURST} x {ROUNDS} concurrent journeys in {took:.1f} s; "
        f"{sampler.samples} samples of pg_stat_activity"
    )
    print(f"{'role':8} {'start-up':>9} {'idle':>5} {'burst':>6} {'after':>6} {'peak':>5} ceiling")
    for role, phases, peak, ceiling in rows:
        print(
            f"{role:8} {phases.get('start-up', 0):>9} {phases.get('idle', 0):>5} "
            f"{phases.get('burst', 0):>6} {phases.get('after', 0):>6} {peak:>5} {ceiling:>7}"
        )
    for role, _, peak, ceiling in rows:
        # Each process was seen holding connections, and never more than its budget.
        assert 0 < peak <= ceiling, (role, peak, ceiling)
    # The burst made the web process's pools grow beyond what it holds idle.
    web = processes["web"].name
    assert sampler.peaks["burst"][web] > sampler.peaks["idle"][web], sampler.peaks


def test_relay_and_worker_serve_their_metrics_where_they_are_scraped(
    deployed: tuple[dict[str, Process], Sampler, Settings],
) -> None:
    """The PodMonitor scrapes `/<service>/metrics` on the `http` port of every process of
    the service: a relay's and a worker's answer there with their followers' leases."""
    processes, _, _ = deployed
    wanted = {"relay": "relay", "worker": "audit"}
    for role, follower in wanted.items():
        answer = httpx.get(f"{processes[role].url}/metrics", timeout=5)
        assert answer.status_code == 200
        line = f'waypoint_follower_active{{follower="{follower}",service="{SERVICE}"}} 1.0'
        lines = answer.text.splitlines()
        assert (
            line in lines
            or line.replace(
                f'follower="{follower}",service="{SERVICE}"',
                f'service="{SERVICE}",follower="{follower}"',
            )
            in lines
        ), [x for x in lines if x.startswith("waypoint_follower_active")]
