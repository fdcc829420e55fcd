"""`waypoint privacy`: the privacy officer's command line (retention per purpose, over
intake's and referral's jobs: it sits above the services, like `services/cli.py`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.table import Column, Table

from services.followup.application import FollowUpApplication
from services.followup.jobs import StatisticsRetentionJob, StatisticsRetentionReport
from services.intake.application import IntakeApplication
from services.intake.jobs import RetentionJob, RetentionReport
from services.referral.application import ReferralApplication
from services.referral.jobs import PacketRetentionJob, PacketRetentionReport
from shared import runinfo
from shared.privacy.retention import policy_of
from shared.runtime import key_vault
from shared.settings import get_settings

privacy = typer.Typer(help="Privacy: retention of clients' data.")
console = Console(soft_wrap=True)


class Purpose(StrEnum):
    all = "all"
    guidance = "guidance"
    referral_packet = "referral_packet"
    statistics = "statistics"


@privacy.command()
def retention(
    apply: Annotated[
        bool,
        typer.Option(
            "--apply/--dry-run",
            help="Remove what has expired, or (default) only list it.",
        ),
    ] = False,
    purpose: Annotated[
        Purpose,
        typer.Option(
            help="Only this purpose's rule: `guidance` (erase clients), `referral_packet` "
            "(remove the packets of ended referrals) or `statistics` (delete old anonymised "
            "figures); default: every purpose."
        ),
    ] = Purpose.all,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Judge as of this moment (ISO 8601; default: now)."),
    ] = None,
    organisation: Annotated[
        str | None, typer.Option(help="Only this organisation's clients (default: all).")
    ] = None,
) -> None:
    """List (or remove) exactly what each purpose's retention period lets go: clients
    (`guidance`), referral packets (`referral_packet`)."""
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    runinfo.use_database()
    _reachable(get_settings().database_url)
    if purpose in (Purpose.all, Purpose.guidance):
        report = asyncio.run(_run(apply, moment, organisation))
        _show(report)
        if report.failed:
            raise typer.Exit(1)
    if purpose in (Purpose.all, Purpose.referral_packet):
        packets = asyncio.run(_run_packets(apply, moment, organisation))
        if packets is None:
            console.print("Referral packets: referral's read models are not there yet; none.")
        else:
            _show_packets(packets)
    if purpose in (Purpose.all, Purpose.statistics):
        figures = asyncio.run(_run_statistics(apply, moment, organisation))
        if figures is None:
            console.print("Statistics: follow-up's read models are not there yet; none.")
        else:
            _show_statistics(figures)


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


async def _run_packets(
    apply: bool, moment: datetime, organisation: str | None
) -> PacketRetentionReport | None:
    """The packet retention's pass; None when referral never created its read models."""
    settings = get_settings()
    app = ReferralApplication(settings, key_vault(settings))
    pool = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=1, max_size=2)
    try:
        job = PacketRetentionJob(
            app,
            pool,
            rule=policy_of(settings)["referral_packet"],
            interval_seconds=settings.retention_interval_seconds,
            clock=lambda: moment,
            organisation=organisation,
        )
        try:
            report = await job.run_once(apply=apply)
        except asyncpg.UndefinedTableError:
            return None
        if report is None:
            console.print("[yellow]Another packet retention run holds the lock; try again later.")
            raise typer.Exit(2)
        return report
    finally:
        await pool.close()
        app.close()


async def _run_statistics(
    apply: bool, moment: datetime, organisation: str | None
) -> StatisticsRetentionReport | None:
    """The statistics retention's pass; None when follow-up never created its tables."""
    settings = get_settings()
    app = FollowUpApplication(settings, key_vault(settings))
    pool = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=1, max_size=2)
    try:
        job = StatisticsRetentionJob(
            app,
            pool,
            rule=policy_of(settings)["statistics"],
            interval_seconds=settings.retention_interval_seconds,
            clock=lambda: moment,
            organisation=organisation,
        )
        try:
            report = await job.run_once(apply=apply)
        except asyncpg.UndefinedTableError:
            return None
        if report is None:
            console.print("[yellow]Another statistics retention run holds the lock; try later.")
            raise typer.Exit(2)
        return report
    finally:
        await pool.close()
        app.close()


def _show_statistics(report: StatisticsRetentionReport) -> None:
    mode = "applied" if report.applied else "dry run"
    done = "deleted" if report.applied else "would be deleted"
    console.print(
        f"Statistics ({mode}) as of {report.as_of.isoformat()}, {report.rule}: anonymised "
        f"figures dated before {report.cutoff.isoformat()} → {report.figures} figure(s) and "
        f"{report.bottlenecks} bottleneck(s) {done}"
        + (f" (receipt {report.purge_id})." if report.purge_id else ".")
    )


def _show_packets(report: PacketRetentionReport) -> None:
    mode = "applied" if report.applied else "dry run"
    console.print(
        f"Referral packets ({mode}) as of {report.as_of.isoformat()}, {report.rule}: "
        f"referrals ended before {report.cutoff.date().isoformat()} → "
        f"{len(report.expired)} packet(s) expired."
    )
    table = Table(
        Column("referral", no_wrap=True, min_width=36),  # ids stay whole for copy-paste
        Column("ended", no_wrap=True),
        Column("result", no_wrap=True),
    )
    for row in report.expired:
        referral_id = row["referral_id"]
        if referral_id in report.held:
            result = "[yellow]legal hold: kept"
        elif not report.applied:
            result = "would be removed"
        elif referral_id in report.removed:
            result = "[green]removed"
        else:
            result = "unchanged"  # changed meanwhile: the next run looks again
        table.add_row(str(referral_id), row["ended_at"].date().isoformat(), result)
    console.print(table)


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
