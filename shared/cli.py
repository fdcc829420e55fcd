"""`waypoint`: the command line of the whole system (run it, mint dev tokens, audit)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.intake.privacy_cli import privacy as privacy_app
from shared.audit.cli import audit as audit_app

app = typer.Typer(help="Waypoint: event-sourced case management for career guidance.")
app.add_typer(audit_app, name="audit")
app.add_typer(privacy_app, name="privacy")
console = Console(soft_wrap=True)  # URLs and tokens stay whole for copy-paste

DEV_ORG = "org-demo"
DEV_PARTNER = uuid.UUID("00000000-0000-4000-8000-00000000beef")


def dev_tokens() -> dict[str, str]:
    from shared.auth import dev_token
    from shared.settings import get_settings

    settings = get_settings()
    people = {
        "counsellor": ("c.jansen", ["counsellor"], None),
        "team_lead": ("t.peeters", ["team_lead"], None),
        "admin": ("a.admin", ["admin"], None),
        "auditor": ("r.auditor", ["auditor"], None),
        "directory_admin": ("d.directory", ["directory_admin"], None),
        "partner": ("p.partner", ["partner"], DEV_PARTNER),
    }
    return {
        role: dev_token(settings, sub=sub, org=DEV_ORG, roles=roles, partner_id=partner)
        for role, (sub, roles, partner) in people.items()
    }


@app.command()
def run(
    host: Annotated[str, typer.Option(envvar="GUIDANCE_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="GUIDANCE_PORT")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where embedded servers keep data.")] = Path(
        ".data"
    ),
    workers: Annotated[
        int, typer.Option(envvar="GUIDANCE_WORKERS", help="Server processes (1 = one process).")
    ] = 1,
    split: Annotated[
        bool,
        typer.Option(
            envvar="GUIDANCE_SPLIT",
            help="Run the relays in a process of their own, and the consumers, audit trails "
            "and jobs in another (at a lower CPU priority than HTTP and the relays).",
        ),
    ] = False,
) -> None:
    """Run all four services under one address, with NATS and PostgreSQL as needed."""

    from shared.embedded import (
        EmbeddedPostgres,
        NatsServer,
        nats_answers,
        postgres_answers,
        start_nats,
        start_postgres,
    )
    from shared.serve import serve_combined
    from shared.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    os.environ.setdefault("GUIDANCE_AUTH_MODE", "dev")
    started: list[NatsServer | EmbeddedPostgres | _Process] = []
    settings = get_settings()
    try:
        if nats_answers(settings.nats_url):
            console.print(f"NATS: using [bold]{settings.nats_url}[/]")
        else:
            nats_server = start_nats(data_dir.resolve() / "nats", port=_free_or(4222))
            started.append(nats_server)
            os.environ["GUIDANCE_NATS_URL"] = nats_server.url
            console.print(f"NATS: started embedded nats-server at [bold]{nats_server.url}[/]")
        if postgres_answers(settings.database_url):
            console.print(f"PostgreSQL: using [bold]{settings.database_url}[/]")
        else:
            pg = start_postgres(data_dir.resolve() / "pg")
            started.append(pg)
            os.environ["GUIDANCE_DATABASE_URL"] = pg.url
            console.print(f"PostgreSQL: started embedded server at [bold]{pg.url}[/]")
        os.environ["GUIDANCE_HOST"], os.environ["GUIDANCE_PORT"] = host, str(port)
        settings = get_settings()
        base = f"http://{host}:{port}"
        console.print(f"\nWaypoint at [bold]{base}[/]: /intake /planning /followup /referral")
        console.print(f"OpenAPI: {base}/intake/docs (and /planning/docs, …)\n")
        if settings.auth_mode == "dev":
            console.print("Dev tokens (organisation [bold]" + DEV_ORG + "[/]):")
            for role, token in dev_tokens().items():
                console.print(f"  [bold]{role}[/]: {token}")
            example = f'curl -H "Authorization: Bearer $TOKEN" {base}/intake/v1/cases'
            console.print(f"\n  export TOKEN=…; {example}\n")
        if split:
            for role, extra in (("relay", []), ("worker", ["--nice", str(SPLIT_WORKER_NICE)])):
                background = subprocess.Popen(
                    [sys.executable, "-m", "shared.cli", "worker", "--role", role, *extra],
                    env={**os.environ, "GUIDANCE_ROLE": role},
                )
                started.append(_Process(background))
            os.environ["GUIDANCE_ROLE"] = "web"
            settings = get_settings()
        # uvicorn re-raises the signal that stopped it once it has shut down; make
        # SIGTERM an exception (as Ctrl-C is) so the servers we started stop too.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        serve_combined(settings, workers)
    finally:
        for server in reversed(started):
            server.stop()


# `run --split`: the worker's niceness. Its consumers, audit trails and jobs are not
# waited for by anyone; on a small machine they yield the CPU to requests and relays,
# and catch up when the load eases.
SPLIT_WORKER_NICE = 10


@app.command()
def worker(
    role: Annotated[
        str,
        typer.Option(
            help="worker: consumers, audit trails, jobs (and stand-ins for the relays and "
            "projections); relay: only the relays."
        ),
    ] = "worker",
    nice: Annotated[int, typer.Option(help="Lower this process's CPU priority by this.")] = 0,
) -> None:
    """Run the background work of all four services, without HTTP."""
    import asyncio

    import uvloop

    from shared.serve import Combined, tune_process
    from shared.settings import get_settings

    if role not in ("worker", "relay"):
        raise typer.BadParameter("worker or relay", param_hint="--role")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if nice:
        os.nice(nice)
    os.environ["GUIDANCE_ROLE"] = role
    settings = get_settings()
    tune_process(settings)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with Combined(settings).lifespan():
            console.print(f"{role}: running")
            await stop.wait()

    uvloop.run(work())


class _Process:
    """A child process `waypoint run` started, stopped like the embedded servers."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@app.command()
def token(
    role: Annotated[list[str], typer.Option(help="Role(s) for the token.")],
    org: Annotated[str, typer.Option()] = DEV_ORG,
    sub: Annotated[str, typer.Option()] = "dev-user",
    partner_id: Annotated[str | None, typer.Option()] = None,
    audit_scope: Annotated[
        list[str] | None,
        typer.Option(help="Organisation(s) an auditor may read (repeat), or '*' for every one."),
    ] = None,
) -> None:
    """Print a dev-mode token (HS256 with GUIDANCE_JWT_SECRET)."""
    from shared.auth import dev_token
    from shared.settings import get_settings

    print(
        dev_token(
            get_settings(),
            sub=sub,
            org=org,
            roles=role,
            partner_id=uuid.UUID(partner_id) if partner_id else None,
            audit_scope="*" if audit_scope == ["*"] else audit_scope,
        )
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _free_or(port: int) -> int:
    import socket

    from shared.embedded import free_port

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


if __name__ == "__main__":
    app()
