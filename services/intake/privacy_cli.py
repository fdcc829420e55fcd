"""`waypoint privacy`: the privacy officer's command line (retention)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.table import Column, Table

from services.intake.application import IntakeApplication
from services.intake.jobs import RetentionJob, RetentionReport
from shared import runinfo
from shared.runtime import key_vault
from shared.settings import get_settings

privacy = typer.Typer(help="Privacy: retention of clients' data.")
console = Console(soft_wrap=True)


@privacy.command()
def retention(
    apply: Annotated[
        bool,
        typer.Option(
            "--apply/--dry-run", help="Erase the expired clients, or (default) only list them."
        ),
    ] = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Judge as of this moment (ISO 8601; default: now)."),
    ] = None,
    organisation: Annotated[
        str | None, typer.Option(help="Only this organisation's clients (default: all).")
    ] = None,
) -> None:
    """List (or erase) exactly the clients whose retention period has passed."""
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    runinfo.use_database()
    _reachable(get_settings().database_url)
    report = asyncio.run(_run(apply, moment, organisation))
    _show(report)
    if report.failed:
        raise typer.Exit(1)


def _reachable(url: str) -> None:
    """One line and exit 1 when the database does not answer (not a traceback, nor a
    pool's long time-out)."""
    from urllib.parse import urlsplit

    from shared.embedded import postgres_answers

    if not postgres_answers(url):
        parts = urlsplit(url)
        # Never the password; an embedded server's socket folder is in the query.
        where = f"{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}"
        where = f"{where}{parts.path}{'?' + parts.query if parts.query else ''}"
        raise runinfo.cannot_reach("PostgreSQL", where, "connection refused or timed out")


async def _run(apply: bool, moment: datetime, organisation: str | None) -> RetentionReport:
    settings = get_settings()
    vault = key_vault(settings)
    app = IntakeApplication(settings, vault)
    pool = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=1, max_size=2)
    try:
        job = RetentionJob(
            app,
            pool,
            years=settings.retention_years,
            interval_seconds=settings.retention_interval_seconds,
            clock=lambda: moment,
            organisation=organisation,
        )
        report = await job.run_once(apply=apply)
        if report is None:
            console.print("[yellow]Another retention run holds the lock; try again later.")
            raise typer.Exit(2)
        return report
    finally:
        await pool.close()
        app.close()  # the vault is the process's own, shared: it stays open


def _show(report: RetentionReport) -> None:
    mode = "applied" if report.applied else "dry run"
    console.print(
        f"Retention ({mode}) as of {report.as_of.isoformat()}: guidance ended before "
        f"{report.cutoff.date().isoformat()} → {len(report.expired)} client(s) expired."
    )
    table = Table(
        Column("client", no_wrap=True, min_width=36),  # ids stay whole for copy-paste
        Column("organisation", overflow="fold"),
        "cases",
        Column("guidance ended", no_wrap=True),
        Column("result", no_wrap=True),
    )
    for row in report.expired:
        client_id = row["client_id"]
        ended = row["last_closed_at"] or row["registered_at"]
        if not report.applied:
            result = "would be erased"
        elif client_id in report.erased:
            result = "[green]erased"
        elif client_id in report.held:
            result = "[yellow]legal hold: refused"
        else:
            result = f"[red]failed: {report.failed.get(client_id, '?')}"
        table.add_row(
            str(client_id), row["organisation"], str(row["cases"]), ended.date().isoformat(), result
        )
    console.print(table)
