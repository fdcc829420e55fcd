"""A referral's closed loop end to end, on the real PostgreSQL and NATS: the counsellor
proposes and sends, the partner finds it in its inbox, acknowledges, reads the packet,
accepts and reports an outcome, the counsellor closes it and records that guidance
resumes; every step is published on `guidance.referral.*`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.conftest import stream_messages
from tests.scenarios import REFERRAL as BASE
from tests.scenarios import a_sent_referral
from tests.support import assert_problem, bearer, eventually


async def test_the_loop_from_proposal_to_resumption(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
    js: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    w = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    rid, partner = w["referral_id"], w["partner"]

    r = await referral_api.get(f"{BASE}/referrals", headers=partner)
    assert r.status_code == 200, r.text
    inbox = r.json()
    assert [i["referral_id"] for i in inbox] == [rid]
    assert "client_id" not in inbox[0] and "case_id" not in inbox[0]
    assert inbox[0]["status"] == "sent"

    r = await referral_api.post(f"{BASE}/referrals/{rid}/acknowledge", headers=partner)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged"

    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
    assert r.status_code == 200, r.text
    packet = r.json()
    assert packet["identity"] == {
        "given_name": "Bram",
        "family_name": "Claes",
        "birth_date": "1985-02-03",
    }
    assert packet["contact"]["email"] == "bram.claes@example.org"
    assert packet["career_question"] == "Do I retrain as a nurse?"
    assert "assessments" not in packet and "plan" not in packet

    r = await referral_api.post(f"{BASE}/referrals/{rid}/accept", headers=partner)
    assert r.status_code == 200, r.text
    r = await referral_api.post(
        f"{BASE}/referrals/{rid}/outcome",
        json={"outcome": "completed", "notes": "Debt plan in place."},
        headers=partner,
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "completed"

    r = await referral_api.post(f"{BASE}/referrals/{rid}/close", headers=counsellor)
    assert r.status_code == 200, r.text
    r = await referral_api.post(
        f"{BASE}/referrals/{rid}/resumption",
        json={"resumes": True, "resume_on": "2030-01-07"},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "closed"
    assert body["outcome"]["outcome"] == "completed"
    assert body["resumption"]["resumes"] is True

    # Intake shows the case as resumed (from referral's GuidanceResumed).
    async def resumed() -> dict[str, Any] | None:
        r = await api.get(f"/intake/v1/cases/{w['case_id']}", headers=counsellor)
        case = r.json()
        return case if case.get("resumed") else None

    case = await eventually(resumed, "the case resumed in intake")
    assert case["resumption"]["resume_on"] == "2030-01-07"
    assert case["resumption"]["referral_id"] == rid

    # Closed: the packet is no longer served.
    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
    assert_problem(r, 409, "not-shared")

    wanted = {
        "ReferralProposed",
        "ReferralSent",
        "ReferralAcknowledged",
        "ReferralAccepted",
        "ReferralOutcomeReported",
        "ReferralClosed",
        "GuidanceResumed",
        "PartnerDataAccessed",
    }

    async def published() -> set[str] | None:
        seen = set()
        for m in await stream_messages(js, "GUIDANCE_REFERRAL"):
            data = json.loads(m.data)
            if data["data"].get("referral_id") == rid:
                seen.add(m.subject.rsplit(".", 1)[-1])
        return seen if wanted <= seen else None

    await eventually(published, "the loop's events on NATS")


async def test_a_partner_sees_only_its_own_referrals(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    w = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    stranger = bearer(token("partner", org="partner-org", partner_id=uuid.uuid4()))
    for method, path in (
        ("GET", f"/referrals/{w['referral_id']}"),
        ("GET", f"/referrals/{w['referral_id']}/packet"),
        ("POST", f"/referrals/{w['referral_id']}/acknowledge"),
    ):
        r = await referral_api.request(method, BASE + path, headers=stranger)
        assert_problem(r, 404, "not-found")
    r = await referral_api.get(f"{BASE}/referrals", headers=stranger)
    assert r.status_code == 200 and r.json() == []

    async def listed() -> bool:
        r = await referral_api.get(f"{BASE}/referrals", headers=w["partner"])
        return [i["referral_id"] for i in r.json()] == [w["referral_id"]]

    await eventually(listed, "the inbox")
