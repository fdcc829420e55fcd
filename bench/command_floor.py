"""The floor under the intake benchmark: what the parts the architecture prescribes cost
by themselves, with nothing of Waypoint around them.

One FastAPI endpoint (uvicorn with uvloop and httptools, as `waypoint run` serves) takes
a bearer JWT checked by the same dependency as the services, a pydantic body, and saves
one new one-event aggregate through a plain eventsourcing Application in the threadpool:
no loading, sealing, read model, relay, NATS or consumer. C concurrent clients post to it
for a while; the bare save rate is measured on the same database, as in
`bench.intake_journey`. If even this stays below 0.7 x the bare rate, no command of the
real system (which loads an aggregate, seals, projects and publishes too) can reach it on
this machine.

    .venv/bin/python -m bench.command_floor [--clients 16] [--seconds 10]
                                            [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from typing import Annotated, Any

import httpx
import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from bench.intake_journey import RawHttp, bare_save_rate, cpu_used, machine_cpu, uvloop_factory
from shared.auth import Principal, TokenVerifier, require
from shared.cli import dev_tokens
from shared.errors import install_error_handlers
from shared.eventstore import store_env
from shared.settings import Settings, get_settings

SCHEMA = "bench_floor"


class Thing(Aggregate):
    def __init__(self, n: int) -> None:
        self.n = n


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


class Created(BaseModel):
    thing_id: uuid.UUID
    version: int


def create_app() -> FastAPI:
    """The endpoint (built in the server process, from GUIDANCE_* and BENCH_SCHEMA)."""
    settings = get_settings()
    store: Application[Any] = Application(env=store_env(settings, os.environ["BENCH_SCHEMA"]))
    app = FastAPI()
    app.state.verifier = TokenVerifier(settings)
    install_error_handlers(app)

    @app.post("/things", status_code=201)
    async def create(
        body: ThingIn, who: Annotated[Principal, Depends(require("counsellor"))]
    ) -> Created:
        def save() -> Created:
            thing = Thing(body.n)
            store.save(thing)
            return Created(thing_id=thing.id, version=thing.version)

        return await run_in_threadpool(save)

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(url: str, token: str, clients: int, seconds: float) -> tuple[int, list[float]]:
    posters = [RawHttp(url, token) for _ in range(clients)]
    latencies: list[float] = []
    ok = 0
    failures: dict[int, bytes] = {}
    deadline = time.perf_counter() + seconds

    async def client(http: RawHttp) -> None:
        nonlocal ok
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            status, body = await http.post("/things", {"n": 1})
            latencies.append((time.perf_counter() - start) * 1000)
            if status == 201:
                ok += 1
            else:
                failures.setdefault(status, body[:200])

    try:
        await asyncio.gather(*(client(p) for p in posters))
    finally:
        for p in posters:
            await p.aclose()
    if failures:
        raise SystemExit(f"the endpoint failed: {failures}")
    return ok, latencies


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--bare-seconds", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=1, help="uvicorn server processes")
    p.add_argument("--database-url", default=os.environ.get("GUIDANCE_DATABASE_URL"))
    args = p.parse_args()
    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{SCHEMA}"')

    bare, _, bare_cpu = bare_save_rate(settings, args.clients, args.bare_seconds)
    port = free_port()
    env = {
        **os.environ,
        "GUIDANCE_DATABASE_URL": settings.database_url,
        "GUIDANCE_AUTH_MODE": "dev",
        # The server verifies the tokens this process mints (dev mode has no fixed secret).
        "GUIDANCE_JWT_SECRET": settings.jwt_secret or "",
        "BENCH_SCHEMA": SCHEMA,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.command_floor:create_app", "--factory",
         "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
         "--log-level", "warning", "--workers", str(args.workers), "--no-server-header"],
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/docs", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = dev_tokens()["counsellor"]
        with asyncio.Runner(loop_factory=uvloop_factory()) as runner:
            runner.run(drive(url, token, args.clients, 2.0))  # warm-up
            cpu0 = machine_cpu()
            start = time.perf_counter()
            ok, lat = runner.run(drive(url, token, args.clients, args.seconds))
            elapsed, cpu1 = time.perf_counter() - start, machine_cpu()
    finally:
        server.terminate()
        server.wait(10)
        with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')

    rate = ok / elapsed
    lat.sort()
    print(f"Command floor benchmark, host {platform.node()}, {os.cpu_count()} CPUs")
    per_save = f", {bare_cpu * 1000:.2f} ms of machine CPU per save" if bare_cpu else ""
    print(f"bare eventsourcing saves ({args.clients} threads): {bare:.0f} saves/s{per_save}")
    print(f"FastAPI + JWT + pydantic + one save, {args.workers} server process(es), "
          f"{args.clients} clients: {rate:.0f} commands/s "
          f"({rate / bare:.2f} x bare), p50 {lat[len(lat) // 2]:.1f} ms, "
          f"p99 {lat[int(len(lat) * 0.99)]:.1f} ms")  # fmt: skip
    print(f"machine CPU meanwhile: {cpu_used(cpu0, cpu1)}", end="")
    if cpu0 and cpu1 and ok:
        print(f", {(cpu1[0] - cpu0[0]) / ok * 1000:.2f} ms per command")
    else:
        print()


if __name__ == "__main__":
    main()
