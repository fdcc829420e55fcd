"""`waypoint audit …`: a case's timeline, verification of every service's chain, and the
export and offline check of a case's bundle."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich import box
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from shared import runinfo
from shared.audit import bundle

audit = typer.Typer(help="The tamper-evident audit trail: timelines, verification, bundles.")
console = Console(soft_wrap=True)
T = TypeVar("T")

BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        "--base-url",
        envvar="WAYPOINT_URL",
        help="Where Waypoint answers (default: the system `waypoint run` started, from "
        ".data/run.json; else GUIDANCE_HOST/GUIDANCE_PORT).",
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="WAYPOINT_TOKEN", help="An auditor's bearer token (see `waypoint token`)."
    ),
]


def _client(base_url: str, token: str | None) -> httpx.AsyncClient:
    if not token:
        console.print("[red]A token is needed:[/] --token or WAYPOINT_TOKEN.")
        raise typer.Exit(2)
    return httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=300
    )


def _run(
    base_url: str | None, token: str | None, work: Callable[[httpx.AsyncClient], Awaitable[T]]
) -> T:
    url = runinfo.base_url(base_url)

    async def go() -> T:
        async with _client(url, token) as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except httpx.TransportError as e:
        # Nothing answers there: one line, not a table of false FAILEDs.
        raise runinfo.cannot_reach("Waypoint", url, e) from None
    except (httpx.HTTPError, bundle.AuditHttpError) as e:
        console.print(f"[red]{e}[/]")
        raise typer.Exit(1) from e


@audit.command("timeline")
def timeline_command(
    case_id: uuid.UUID,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Only what had happened by then (ISO 8601 / RFC 3339)."),
    ] = None,
    base_url: BaseUrl = None,
    token: Token = None,
) -> None:
    """The case's events in all four services, as one timeline."""
    moment = None
    if as_of:
        try:
            moment = datetime.fromisoformat(as_of)
        except ValueError as e:
            raise typer.BadParameter(f"not an ISO date-time: {as_of}", param_hint="--as-of") from e
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    events = _run(base_url, token, lambda c: bundle.timeline(c, case_id, as_of=moment))
    print_timeline(case_id, events)


def print_timeline(case_id: uuid.UUID, events: list[dict[str, Any]]) -> None:
    table = Table(
        title=f"Case {case_id}: {len(events)} events", box=box.SIMPLE_HEAD, pad_edge=False
    )
    # In an 80-column terminal the event's type keeps its room: the time to the second
    # (UTC), the hash's first 8 characters (`--json`-like detail: `waypoint audit export`).
    for column in ("time (UTC)", "service", "event", "actor", "pos", "hash"):
        table.add_column(
            column,
            no_wrap=column != "actor",
            min_width={"event": 22, "actor": 9}.get(column),
            overflow="fold",
        )
    for e in events:
        table.add_row(
            _to_the_second(e["occurred_at"]),
            e["service"],
            e["type"],
            str(e.get("actor") or ""),
            str(e["position"]),
            e["hash"][:8],
        )
    console.print(table)


def _to_the_second(moment: str) -> str:
    try:
        return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return moment


@audit.command("verify")
def verify_command(
    base_url: BaseUrl = None,
    token: Token = None,
    service: Annotated[
        list[str] | None, typer.Option("--service", help="Only these services.")
    ] = None,
) -> None:
    """Verify every service's hash chain and checkpoints; exit 1 if any fails."""
    names = service or list(bundle.SERVICES)

    async def work(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {}
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
        ) as bar:
            for name in names:
                task = bar.add_task(f"verifying {name}…", total=1)
                try:
                    results[name] = await bundle.verify(client, name)
                except httpx.TransportError:
                    raise  # the system does not answer: not a failed chain
                except (httpx.HTTPError, bundle.AuditHttpError) as e:
                    results[name] = {"ok": False, "reason": str(e)}
                state = "ok" if results[name].get("ok") else "FAILED"
                bar.update(task, completed=1, description=f"{name}: {state}")
        return results

    results = _run(base_url, token, work)
    table = Table(title="Audit chains")
    for column in ("service", "ok", "checked", "unchained", "checkpoints", "first bad", "reason"):
        table.add_column(column)
    for name, r in results.items():
        table.add_row(
            name,
            "[green]yes[/]" if r.get("ok") else "[red]NO[/]",
            str(r.get("checked", "")),
            str(r.get("unchained", "")),
            str(r.get("checkpoints_checked", "")),
            str(r.get("first_bad_position", "")),
            str(r.get("reason", "")),
        )
    console.print(table)
    if not all(r.get("ok") for r in results.values()):
        raise typer.Exit(1)


@audit.command("export")
def export_command(
    case_id: uuid.UUID,
    output: Annotated[Path, typer.Option("-o", "--output", help="The bundle file to write.")],
    base_url: BaseUrl = None,
    token: Token = None,
) -> None:
    """Write the case's self-contained audit bundle (checkable offline)."""
    data = _run(base_url, token, lambda c: bundle.export(c, case_id))
    if not data["services"]:
        console.print(f"[red]No service has events of case {case_id}.[/]")
        raise typer.Exit(1)
    output.write_text(json.dumps(data, indent=2, sort_keys=True))
    count = sum(len(p["events"]) for p in data["services"].values())
    console.print(f"{count} events of {len(data['services'])} services written to {output}")


@audit.command("check")
def check_command(
    file: Path,
    public_key: Annotated[
        list[str] | None,
        typer.Option("--public-key", help="Pin a service's key: SERVICE=BASE64 (repeatable)."),
    ] = None,
) -> None:
    """Check an exported bundle offline; exit 1 at the first item that does not check out."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as e:
        console.print(f"[red]Cannot read {file}: {e}[/]")
        raise typer.Exit(1) from e
    pinned = dict(p.split("=", 1) for p in public_key or [])
    findings = bundle.check(data, pinned)
    if findings:
        console.print(f"[red]NOT OK[/] — first bad item: {findings[0]}")
        for finding in findings[1:]:
            console.print(f"  also: {finding}")
        raise typer.Exit(1)
    events = sum(len(p.get("events", [])) for p in data["services"].values())
    checkpoints = sum(len(p.get("checkpoints", [])) for p in data["services"].values())
    console.print(
        f"[green]OK[/]: {events} links recompute and {checkpoints} checkpoint signatures "
        f"verify ({', '.join(data['services'])})."
    )
