"""Retention with a moved clock, on the real PostgreSQL and NATS: exactly the clients
whose guidance ended more than the retention period ago are erased, a legal hold
refuses one (recorded), and nobody else is touched; the command line lists the same."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from services.intake.jobs import RetentionJob
from tests.scenarios import an_accepted_case
from tests.support import bearer, eventually

INTAKE = "/intake/v1"


async def a_client(api: httpx.AsyncClient, h: dict[str, str], *, case: str | None) -> str:
    """A client; with a case `declined` (closed) or `open` (never decided), or none."""
    r = await api.post(
        f"{INTAKE}/clients",
        json={
            "given_name": "Retention",
            "family_name": "Test",
            "birth_date": "1970-01-01",
            "email": "r@example.org",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    client_id = str(r.json()["client_id"])
    if case is None:
        return client_id
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = await api.post(
        f"{INTAKE}/cases", json={"client_id": client_id, "career_question": "Which way?"}, headers=h
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    if case == "declined":
        r = await api.post(
            f"{INTAKE}/cases/{case_id}/decision", json={"decision": "decline"}, headers=h
        )
        assert r.status_code == 200, r.text
    return client_id


async def case_of(intake_app: Any, client_id: str) -> uuid.UUID:
    pool = intake_app.state.runtime.pool
    found: uuid.UUID = await eventually(
        lambda: pool.fetchval(
            "SELECT case_id FROM intake.cases_view WHERE client_id = $1", uuid.UUID(client_id)
        ),
        "the case in intake's view",
    )
    return found


@pytest.fixture
def lead(token: Any, org: str) -> dict[str, str]:
    return bearer(token("team_lead", org=org, sub="lead-1"))


async def test_retention_erases_exactly_the_expired_clients(
    api: httpx.AsyncClient,
    intake_app: Any,
    counsellor: dict[str, str],
    lead: dict[str, str],
    org: str,
) -> None:
    closed = await a_client(api, counsellor, case="declined")
    never = await a_client(api, counsellor, case=None)
    held = await a_client(api, counsellor, case="declined")
    abandoned = await a_client(api, counsellor, case="open")
    active, _ = await an_accepted_case(api, counsellor)  # accepted, aftercare never closed
    # Accepted, its file closed by the counsellor (the client withdrew): ended then.
    withdrew, withdrew_case = await an_accepted_case(api, counsellor)
    r = await api.post(
        f"{INTAKE}/cases/{withdrew_case}/closure",
        json={"reason": "client_withdrew", "summary": "Moved abroad."},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    held_case = await case_of(intake_app, held)
    r = await api.put(
        f"{INTAKE}/cases/{held_case}/legal-hold", json={"reason": "Appeal pending"}, headers=lead
    )
    assert r.status_code == 200, r.text
    await case_of(intake_app, closed)
    await case_of(intake_app, abandoned)

    app = intake_app.state.application
    pool = intake_app.state.runtime.pool
    now = datetime.now(UTC)

    def job(at: datetime) -> RetentionJob:
        return RetentionJob(
            app, pool, years=7, interval_seconds=3600, clock=lambda: at, organisation=org
        )

    # Six years on: nobody's retention has passed.
    report = await job(now + timedelta(days=6 * 365)).run_once(apply=True)
    assert report is not None and report.expired == [] and report.erased == []

    # Eight years on: the declined, the caseless, the abandoned, the one whose file was
    # closed; the held one is refused.
    later = now + timedelta(days=8 * 365)
    dry = await job(later).run_once(apply=False)
    assert dry is not None
    expired = {str(r["client_id"]) for r in dry.expired}
    assert expired == {closed, never, held, abandoned, withdrew}
    r = await api.get(f"{INTAKE}/clients/{closed}", headers=counsellor)
    assert r.status_code == 200, "a dry run erases nobody"

    report = await job(later).run_once(apply=True)
    assert report is not None
    assert {str(c) for c in report.erased} == {closed, never, abandoned, withdrew}
    assert [str(c) for c in report.held] == [held]
    for client_id in (closed, never, abandoned, withdrew):
        r = await api.get(f"{INTAKE}/clients/{client_id}", headers=counsellor)
        assert r.status_code == 404, r.text
        r = await api.get(f"{INTAKE}/clients/{client_id}/erasure", headers=counsellor)
        assert r.status_code == 200 and r.json()["requested_by"] == "system:retention"
        assert r.json()["reason"].startswith("Retention:")
    for client_id in (held, active):
        r = await api.get(f"{INTAKE}/clients/{client_id}", headers=counsellor)
        assert r.status_code == 200, r.text
    r = await api.get(f"{INTAKE}/clients/{held}/erasure", headers=counsellor)
    assert r.status_code == 404 and "1 refused" in r.json()["detail"]


async def test_the_command_line_lists_and_applies_the_same(
    api: httpx.AsyncClient,
    intake_app: Any,
    counsellor: dict[str, str],
    org: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.cli import app as cli

    caseless = await a_client(api, counsellor, case=None)
    pool = intake_app.state.runtime.pool

    async def in_view() -> bool:
        try:
            return bool(
                await pool.fetchval(
                    "SELECT true FROM intake.clients_view WHERE client_id = $1",
                    uuid.UUID(caseless),
                )
            )
        except asyncpg.UndefinedTableError:  # the projection creates it as it starts
            return False

    await eventually(in_view, "the client in intake's view")
    monkeypatch.setenv("GUIDANCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUIDANCE_NATS_URL", settings.nats_url)
    later = (datetime.now(UTC) + timedelta(days=8 * 365)).isoformat()

    def waypoint(*args: str) -> Any:
        # In a thread: the command runs its own event loop.
        return CliRunner().invoke(cli, ["privacy", "retention", *args, "--organisation", org])

    result = await asyncio.to_thread(waypoint, "--dry-run", "--as-of", later)
    assert result.exit_code == 0, result.output
    assert "1 client(s) expired" in result.output and caseless in result.output
    assert "would be erased" in result.output
    r = await api.get(f"{INTAKE}/clients/{caseless}", headers=counsellor)
    assert r.status_code == 200

    now = datetime.now(UTC).isoformat()
    result = await asyncio.to_thread(waypoint, "--dry-run", "--as-of", now)
    assert result.exit_code == 0 and "0 client(s) expired" in result.output

    result = await asyncio.to_thread(waypoint, "--apply", "--as-of", later)
    assert result.exit_code == 0, result.output
    assert "erased" in result.output
    r = await api.get(f"{INTAKE}/clients/{caseless}", headers=counsellor)
    assert r.status_code == 404
