"""`waypoint`: the platform's command line (run the system, mint dev tokens, audit, events);
the entry point, `services/cli.py`, adds the services' own command groups (privacy, esco)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from shared import runinfo
from shared.audit.cli import audit as audit_app

app = typer.Typer(help="Waypoint: event-sourced case management for career guidance.")
app.add_typer(audit_app, name="audit")
events_app = typer.Typer(help="The CloudEvents on NATS, as they arrive.")
app.add_typer(events_app, name="events")
keys_app = typer.Typer(help="The master key that wraps the clients' data keys: its rotation.")
app.add_typer(keys_app, name="keys")
streams_app = typer.Typer(help="The services' NATS streams: rebuilt from the event stores.")
app.add_typer(streams_app, name="streams")
console = Console(soft_wrap=True)  # URLs and tokens stay whole for copy-paste

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from shared.privacy import KeyVault
    from shared.settings import Settings

DEV_ORG = "org-demo"
DEV_PARTNER = uuid.UUID("00000000-0000-4000-8000-00000000beef")
# The demo people of dev mode: role → (subject, roles, partner id). `waypoint tokens` mints
# their tokens; the console's dev sign-in page lists them.
DEV_PEOPLE: dict[str, tuple[str, list[str], uuid.UUID | None]] = {
    "counsellor": ("c.jansen", ["counsellor"], None),
    "team_lead": ("t.peeters", ["team_lead"], None),
    "admin": ("a.admin", ["admin"], None),
    "auditor": ("r.auditor", ["auditor"], None),
    "directory_admin": ("d.directory", ["directory_admin"], None),
    "partner": ("p.partner", ["partner"], DEV_PARTNER),
}
# Where `waypoint run` leaves the dev signing secret of the running system, so that
# `waypoint token` (and the benchmarks) in another shell mint tokens it accepts.
SECRET_FILE = Path(".data") / "dev-jwt-secret"


def signing_settings() -> Settings:
    """The settings to mint dev tokens with: GUIDANCE_JWT_SECRET when set, else the
    secret the running `waypoint run` wrote to .data/dev-jwt-secret."""
    from shared.settings import Settings, get_settings

    if os.environ.get("GUIDANCE_JWT_SECRET") or not SECRET_FILE.is_file():
        return get_settings()
    return Settings(jwt_secret=SECRET_FILE.read_text().strip())


def share_dev_secret(data_dir: Path) -> str | None:
    """Dev mode without GUIDANCE_JWT_SECRET: one random secret for this run, in the
    environment of every process it starts (else a token one of them mints fails in
    another) and in `<data_dir>/dev-jwt-secret` (only the owner may read it); the file's
    path, or None when a secret was given (or outside dev mode)."""
    if os.environ.get("GUIDANCE_AUTH_MODE", "dev") != "dev" or os.environ.get(
        "GUIDANCE_JWT_SECRET"
    ):
        return None
    secret = os.environ["GUIDANCE_JWT_SECRET"] = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE.name
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(secret + "\n")
    return str(path)


def dev_tokens() -> dict[str, str]:
    from shared.auth import dev_token

    settings = signing_settings()
    return {
        role: dev_token(
            settings, sub=sub, org=settings.dev_organisation, roles=roles, partner_id=partner
        )
        for role, (sub, roles, partner) in DEV_PEOPLE.items()
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
    log_level: Annotated[
        str, typer.Option(envvar="GUIDANCE_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "warning",
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

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter("debug, info, warning or error", param_hint="--log-level")
    # The terminal shows what a person needs (printed below); the rest is logged.
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    os.environ["GUIDANCE_LOG_LEVEL"] = log_level  # the `--split` processes log alike
    os.environ.setdefault("GUIDANCE_AUTH_MODE", "dev")
    # Before any other process starts: they all verify with the one secret.
    secret_file = share_dev_secret(data_dir)
    started: list[NatsServer | EmbeddedPostgres | _Process] = []
    written: list[Path] = []
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
        run_file = data_dir / runinfo.RUN_FILE.name
        runinfo.write(
            run_file,
            base_url=base,
            nats_url=settings.nats_url,
            database_url=settings.database_url,
            data_dir=data_dir,
        )
        written.append(run_file)
        console.print(f"Data in [bold]{data_dir.resolve()}[/] (addresses in {run_file})")
        sign_in = f"{base}/sign-in" if settings.auth_mode == "dev" else f"{base}/"
        console.print(f"\nSign in to the console: [bold]{sign_in}[/]")
        console.print(f"Waypoint's APIs at [bold]{base}[/]: /intake /planning /followup /referral")
        console.print(f"OpenAPI: {base}/intake/docs (and /planning/docs, …; {base}/developers)\n")
        if settings.auth_mode == "dev":
            # One screen: the tokens go to another shell with `waypoint tokens`; only the
            # counsellor's is printed, for Swagger's Authorize button.
            if secret_file:
                console.print(f"Dev mode: tokens are signed with the secret in {secret_file}.")
            console.print(
                f"Dev people of organisation [bold]{settings.dev_organisation}[/]: "
                + ", ".join(f"{sub} ({role})" for role, (sub, _, _) in DEV_PEOPLE.items())
                + ". In another shell here,"
            )
            console.print(
                '  [bold]eval "$(.venv/bin/waypoint tokens)"[/] exports their tokens '
                "(COUNSELLOR, TEAM_LEAD, ADMIN, AUDITOR, DIRECTORY_ADMIN, PARTNER) and "
                "WAYPOINT_URL; `waypoint token --role ROLE` mints others."
            )
            console.print(
                f"Counsellor token (for Authorize in the API docs): {dev_tokens()['counsellor']}\n"
            )
            # Someone to refer to: the demo partner directory, once the system answers.
            from shared.demo import seed_in_background

            seed_in_background(base, dev_tokens()["admin"])
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
        for path in written:
            runinfo.mark_stopped(path)
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
    logging.basicConfig(
        level=os.environ.get("GUIDANCE_LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if nice:
        os.nice(nice)
    os.environ["GUIDANCE_ROLE"] = role
    settings = get_settings()
    tune_process(settings)
    if settings.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.host)

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
    """Print a dev-mode token (HS256 with GUIDANCE_JWT_SECRET, else with the secret the
    running `waypoint run` wrote to .data/dev-jwt-secret)."""
    from shared.auth import ROLES, dev_token

    unknown = sorted(set(role) - ROLES)
    if unknown:
        raise typer.BadParameter(
            f"unknown role(s) {', '.join(unknown)}; valid: {', '.join(sorted(ROLES))}",
            param_hint="--role",
        )
    if not os.environ.get("GUIDANCE_JWT_SECRET") and not SECRET_FILE.is_file():
        raise typer.BadParameter(
            "no signing secret: set GUIDANCE_JWT_SECRET, or start `waypoint run` in this "
            f"directory first (it writes {SECRET_FILE})"
        )
    print(
        dev_token(
            signing_settings(),
            sub=sub,
            org=org,
            roles=role,
            partner_id=uuid.UUID(partner_id) if partner_id else None,
            audit_scope="*" if audit_scope == ["*"] else audit_scope,
        )
    )


@app.command()
def tokens(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="WAYPOINT_URL",
            help="Default: the address of the system `waypoint run` started (.data/run.json).",
        ),
    ] = None,
) -> None:
    """Print shell exports of a dev token for each demo person (COUNSELLOR, TEAM_LEAD, ADMIN,
    AUDITOR, DIRECTORY_ADMIN, PARTNER) and WAYPOINT_URL: `eval "$(waypoint tokens)"`."""
    if not os.environ.get("GUIDANCE_JWT_SECRET") and not SECRET_FILE.is_file():
        raise typer.BadParameter(
            "no signing secret: set GUIDANCE_JWT_SECRET, or start `waypoint run` in this "
            f"directory first (it writes {SECRET_FILE})"
        )
    for role, value in dev_tokens().items():
        print(f"export {role.upper()}={shlex.quote(value)}")
    print(f"export WAYPOINT_URL={shlex.quote(runinfo.base_url(url))}")


@events_app.command("tail")
def events_tail(
    subject: Annotated[
        str, typer.Argument(help="NATS subject (wildcards * and >).")
    ] = "guidance.>",
    nats_url: Annotated[
        str | None,
        typer.Option(
            "--nats-url",
            envvar="GUIDANCE_NATS_URL",
            help="Default: the NATS of the system `waypoint run` started (.data/run.json).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each whole envelope.")] = False,
    count: Annotated[
        int | None, typer.Option(help="Stop after this many events (default: until Ctrl-C).")
    ] = None,
) -> None:
    """Print the CloudEvents published on SUBJECT as they arrive (one line each)."""
    import asyncio
    import contextlib

    url = runinfo.nats_url(nats_url)
    # Ctrl-C is how one stops tailing: exit 0, quietly.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(url, subject, as_json, count))


async def _tail(url: str, subject: str, as_json: bool, count: int | None) -> None:
    import socket
    from urllib.parse import urlsplit

    import nats
    from nats.errors import NoServersError

    from shared.settings import nats_servers

    servers = nats_servers(url)
    parts = urlsplit(servers[0])
    try:
        # A plain TCP probe first: nats-py logs a traceback per failed attempt.
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), 2):
            pass
    except OSError as e:
        raise runinfo.cannot_reach("NATS", url, e.strerror or e) from None

    async def quiet(e: Exception) -> None:
        pass  # the connection's own errors end the tail below; no tracebacks

    try:
        nc = await nats.connect(
            servers,
            connect_timeout=2,
            allow_reconnect=False,
            max_reconnect_attempts=1,  # 0 would mean "for ever" to nats-py
            error_cb=quiet,
        )
    except (TimeoutError, OSError, NoServersError) as e:
        raise runinfo.cannot_reach("NATS", url, e) from None
    seen = 0
    try:
        sub = await nc.subscribe(subject)
        sys.stderr.write(f"tailing {subject} on {url} (Ctrl-C to stop)\n")
        async for msg in sub.messages:
            print(_event_line(msg.subject, msg.data, as_json), flush=True)
            seen += 1
            if count is not None and seen >= count:
                break
    finally:
        await nc.close()


def _event_line(subject: str, payload: bytes, as_json: bool) -> str:
    try:
        event = json.loads(payload)
    except ValueError:
        return f"{subject}: (not JSON, {len(payload)} bytes)"
    if as_json:
        return str(json.dumps(event, sort_keys=True))
    if not isinstance(event, dict):
        return f"{subject}: {payload[:200]!r}"
    fields = (event.get("time"), event.get("type"), event.get("subject"), event.get("id"))
    return "  ".join(str(f or "-") for f in fields)


def _rotation_vault(settings: Settings) -> KeyVault:
    """The key vault of `waypoint keys`; a PostgreSQL that does not answer is one line."""
    import psycopg
    from psycopg_pool import PoolTimeout

    from shared.privacy import KeyVault

    try:
        return KeyVault(
            settings.pg.dsn(),
            settings.master_key_bytes,
            previous_key=settings.master_key_previous_bytes,
            cache_seconds=0.0,
            max_size=1,
        )
    except (PoolTimeout, psycopg.OperationalError) as e:
        pg = settings.pg
        raise runinfo.cannot_reach("PostgreSQL", f"{pg.host}:{pg.port}/{pg.dbname}", e) from None


@keys_app.command("rotate")
def keys_rotate(
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rows re-wrapped per transaction.")
    ] = 500,
) -> None:
    """Re-wrap under GUIDANCE_MASTER_KEY every client key still wrapped by
    GUIDANCE_MASTER_KEY_PREVIOUS, online, in batches; destroyed keys stay as they are. Safe
    to run again (after an interruption too). Exits 1 if a key opens with neither."""
    from shared.settings import get_settings

    settings = get_settings()
    if settings.master_key_previous_bytes is None:
        raise typer.BadParameter(
            "GUIDANCE_MASTER_KEY_PREVIOUS is not set: give the old master key there and "
            "the new one as GUIDANCE_MASTER_KEY (deploy/k8s/README.md, "
            '"Rotating the master key")'
        )
    vault = _rotation_vault(settings)
    try:
        report = vault.rotate(batch=batch)
    finally:
        vault.close()
    console.print(
        f"re-wrapped: {report.rewrapped}, already current: {report.current}, "
        f"destroyed: {report.destroyed}"
    )
    if report.unreadable:
        shown = ", ".join(str(c) for c in report.unreadable[:20])
        more = f" and {len(report.unreadable) - 20} more" if len(report.unreadable) > 20 else ""
        console.print(
            f"[bold red]{len(report.unreadable)} client key(s) open with neither "
            f"GUIDANCE_MASTER_KEY nor GUIDANCE_MASTER_KEY_PREVIOUS[/] (left as they are): "
            f"{shown}{more}"
        )
        raise typer.Exit(1)


@keys_app.command("status")
def keys_status() -> None:
    """Count the client keys by the master key that wraps them: current
    (GUIDANCE_MASTER_KEY), previous (GUIDANCE_MASTER_KEY_PREVIOUS), unknown (neither), and
    the destroyed ones."""
    from shared.settings import get_settings

    vault = _rotation_vault(get_settings())
    try:
        counts = vault.wrapping_keys()
    finally:
        vault.close()
    console.print(", ".join(f"{name}: {n}" for name, n in counts.items()))


def _stream_service(service: str) -> str:
    from shared.serve import SERVICES

    if service not in SERVICES:
        raise typer.BadParameter(f"one of {', '.join(SERVICES)}", param_hint="SERVICE")
    return service


@streams_app.command("rebuild")
def streams_rebuild(
    service: Annotated[str, typer.Argument(help="intake, planning, followup or referral.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    wait: Annotated[
        float,
        typer.Option(min=0, help="Seconds to wait for the relay's lease before refusing."),
    ] = 5.0,
) -> None:
    """Delete SERVICE's NATS stream (its durable consumers with it), create it again with the
    relay's configuration, and set the relay's position back to 0, so that the relay
    publishes the whole event store again (same event ids: consumers apply nothing twice).
    Holds the relay's lease meanwhile: stop SERVICE's relay/worker processes first."""

    from shared.messaging.rebuild import RelayRunning, rebuild_stream
    from shared.settings import get_settings

    service = _stream_service(service)
    runinfo.use_database()
    settings = get_settings()
    if not yes:
        typer.confirm(
            f"Delete the stream of {service} (and its consumers) and republish its whole "
            "event store?",
            abort=True,
        )

    async def rebuild() -> None:
        nc = await _nats()
        try:
            done = await rebuild_stream(
                settings.pg.asyncpg_kwargs(),
                nc.jetstream(),
                service,
                duplicate_window=settings.stream_duplicate_window_seconds,
                replicas=settings.stream_replicas,
                wait_seconds=wait,
            )
        finally:
            await nc.close()
        if done.deleted:
            console.print(f"stream {done.stream}: deleted ({done.messages_deleted} messages)")
        else:
            console.print(f"stream {done.stream}: there was none")
        console.print(
            f"stream {done.stream}: created (duplicate window "
            f"{settings.stream_duplicate_window_seconds} s, replicas {settings.stream_replicas})"
        )
        if done.position_before is None:
            console.print(f"relay of {service}: no position stored (it starts from 0)")
        else:
            console.print(f"relay of {service}: position reset from {done.position_before} to 0")
        console.print(f"start the relay of {service}: it republishes the whole log")

    _run_on_database(rebuild(), settings, refused=RelayRunning)


@streams_app.command("status")
def streams_status() -> None:
    """Per service: its stream's messages and last sequence, the store's last notification
    id and the relay's position."""
    import asyncio

    from shared.messaging.rebuild import stream_status
    from shared.serve import SERVICES
    from shared.settings import get_settings

    runinfo.use_database()
    settings = get_settings()

    async def status() -> None:
        nc = await _nats()
        try:
            for service in SERVICES:
                s = await stream_status(
                    settings.pg.asyncpg_kwargs(), nc.jetstream(), service, f"{service}_events"
                )
                stream = (
                    "no stream"
                    if s.messages is None
                    else f"{s.messages} messages, last sequence {s.last_seq}"
                )
                console.print(
                    f"{service}: {s.stream}: {stream}; store's last notification "
                    f"{s.store_last_id if s.store_last_id is not None else '-'}, relay at "
                    f"{s.relay_position if s.relay_position is not None else '-'}"
                )
        finally:
            await nc.close()

    asyncio.run(status())


