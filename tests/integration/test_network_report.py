"""The team lead's network report: per partner, the figures of the organisation's referrals
sent in a period, from referral's read models (one grouped query), by the partner's name."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.scenarios import (
    CATEGORIES,
    INTAKE,
    REFERRAL,
    a_case_known_to_referral,
    a_granted_consent,
    a_registered_partner,
    partner_headers,
    propose,
)
from tests.support import INVALID, assert_problem, bearer, eventually, new_org

START = datetime(2033, 3, 1, tzinfo=UTC)
PERIOD = {"from": "2033-03-01", "to": "2033-03-31"}
H = timedelta(hours=1)


@pytest.fixture
def pin_clock(referral_app: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set referral's own clock (what its commands stamp); restored after the test."""
    app = referral_app.state.application

    def pin(moment: datetime) -> None:
        monkeypatch.setattr(app, "clock", lambda: moment)

    return pin


async def test_the_network_report_gives_each_partners_figures_by_name(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    token: Any,
    pin_clock: Callable[[datetime], None],
) -> None:
    """Known answers: two partners by name, a partner with no referral in the period left
    out, a client who withdrew the `statistics` consent and another organisation's
    referral not counted."""
    pool = referral_app.state.runtime.pool
    org = new_org()
    counsellor = bearer(token("counsellor", org=org, sub="c-net"))
    lead = bearer(token("team_lead", org=org, sub="lead-net"))
    tag = uuid.uuid4().hex[:6]
    zeta, alpha, unused = [
        await a_registered_partner(
            referral_api, admin, name=f"{name} {tag}", capacity=20, accepted_categories=CATEGORIES
        )
        for name in ("Zeta Training", "Alpha Care", "Unused Partner")
    ]

    async def a_client(headers: dict[str, str]) -> tuple[str, str]:
        client_id, case_id = await a_case_known_to_referral(api, headers, pool)
        for partner_id in (zeta, alpha, unused):
            await a_granted_consent(api, pool, headers, client_id, partner_id, CATEGORIES)
        return client_id, case_id

    async def refer(
        headers: dict[str, str], case_id: str, partner_id: str, sent: datetime, *steps: Any
    ) -> None:
        pin_clock(sent)
        rid = await propose(referral_api, headers, case_id, partner_id, CATEGORIES)
        partner = partner_headers(token, partner_id)
        for after, action, body in steps:
            pin_clock(sent + after)
            r = await referral_api.post(
                f"{REFERRAL}/referrals/{rid}/{action}", json=body, headers=partner
            )
            assert r.status_code == 200, (action, r.text)

    _, case = await a_client(counsellor)
    day = timedelta(days=1)
    await refer(
        counsellor,
        case,
        zeta,
        START + day,
        (2 * H, "acknowledge", None),
        (4 * H, "accept", None),
        (5 * H, "outcome", {"outcome": "completed"}),
    )
    await refer(counsellor, case, zeta, START + 2 * day, (8 * H, "decline", {"reason": "Full."}))
    await refer(counsellor, case, alpha, START + 3 * day, (6 * H, "accept", None))
    # Before the period: the unused partner is not listed.
    await refer(counsellor, case, unused, START - 9 * day, (H, "accept", None))
    # A client who withdrew the statistics consent: not counted.
    withdrawn, withdrawn_case = await a_client(counsellor)
    r = await api.post(
        f"{INTAKE}/clients/{withdrawn}/consents",
        json={"purpose": "statistics", "granted": False},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    await eventually(
        lambda: pool.fetchval(
            "SELECT withdrawn FROM referral.statistics_consents WHERE client_id = $1",
            uuid.UUID(withdrawn),
        ),
        "the withdrawal in referral's read model",
    )
    await refer(
        counsellor, withdrawn_case, alpha, START + 4 * day, (H, "decline", {"reason": "No."})
    )
    # Another organisation's referral to the same partner: not counted.
    elsewhere = bearer(token("counsellor", org=new_org(), sub="c-else"))
    _, other_case = await a_client(elsewhere)
    await refer(elsewhere, other_case, alpha, START + 5 * day, (H, "decline", {"reason": "No."}))

    r = await referral_api.get(f"{REFERRAL}/reports/network", params=PERIOD, headers=lead)

    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["from"], report["to"]) == ("2033-03-01T00:00:00Z", "2033-04-01T00:00:00Z")
    assert report["partners"] == [
        {
            "partner_id": alpha,
            "name": f"Alpha Care {tag}",
            "referrals": 1,
            "acknowledged": 1,
            "answered": 1,
            "accepted": 1,
            "declined": 0,
            "withdrawn": 0,
            "overdue": 0,
            "acceptance_rate": 1.0,
            "median_hours_to_acknowledgement": 6.0,
            "median_hours_to_answer": 6.0,
            "outcomes": {},
        },
        {
            "partner_id": zeta,
            "name": f"Zeta Training {tag}",
            "referrals": 2,
            "acknowledged": 2,
            "answered": 2,
            "accepted": 1,
            "declined": 1,
            "withdrawn": 0,
            "overdue": 0,
            "acceptance_rate": 0.5,
            "median_hours_to_acknowledgement": 5.0,
            "median_hours_to_answer": 6.0,
            "outcomes": {"completed": 1},
        },
    ]
    # A period without referrals: no partner.
    r = await referral_api.get(
        f"{REFERRAL}/reports/network",
        params={"from": "2033-06-01", "to": "2033-06-30"},
        headers=lead,
    )
    assert r.json()["partners"] == []


async def test_the_network_report_is_for_team_leads_and_needs_a_proper_period(
    referral_api: httpx.AsyncClient, token: Any
) -> None:
    lead = bearer(token("team_lead"))
    path = f"{REFERRAL}/reports/network"
    for role in ("counsellor", "admin", "directory_admin"):
        r = await referral_api.get(path, params=PERIOD, headers=bearer(token(role)))
        assert_problem(r, 403, "forbidden")
    r = await referral_api.get(
        path, params=PERIOD, headers=bearer(token("partner", partner_id=uuid.uuid4()))
    )
    assert_problem(r, 403, "forbidden")
    r = await referral_api.get(
        path, params={"from": "2033-02-01", "to": "2033-01-01"}, headers=lead
    )
    assert_problem(r, 422, INVALID, ("from",))
    r = await referral_api.get(path, params={"to": "2033-13-01"}, headers=lead)
    assert_problem(r, 422, INVALID, ("to",))
    r = await referral_api.get(path, params={"from": "2033-01-01T00:00:00"}, headers=lead)
    assert_problem(r, 422, INVALID, ("from",))
    assert (await referral_api.get(path, params=PERIOD)).status_code == 401
