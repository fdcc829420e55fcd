"""Referral's overdue job on the real PostgreSQL and NATS, with a moved clock.

A partner has 5 working days (Monday to Friday, holidays excepted) after the sending to
accept or decline. The job is built as `main.py` builds it, with an injected clock, and
run once at a time. A referral is marked once (one BecameOverdue, one ReferralOverdue on
NATS); answered or withdrawn referrals never are; the partner's inbox filters on it.

The job looks at every referral awaiting an answer in the session's database, so each
test checks only its own referrals in what a run marked. Sending is done either at the
real now (the moved clock is computed from the referral's `sent_at`) or, to send on a
given weekday, with referral's own clock pinned to a day years ahead (beyond anything
the service's own job, on the real clock, would mark).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from services.referral.domain import add_working_days
from services.referral.jobs import OverdueJob
from tests.scenarios import (
    CATEGORIES,
    a_case_known_to_referral,
    a_granted_consent,
    a_registered_partner,
    partner_headers,
    propose,
)
from tests.scenarios import REFERRAL as BASE
from tests.support import eventually, published_for

FRIDAY = date(2031, 1, 3)
WORKING_DAYS = 5


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def job(referral_app: Any, now: datetime, holidays: list[date] | None = None) -> OverdueJob:
    """The job as main.py builds it, with the clock at `now`."""
    return OverdueJob(
        referral_app.state.application,
        referral_app.state.runtime.pool,
        interval_seconds=3600,
        working_days=WORKING_DAYS,
        holidays=holidays or [],
        clock=lambda: now,
    )


async def run(referral_app: Any, now: datetime, holidays: list[date] | None = None) -> list[str]:
    """One pass; the ids it marked. (A pass of the service's own job holds the lock for a
    moment: then try again.)"""
    for _ in range(50):
        marked = await job(referral_app, now, holidays).run_once()
        if marked is not None:
            return [str(m) for m in marked]
        await asyncio.sleep(0.1)
    raise AssertionError("the overdue job's lock stayed taken")


async def overdue_events(pool: Any, referral_id: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM referral.referral_events WHERE originator_id = $1 "
            "AND topic LIKE '%Referral.BecameOverdue'",
            uuid.UUID(referral_id),
        )
    )


async def show(referral_api: httpx.AsyncClient, rid: str, headers: dict[str, str]) -> Any:
    r = await referral_api.get(f"{BASE}/referrals/{rid}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def pin_clock(referral_app: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set referral's own clock (what its commands stamp); restored after the test."""
    app = referral_app.state.application

    def pin(moment: datetime) -> None:
        monkeypatch.setattr(app, "clock", lambda: moment)

    return pin


async def sent_to(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    pool: Any,
    counsellor: dict[str, str],
    partner_id: str,
) -> str:
    """A new client's case referred and sent to the partner."""
    client_id, case_id = await a_case_known_to_referral(api, counsellor, pool)
    await a_granted_consent(api, pool, counsellor, client_id, partner_id, CATEGORIES)
    return await propose(referral_api, counsellor, case_id, partner_id, CATEGORIES)