@app.command("rebuild")
def rebuild(
    service: Annotated[str, typer.Argument(help="intake, planning, followup or referral.")],
    projection: Annotated[
        str | None,
        typer.Argument(
            help="Which of its read models: `projection` (the service's own projection, "
            "the tables it keeps from its log). `--list` shows them."
        ),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List SERVICE's projections and their tables.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=100, max=100_000, help="Events per transaction.")
    ] = 5000,
    wait: Annotated[
        float,
        typer.Option(min=0, help="Seconds to wait for the live projection to hand its lease over."),
    ] = 30.0,
) -> None:
    """Rebuild SERVICE's PROJECTION from its event store, online: the live read model serves
    (and follows the log) while the new one is built in a shadow schema (<service>_rebuild)
    in large batches; once caught up, the live projection hands its lease over for a moment
    (its updates pause, reads do not), the last events are applied, every erased client is
    erased from the new tables, and they replace the old ones in one transaction, with the
    projection's position. Safe to run on a running system; nothing to stop first."""
    import asyncio

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from shared.messaging.reproject import RebuildRefused, projections_of, rebuild_service
    from shared.settings import get_settings

    service = _stream_service(service)
    choices = projections_of(service)
    if list_:
        for name, tables in choices.items():
            console.print(f"{name}: {', '.join(f'{service}.{t}' for t in tables)}")
        return
    if projection is None:
        raise typer.BadParameter(
            f"name the projection: one of {', '.join(choices)} (--list shows them)",
            param_hint="PROJECTION",
        )
    if projection not in choices:
        raise typer.BadParameter(
            f"{service} has no projection {projection!r}: one of {', '.join(choices)}",
            param_hint="PROJECTION",
        )
    runinfo.use_database()
    settings = get_settings()
    bar = Progress(
        TextColumn(f"rebuilding {service} {projection}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events  {task.fields[rate]:>9} events/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )

    async def go() -> None:
        started = asyncio.get_running_loop().time()
        task = bar.add_task("rebuild", total=None, rate="-")

        def progress(events: int, position: int, head: int) -> None:
            elapsed = max(asyncio.get_running_loop().time() - started, 1e-6)
            bar.update(
                task, completed=events, total=max(head, events), rate=f"{events / elapsed:,.0f}"
            )

        with bar:
            done = await rebuild_service(
                service,
                projection,
                settings,
                batch_size=batch_size,
                wait_seconds=wait,
                progress=progress,
            )
        rate = done.events / done.seconds if done.seconds else 0.0
        console.print(
            f"{service} {projection}: {done.events} events in {done.seconds:.1f} s "
            f"({rate:,.0f} events/s); updates paused {done.paused_seconds:.2f} s; "
            f"{done.erased_clients} erased clients kept out; position {done.position}; "
            f"tables swapped in: {', '.join(done.tables)}"
        )

    _run_on_database(go(), settings, refused=RebuildRefused)


def _run_on_database(
    work: Coroutine[Any, Any, None], settings: Settings, *, refused: type[Exception]
) -> None:
    """Run a command's work on PostgreSQL: `refused` (the work would not be safe now) is
    exit 1 with its message; an unreachable database, the usual message."""
    import asyncio

    try:
        asyncio.run(work)
    except refused as e:
        console.print(f"[bold red]{e}[/]")
        raise typer.Exit(1) from None
    except OSError as e:
        pg = settings.pg
        raise runinfo.cannot_reach("PostgreSQL", f"{pg.host}:{pg.port}/{pg.dbname}", e) from None


async def _nats() -> Any:
    """A connection to GUIDANCE_NATS_URL, else to the running system's NATS."""
    import nats
    from nats.errors import NoServersError

    from shared.settings import nats_servers

    url = runinfo.nats_url(os.environ.get("GUIDANCE_NATS_URL"))
    try:
        return await nats.connect(
            nats_servers(url), connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1
        )
    except (TimeoutError, OSError, NoServersError) as e:
        raise runinfo.cannot_reach("NATS", url, e) from None


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
