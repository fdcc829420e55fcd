"""The team lead's outcomes report, from follow-up's read models."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.followup.domain import FollowUp
from tests.scenarios import a_followup_with, at, consent_event, publish_case_accepted

BASE = "/followup/v1"


async def test_the_outcomes_report_counts_the_period_for_the_team_leads_organisation(
    followup_app: Any, followup_api: httpx.AsyncClient, js: Any, token: Any
) -> None:
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    org = f"org-{uuid.uuid4().hex[:6]}"
    ids = [
        await a_followup_with(
            app,
            js,
            org,
            accepted_on=date(2026, 1, 1),
            outcome="employed",
            outcome_on=date(2026, 3, 2),
            contract="fixed_term",
            satisfaction=5,
            failed_contacts=3,
        ),
        await a_followup_with(
            app,
            js,
            org,
            accepted_on=date(2026, 1, 1),
            outcome="employed",
            outcome_on=date(2026, 4, 1),
            satisfaction=3,
            improved=False,
        ),
        await a_followup_with(
            app,
            js,
            org,
            accepted_on=date(2026, 2, 1),
            outcome="education",
            outcome_on=date(2026, 3, 3),
        ),
        await a_followup_with(
            app,
            js,
            org,
            accepted_on=date(2026, 2, 1),
            outcome="still_searching",
            outcome_on=date(2026, 3, 3),
        ),
        # Outside the period: counts nowhere.
        await a_followup_with(
            app,
            js,
            org,
            accepted_on=date(2025, 1, 1),
            outcome="none",
            outcome_on=date(2025, 6, 1),
            satisfaction=1,
        ),
    ]
    for _ in range(200):
        ready = await pool.fetchval(
            "SELECT count(*) FROM followup.followups_view f JOIN followup.accepted_cases a "
            "USING (case_id) WHERE f.followup_id = ANY($1) AND f.outcome IS NOT NULL",
            ids,
        )
        if ready == len(ids):
            break
        await asyncio.sleep(0.05)
    lead = {"Authorization": f"Bearer {token('team_lead', org=org)}"}
    r = await followup_api.get(
        f"{BASE}/reports/outcomes", params={"from": "2026-01-01", "to": "2026-12-31"}, headers=lead
    )
    assert r.status_code == 200, r.text
    report = r.json()
    # Plain dates keep meaning the same days (both included); the answer echoes the
    # period used as RFC 3339 times, [from, to).
    assert report["from"] == "2026-01-01T00:00:00Z" and report["to"] == "2027-01-01T00:00:00Z"
    assert report["followups_with_outcome"] == 4
    assert report["outcomes"] == {"employed": 2, "education": 1, "still_searching": 1}
    # The jobs by contract: one named, one not.
    assert report["employment_contracts"] == {"fixed_term": 1, "unknown": 1}
    # Days from acceptance to outcome: 60, 90, 30, 30 → median 45.
    assert report["median_days_acceptance_to_outcome"] == 45.0
    assert report["share_with_bottleneck"] == round(1 / 4, 3)
    assert report["feedback"] == {
        "count": 2,
        "satisfaction_average": 4.0,
        "self_knowledge_improved_share": 0.5,
        "confidence_improved_share": 0.5,
    }
    # Another organisation's team lead sees none of it.
    other = {"Authorization": f"Bearer {token('team_lead', org='org-elsewhere')}"}
    r = await followup_api.get(
        f"{BASE}/reports/outcomes", params={"from": "2026-01-01", "to": "2026-12-31"}, headers=other
    )
    assert r.json()["followups_with_outcome"] == 0 and r.json()["outcomes"] == {}


async def test_the_report_is_for_team_leads_and_needs_a_proper_period(
    followup_api: httpx.AsyncClient, token: Any
) -> None:
    lead = {"Authorization": f"Bearer {token('team_lead')}"}
    counsellor = {"Authorization": f"Bearer {token('counsellor')}"}
    period = {"from": "2026-01-01", "to": "2026-02-01"}
    r = await followup_api.get(f"{BASE}/reports/outcomes", params=period, headers=counsellor)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = await followup_api.get(
        f"{BASE}/reports/outcomes", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=lead
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["from"]
    r = await followup_api.get(f"{BASE}/reports/outcomes", params={"from": "x"}, headers=lead)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["from"]
    # A time without its offset: 422 naming the field.
    for field in ("from", "to"):
        naive = {**period, field: f"{period[field]}T00:00:00"}
        r = await followup_api.get(f"{BASE}/reports/outcomes", params=naive, headers=lead)
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
    r = await followup_api.get(f"{BASE}/reports/outcomes", params=period)
    assert r.status_code == 401


async def test_the_report_without_dates_covers_the_last_90_days_and_says_so(
    followup_app: Any, followup_api: httpx.AsyncClient, js: Any, token: Any
) -> None:
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    org = f"org-{uuid.uuid4().hex[:6]}"
    today = datetime.now(UTC).date()
    ids = [
        await a_followup_with(
            app,
            js,
            org,
            accepted_on=today - timedelta(days=40),
            outcome="employed",
            outcome_on=today - timedelta(days=10),
        ),
        # Older than 90 days: outside the default period.
        await a_followup_with(
            app,
            js,
            org,
            accepted_on=today - timedelta(days=200),
            outcome="education",
            outcome_on=today - timedelta(days=120),
        ),
    ]
    for _ in range(200):
        ready = await pool.fetchval(
            "SELECT count(*) FROM followup.followups_view WHERE followup_id = ANY($1) "
            "AND outcome IS NOT NULL",
            ids,
        )
        if ready == len(ids):
            break
        await asyncio.sleep(0.05)
    lead = {"Authorization": f"Bearer {token('team_lead', org=org)}"}
    before = datetime.now(UTC)
    r = await followup_api.get(f"{BASE}/reports/outcomes", headers=lead)
    after = datetime.now(UTC)
    assert r.status_code == 200, r.text
    report = r.json()
    start, end = datetime.fromisoformat(report["from"]), datetime.fromisoformat(report["to"])
    assert before <= end <= after and end - start == timedelta(days=90)
    assert report["outcomes"] == {"employed": 1}
    # Only `to`: from = to - 90 days; only `from`: to = now.
    r = await followup_api.get(
        f"{BASE}/reports/outcomes", params={"to": "2026-03-31"}, headers=lead
    )
    assert r.status_code == 200, r.text
    assert (r.json()["from"], r.json()["to"]) == ("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z")
    r = await followup_api.get(
        f"{BASE}/reports/outcomes", params={"from": "2026-01-31T09:00:00+01:00"}, headers=lead
    )
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["from"]) == datetime(2026, 1, 31, 8, tzinfo=UTC)
    assert datetime.fromisoformat(r.json()["to"]) >= after


async def test_an_outcome_dated_before_the_cases_acceptance_is_refused_and_changes_nothing(
    followup_app: Any, followup_api: httpx.AsyncClient, js: Any, token: Any
) -> None:
    """The issue's scenario: an outcome a day before the acceptance was recorded, and the
    team lead's report showed a median of -1.0 days from acceptance to outcome."""
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    org = f"org-{uuid.uuid4().hex[:6]}"
    accepted_on = date(2026, 3, 10)
    # One follow-up with an outcome 30 days after acceptance, one without an outcome yet.
    done = await a_followup_with(
        app, js, org, accepted_on=accepted_on, outcome="employed", outcome_on=date(2026, 4, 9)
    )
    case_id = uuid.uuid4()
    await publish_case_accepted(js, case_id, org, accepted_on)
    fresh = FollowUp.open(
        case_id=case_id,
        client_id=uuid.uuid4(),
        organisation=org,
        counsellor="counsellor-1",
        agreed_on=accepted_on + timedelta(days=20),
        plan_version=1,
        actions=[],
        at=at(accepted_on + timedelta(days=20)),
    )
    await asyncio.to_thread(app.save, fresh)
    for _ in range(200):
        ready = await pool.fetchval(
            "SELECT count(*) FROM followup.followups_view f JOIN followup.accepted_cases a "
            "USING (case_id) WHERE f.followup_id = ANY($1)",
            [done, fresh.id],
        )
        if ready == 2:
            break
        await asyncio.sleep(0.05)
    assert ready == 2
    lead = {"Authorization": f"Bearer {token('team_lead', org=org)}"}
    counsellor = {"Authorization": f"Bearer {token('counsellor', org=org)}"}
    period = {"from": "2026-01-01", "to": "2026-12-31"}
    before = (
        await followup_api.get(f"{BASE}/reports/outcomes", params=period, headers=lead)
    ).json()
    assert before["median_days_acceptance_to_outcome"] == 30.0

    r = await followup_api.post(
        f"{BASE}/followups/{fresh.id}/outcome",
        json={"outcome": "employed", "on": "2026-03-09"},
        headers=counsellor,
    )

    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    [error] = r.json()["errors"]
    assert error["field"] == "on"
    assert "before the case was accepted on 2026-03-10" in error["message"]
    r = await followup_api.get(f"{BASE}/followups/{fresh.id}", headers=counsellor)
    assert r.status_code == 200 and r.json()["outcome"] is None and r.json()["version"] == 1
    await asyncio.sleep(0.3)  # the projection would have had time to count it
    after = (await followup_api.get(f"{BASE}/reports/outcomes", params=period, headers=lead)).json()
    assert after == before
    # In the future: refused as well; on the day of acceptance: recorded (0 days).
    r = await followup_api.post(
        f"{BASE}/followups/{fresh.id}/outcome",
        json={
            "outcome": "employed",
            "on": (datetime.now(UTC).date() + timedelta(days=2)).isoformat(),
        },
        headers=counsellor,
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["on"]
    r = await followup_api.post(
        f"{BASE}/followups/{fresh.id}/outcome",
        json={"outcome": "employed", "on": "2026-03-10"},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text


async def test_the_report_has_the_months_the_days_histogram_and_the_bottlenecks_per_kind(
    followup_app: Any, followup_api: httpx.AsyncClient, js: Any, token: Any
) -> None:
    """Known answers: an empty month, bucket edges (30 and 60 days fall in the bucket they
    start), a client who withdrew the `statistics` consent and another organisation left out."""
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    org = f"org-{uuid.uuid4().hex[:6]}"

    async def one(
        accepted: date, outcome: str, on: date, failed: int = 0, at_org: str = org
    ) -> uuid.UUID:
        return await a_followup_with(
            app,
            js,
            at_org,
            accepted_on=accepted,
            outcome=outcome,
            outcome_on=on,
            failed_contacts=failed,
        )

    ids = [
        # 60 days, and unreachable (three failed contacts on 2026-01-22): one bottleneck.
        await one(date(2026, 1, 1), "employed", date(2026, 3, 2), failed=3),
        await one(date(2026, 2, 1), "education", date(2026, 3, 3)),  # 30 days
        await one(date(2026, 2, 1), "employed", date(2026, 2, 10)),  # 9 days
        await one(date(2025, 10, 1), "employed", date(2026, 4, 1)),  # 182 days
        # The client withdraws the statistics consent: in no figure, nor its bottleneck.
        await one(date(2026, 1, 1), "none", date(2026, 2, 15), failed=3),
        # Another organisation's: not counted.
        await one(date(2026, 1, 1), "employed", date(2026, 3, 2), failed=3, at_org="org-other"),
    ]
    withdrawn = await eventually_row(
        pool, "SELECT client_id FROM followup.followups_view WHERE followup_id = $1", ids[4]
    )
    await consent_event(js, withdrawn, org, granted=False, position=2**61 + 1)
    for _ in range(200):
        ready = await pool.fetchval(
            "SELECT (SELECT count(*) FROM followup.followups_view f JOIN followup.accepted_cases "
            "USING (case_id) WHERE f.followup_id = ANY($1) AND f.outcome IS NOT NULL) "
            "+ (SELECT count(*) FROM followup.bottlenecks_view WHERE followup_id = ANY($1)) "
            "+ (SELECT count(*) FROM followup.statistics_consents WHERE client_id = $2)",
            ids,
            withdrawn,
        )
        if ready == len(ids) + 3 + 1:
            break
        await asyncio.sleep(0.05)
    assert ready == len(ids) + 3 + 1
    lead = {"Authorization": f"Bearer {token('team_lead', org=org)}"}

    r = await followup_api.get(
        f"{BASE}/reports/outcomes", params={"from": "2026-01-01", "to": "2026-04-30"}, headers=lead
    )

    assert r.status_code == 200, r.text
    report = r.json()
    assert report["followups_with_outcome"] == 4
    assert report["by_month"] == [
        {"month": "2026-01", "outcomes": {}},
        {"month": "2026-02", "outcomes": {"employed": 1}},
        {"month": "2026-03", "outcomes": {"employed": 1, "education": 1}},
        {"month": "2026-04", "outcomes": {"employed": 1}},
    ]
    assert report["days_to_outcome"] == [
        {"from_days": 0, "to_days": 30, "count": 1},
        {"from_days": 30, "to_days": 60, "count": 1},
        {"from_days": 60, "to_days": 90, "count": 1},
        {"from_days": 90, "to_days": 180, "count": 0},
        {"from_days": 180, "to_days": None, "count": 1},
    ]
    assert report["bottlenecks"] == {"unreachable": 1}
    # A period of part of one month: that month only; the bottleneck's day lies outside it.
    r = await followup_api.get(
        f"{BASE}/reports/outcomes",
        params={"from": "2026-03-02T12:00:00+01:00", "to": "2026-03-05"},
        headers=lead,
    )
    report = r.json()
    assert report["by_month"] == [{"month": "2026-03", "outcomes": {"education": 1}}]
    assert [b["count"] for b in report["days_to_outcome"]] == [0, 1, 0, 0, 0]
    assert report["bottlenecks"] == {}


async def eventually_row(pool: Any, query: str, *args: Any) -> Any:
    for _ in range(200):
        found = await pool.fetchval(query, *args)
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no row for {query}")