async def test_sent_on_a_friday_it_is_overdue_after_the_next_friday_and_raised_once(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
    js: Any,
    pin_clock: Callable[[datetime], None],
) -> None:
    assert FRIDAY.weekday() == 4
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=10, accepted_categories=CATEGORIES
    )
    partner = partner_headers(token, partner_id)
    pin_clock(at(FRIDAY, 10))
    late = await sent_to(api, referral_api, pool, counsellor, partner_id)
    acknowledged = await sent_to(api, referral_api, pool, counsellor, partner_id)
    accepted = await sent_to(api, referral_api, pool, counsellor, partner_id)
    declined = await sent_to(api, referral_api, pool, counsellor, partner_id)
    withdrawn = await sent_to(api, referral_api, pool, counsellor, partner_id)
    for rid, path, body, headers in (
        (acknowledged, "acknowledge", None, partner),
        (accepted, "accept", None, partner),
        (declined, "decline", {"reason": "No places in January."}, partner),
        (withdrawn, "withdraw", {"reason": "The client found a job."}, counsellor),
    ):
        r = await referral_api.post(f"{BASE}/referrals/{rid}/{path}", json=body, headers=headers)
        assert r.status_code == 200, r.text
    assert (await show(referral_api, late, counsellor))["sent_at"].startswith("2031-01-03T10:00")
    awaiting = {late, acknowledged}
    answered = {accepted, declined, withdrawn}
    ours = awaiting | answered

    # Friday + 5 working days = the next Friday: the last day to answer.
    due = FRIDAY + timedelta(days=7)
    assert add_working_days(FRIDAY, WORKING_DAYS) == due
    for moment in (at(FRIDAY + timedelta(days=3)), at(due, 0), at(due, 23)):
        assert not ours & set(await run(referral_app, moment))
    assert (await show(referral_api, late, counsellor))["overdue"] is False

    # The Monday after: late (acknowledged or not), and only the two awaiting an answer.
    monday = due + timedelta(days=3)
    assert monday.weekday() == 0
    assert ours & set(await run(referral_app, at(monday, 8))) == awaiting
    for rid in awaiting:
        body = await show(referral_api, rid, counsellor)
        assert (body["overdue"], body["overdue_since"]) == (True, due.isoformat())
        assert (await show(referral_api, rid, partner))["overdue"] is True
    # Raised once: a second run marks nothing, one event stored, one message published.
    assert await run(referral_app, at(monday, 9)) == []
    assert not ours & set(await run(referral_app, at(monday + timedelta(days=30))))
    for rid in awaiting:
        assert await overdue_events(pool, rid) == 1

    async def published() -> dict[str, list[dict[str, Any]]] | None:
        found = {rid: await published_for(js, "ReferralOverdue", rid) for rid in awaiting}
        return found if all(found.values()) else None

    messages = await eventually(published, "ReferralOverdue on NATS")
    await asyncio.sleep(1.0)  # the relay polls every 0.2 s: anything more would be out
    for rid in awaiting:
        [message] = await published_for(js, "ReferralOverdue", rid)
        assert message == messages[rid][0]
        data = message["data"]
        assert (data["referral_id"], data["partner_id"]) == (rid, partner_id)
        assert data["due_on"] == due.isoformat()
    # Answered or withdrawn: never marked, however late.
    for rid in answered:
        assert (await show(referral_api, rid, counsellor))["overdue"] is False
        assert await overdue_events(pool, rid) == 0
        assert await published_for(js, "ReferralOverdue", rid) == []

    # The partner's inbox filters on it.
    async def inbox(overdue: bool) -> set[str]:
        r = await referral_api.get(
            f"{BASE}/referrals", params={"overdue": str(overdue).lower()}, headers=partner
        )
        assert r.status_code == 200, r.text
        return {i["referral_id"] for i in r.json()}

    async def filtered() -> bool:
        return await inbox(True) == awaiting and await inbox(False) == answered

    await eventually(filtered, "the inbox filtered on overdue")
    r = await referral_api.get(
        f"{BASE}/referrals", params={"overdue": "true", "status": "sent"}, headers=partner
    )
    assert [i["referral_id"] for i in r.json()] == [late]
    assert r.json()[0]["overdue_since"] == due.isoformat()
    # The late answer is still possible, and the mark stays.
    r = await referral_api.post(f"{BASE}/referrals/{late}/accept", headers=partner)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["overdue"]) == ("accepted", True)


async def test_holidays_push_the_last_day_to_answer(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    pin_clock: Callable[[datetime], None],
) -> None:
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=10, accepted_categories=CATEGORIES
    )
    friday = FRIDAY + timedelta(days=14)
    pin_clock(at(friday, 15))
    rid = await sent_to(api, referral_api, pool, counsellor, partner_id)
    # The Monday and Wednesday after are holidays: the last day moves to the Tuesday after
    # the next Friday.
    holidays = [friday + timedelta(days=3), friday + timedelta(days=5)]
    due = friday + timedelta(days=11)
    assert due.weekday() == 1
    assert add_working_days(friday, WORKING_DAYS, holidays) == due

    without = friday + timedelta(days=10)  # late without the holidays
    assert rid not in await run(referral_app, at(without), holidays)
    assert rid not in await run(referral_app, at(due, 23), holidays)
    assert (await show(referral_api, rid, counsellor))["overdue"] is False
    assert rid in await run(referral_app, at(due + timedelta(days=1), 1), holidays)
    body = await show(referral_api, rid, counsellor)
    assert (body["overdue"], body["overdue_since"]) == (True, due.isoformat())
    assert await overdue_events(pool, rid) == 1


async def test_sent_now_it_is_overdue_the_day_after_its_last_working_day(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    """At the real now: the moved clock follows from the referral's own `sent_at`."""
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=10, accepted_categories=CATEGORIES
    )
    rid = await sent_to(api, referral_api, pool, counsellor, partner_id)
    sent = datetime.fromisoformat((await show(referral_api, rid, counsellor))["sent_at"])
    sent_on = sent.astimezone(UTC).date()
    # A holiday on the first working day after the sending pushes the last day by one.
    first = add_working_days(sent_on, 1)
    due = add_working_days(sent_on, WORKING_DAYS, [first])
    assert due == add_working_days(sent_on, WORKING_DAYS + 1)

    assert rid not in await run(referral_app, at(due, 23), [first])
    assert rid in await run(referral_app, at(due + timedelta(days=1), 0), [first])
    assert await run(referral_app, at(due + timedelta(days=1), 1), [first]) == []
    body = await show(referral_api, rid, counsellor)
    assert (body["overdue"], body["overdue_since"]) == (True, due.isoformat())
    assert await overdue_events(pool, rid) == 1

    async def listed() -> bool:
        r = await referral_api.get(
            f"{BASE}/referrals",
            params={"overdue": "true"},
            headers=partner_headers(token, partner_id),
        )
        return [i["referral_id"] for i in r.json()] == [rid]

    await eventually(listed, "the overdue referral in the inbox")
