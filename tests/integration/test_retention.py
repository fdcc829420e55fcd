"""Retention with a moved clock, on the real PostgreSQL and NATS: exactly the clients
whose guidance ended more than the retention period ago are erased, a legal hold
refuses one (recorded), and nobody else is touched; the command line lists the same.
The `referral_packet` purpose has its own period: the packets of referrals that ended
before it are removed (a tombstone, published; the record stays), a held client's are
kept, the receipts list them, a dry run changes nothing. The `statistics` purpose: an
erased client's outcome figures stay in the team lead's report, anonymised (unless they
withdrew the statistics consent), until their own period passes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from services.followup import consumers as followup_consumers
from services.followup.jobs import StatisticsRetentionJob
from services.intake.jobs import RetentionJob
from services.referral.jobs import PacketRetentionJob
from shared.privacy.erasure import drop_client_rows
from shared.privacy.retention import policy
from tests.scenarios import (
    FOLLOWUP,
    REFERRAL,
    a_followup_with,
    a_sent_referral,
    an_accepted_case,
    consent_event,
)
from tests.support import assert_problem, bearer, eventually, new_org, published_for

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


# -- the referral packet's own period --------------------------------------------------------------
async def view_status(pool: Any, referral_id: str, status: str) -> None:
    async def check() -> bool:
        found = await pool.fetchval(
            "SELECT status FROM referral.referrals_view WHERE referral_id = $1",
            uuid.UUID(referral_id),
        )
        return bool(found == status)

    await eventually(check, f"referral {referral_id} {status} in referral's view")


async def test_referral_packets_go_after_their_own_period(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    js: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    lead: dict[str, str],
    token: Any,
    org: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.cli import app as cli

    pool = referral_app.state.runtime.pool
    declined = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    withdrawn = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    running = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    held = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    for ref in (declined, held):
        r = await referral_api.post(
            f"{REFERRAL}/referrals/{ref['referral_id']}/decline",
            json={"reason": "No places for this profile."},
            headers=ref["partner"],
        )
        assert r.status_code == 200, r.text
    r = await referral_api.post(
        f"{REFERRAL}/referrals/{withdrawn['referral_id']}/withdraw",
        json={"reason": "The client moved away."},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    r = await api.put(
        f"{INTAKE}/cases/{held['case_id']}/legal-hold", json={"reason": "Appeal"}, headers=lead
    )
    assert r.status_code == 200, r.text
    await eventually(
        lambda: pool.fetchval(
            "SELECT true FROM referral.legal_holds WHERE case_id = $1", uuid.UUID(held["case_id"])
        ),
        "the legal hold in referral",
    )
    for ref, status in ((declined, "declined"), (held, "declined"), (withdrawn, "withdrawn")):
        await view_status(pool, ref["referral_id"], status)

    rule = policy(guidance_years=7, referral_packet_months=12)["referral_packet"]
    now = datetime.now(UTC)

    def job(at: datetime) -> PacketRetentionJob:
        return PacketRetentionJob(
            referral_app.state.application,
            pool,
            rule=rule,
            interval_seconds=3600,
            clock=lambda: at,
            organisation=org,
        )

    # Eleven months on: every packet is kept.
    report = await job(now + timedelta(days=335)).run_once(apply=True)
    assert report is not None and report.expired == [] and report.removed == []

    # Thirteen months on: the declined, the withdrawn and the held ones have expired.
    later = now + timedelta(days=395)
    dry = await job(later).run_once(apply=False)
    assert dry is not None
    ids = {str(r["referral_id"]) for r in dry.expired}
    assert ids == {declined["referral_id"], withdrawn["referral_id"], held["referral_id"]}
    assert [str(i) for i in dry.held] == [held["referral_id"]] and dry.removed == []
    r = await referral_api.get(
        f"{REFERRAL}/referrals/{declined['referral_id']}", headers=counsellor
    )
    assert r.json()["packet_removed_at"] is None, "a dry run removes nothing"

    report = await job(later).run_once(apply=True)
    assert report is not None
    assert {str(i) for i in report.removed} == {declined["referral_id"], withdrawn["referral_id"]}
    assert [str(i) for i in report.held] == [held["referral_id"]]

    # The record stays; its texts read REMOVED; the partner sees the packet was removed.
    for ref in (declined, withdrawn):
        r = await referral_api.get(f"{REFERRAL}/referrals/{ref['referral_id']}", headers=counsellor)
        body = r.json()
        assert r.status_code == 200 and body["reason"] == "REMOVED", body
        assert body["packet_removal_rule"] == rule.text and body["packet_removed_at"]
        assert body["status"] in ("declined", "withdrawn") and body["sent_at"]
    r = await referral_api.get(
        f"{REFERRAL}/referrals/{declined['referral_id']}", headers=counsellor
    )
    assert r.json()["decline_reason"] == "REMOVED"
    r = await referral_api.get(
        f"{REFERRAL}/referrals/{declined['referral_id']}", headers=declined["partner"]
    )
    assert r.status_code == 200 and r.json()["packet_removed_at"], r.text
    r = await referral_api.get(
        f"{REFERRAL}/referrals/{declined['referral_id']}/packet", headers=declined["partner"]
    )
    assert_problem(r, 410, "packet-removed")
    for ref in (running, held):
        r = await referral_api.get(f"{REFERRAL}/referrals/{ref['referral_id']}", headers=counsellor)
        assert r.json()["packet_removed_at"] is None and r.json()["reason"] != "REMOVED"
    r = await referral_api.get(
        f"{REFERRAL}/referrals/{running['referral_id']}/packet", headers=running["partner"]
    )
    assert r.status_code == 200, r.text
    removed = await eventually(
        lambda: published_for(js, "ReferralPacketRemoved", declined["referral_id"]),
        "ReferralPacketRemoved on NATS",
    )
    assert removed[0]["data"]["rule"] == rule.text

    # The receipts: the rules and the removed packets, for the team lead and the auditor.
    async def receipts() -> dict[str, Any] | None:
        r = await referral_api.get(f"{REFERRAL}/retention", headers=lead)
        assert r.status_code == 200, r.text
        return r.json() if r.json()["total"] == 2 else None

    body = await eventually(receipts, "the removed packets in the receipts")
    assert [p["purpose"] for p in body["rules"]] == ["guidance", "referral_packet", "statistics"]
    assert {p["referral_id"] for p in body["removed"]} == {
        declined["referral_id"],
        withdrawn["referral_id"],
    }
    assert all(p["rule"] == rule.text and p["ended_at"] for p in body["removed"])
    auditor = bearer(token("auditor", org=org, sub="auditor-1"))
    r = await referral_api.get(f"{REFERRAL}/retention", headers=auditor)
    assert r.status_code == 200 and r.json()["total"] == 2
    r = await referral_api.get(f"{REFERRAL}/retention", headers=counsellor)
    assert_problem(r, 403, "forbidden")
    other = bearer(token("team_lead", org=new_org(), sub="lead-b"))
    r = await referral_api.get(f"{REFERRAL}/retention", headers=other)
    assert r.status_code == 200 and r.json()["removed"] == [], "another organisation's own"

    # Again: nothing more to remove; the command line says the held one is kept.
    again = await job(later).run_once(apply=True)
    assert again is not None and again.removed == [] and len(again.expired) == 1
    monkeypatch.setenv("GUIDANCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUIDANCE_NATS_URL", settings.nats_url)

    def waypoint(*args: str) -> Any:
        return CliRunner().invoke(
            cli,
            ["privacy", "retention", "--purpose", "referral_packet", *args, "--organisation", org],
        )

    result = await asyncio.to_thread(waypoint, "--apply", "--as-of", later.isoformat())
    assert result.exit_code == 0, result.output
    assert "1 packet(s) expired" in result.output and "legal hold: kept" in result.output
    assert held["referral_id"] in result.output and "client(s)" not in result.output


# -- the statistics: anonymised after the erasure, kept for their own period ----------------------
async def test_statistics_outlive_the_erasure_anonymised_for_their_own_period(
    followup_app: Any,
    followup_api: httpx.AsyncClient,
    js: Any,
    counsellor: dict[str, str],
    lead: dict[str, str],
    org: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.cli import app as cli

    app = followup_app.state.application
    pool = followup_app.state.runtime.pool
    today = datetime.now(UTC).date()
    kept = await a_followup_with(
        app,
        js,
        org,
        accepted_on=today - timedelta(days=60),
        outcome="employed",
        outcome_on=today - timedelta(days=10),
        satisfaction=4,
    )
    left = await a_followup_with(
        app,
        js,
        org,
        accepted_on=today - timedelta(days=60),
        outcome="education",
        outcome_on=today - timedelta(days=10),
    )

    async def client_of(followup_id: uuid.UUID) -> uuid.UUID:
        found: uuid.UUID = await eventually(
            lambda: pool.fetchval(
                "SELECT client_id FROM followup.followups_view WHERE followup_id = $1",
                followup_id,
            ),
            "the follow-up in its view",
        )
        return found

    kept_client, left_client = await client_of(kept), await client_of(left)
    # Intake's acceptances reach follow-up over NATS: both cases' rows are there before
    # the erasure counts what it drops.
    await eventually(
        lambda: pool.fetchval(
            "SELECT count(*) = 2 FROM followup.accepted_cases a "
            "JOIN followup.followups_view f USING (case_id) WHERE f.followup_id = ANY($1)",
            [kept, left],
        ),
        "both acceptances in follow-up",
    )
    await consent_event(js, left_client, org, granted=False, position=2**62)
    await eventually(
        lambda: pool.fetchval(
            "SELECT withdrawn FROM followup.statistics_consents WHERE client_id = $1",
            left_client,
        ),
        "the withdrawn statistics consent",
    )
    period = {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}

    async def outcomes() -> dict[str, int]:
        r = await followup_api.get(f"{FOLLOWUP}/reports/outcomes", params=period, headers=lead)
        assert r.status_code == 200, r.text
        return dict(r.json()["outcomes"])

    async def archived() -> int:
        return int(
            await pool.fetchval(
                "SELECT count(*) FROM followup.statistics_archive WHERE organisation = $1", org
            )
        )

    assert await outcomes() == {"employed": 1}
    # What follow-up's reaction to ErasureRequested runs, in its one transaction.
    # Rows dropped as before: 3 check-ins, the follow-up, its accepted case (and the
    # withdrawn consent's row); the archived figure is not one of them.
    for client_id, rows in ((kept_client, 5), (left_client, 6)):
        dropped = await asyncio.to_thread(
            drop_client_rows, app, followup_consumers.ERASURE.statements, client_id
        )
        assert dropped == rows
    assert not await pool.fetchval(
        "SELECT count(*) FROM followup.followups_view WHERE client_id = ANY($1::uuid[])",
        [kept_client, left_client],
    )
    # The consenting client's figures stay, anonymised (no id at all); the other's go.
    assert await archived() == 1
    row = await pool.fetchrow(
        "SELECT * FROM followup.statistics_archive WHERE organisation = $1", org
    )
    assert (row["outcome"], row["days_to_outcome"], row["satisfaction"]) == ("employed", 50, 4)
    assert not {"client_id", "case_id", "followup_id", "counsellor"} & set(dict(row))
    assert await outcomes() == {"employed": 1}

    rule = policy(guidance_years=7, referral_packet_months=12)["statistics"]
    now = datetime.now(UTC)

    def job(at: datetime) -> StatisticsRetentionJob:
        return StatisticsRetentionJob(
            app, pool, rule=rule, interval_seconds=3600, clock=lambda: at, organisation=org
        )

    report = await job(now + timedelta(days=9 * 365)).run_once(apply=True)
    assert report is not None and report.figures == 0 and report.purge_id is None
    later = now + timedelta(days=11 * 365)
    dry = await job(later).run_once(apply=False)
    assert dry is not None and (dry.figures, dry.bottlenecks, dry.purge_id) == (1, 0, None)
    assert await archived() == 1, "a dry run deletes nothing"

    monkeypatch.setenv("GUIDANCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUIDANCE_NATS_URL", settings.nats_url)

    def waypoint(*args: str) -> Any:
        return CliRunner().invoke(
            cli, ["privacy", "retention", "--purpose", "statistics", *args, "--organisation", org]
        )

    result = await asyncio.to_thread(waypoint, "--apply", "--as-of", later.isoformat())
    assert result.exit_code == 0, result.output
    assert "1 figure(s) and 0 bottleneck(s) deleted (receipt" in result.output

    async def purged() -> bool:
        return await archived() == 0

    await eventually(purged, "the figures purged by the projection")
    assert await outcomes() == {}
    r = await followup_api.get(f"{FOLLOWUP}/retention", headers=lead)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["purpose"] for p in body["rules"]] == ["guidance", "referral_packet", "statistics"]
    assert body["archived_figures"] == 0 and body["oldest_figure_on"] is None
    [receipt] = [p for p in body["purges"] if p["rule"] == rule.text]
    assert (receipt["figures"], receipt["actor"]) == (1, "system:retention")
    r = await followup_api.get(f"{FOLLOWUP}/retention", headers=counsellor)
    assert_problem(r, 403, "forbidden")
