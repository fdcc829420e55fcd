"""Proposing, sending and withdrawing referrals against the real PostgreSQL and NATS.

A referral needs the case in the counsellor's organisation, an active partner with open
places that accepts the data categories, and a granted consent of the client to share
exactly those categories with exactly that partner. Consents and cases come from
intake's API and reach referral as events; each test waits until referral knows them.
A refused proposal stores nothing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from services.referral.queries import consent_for
from tests.conftest import stream_messages
from tests.scenarios import REFERRAL as BASE
from tests.scenarios import (
    WANTED,
    a_case_known_to_referral,
    a_partner,
    a_registered_partner,
    a_service,
    post_consent,
    proposal,
    unique,
    wait_consent,
)
from tests.support import assert_problem, bearer, eventually, new_org

# -- helpers ------------------------------------------------------------------------------------


async def referral_events(pool: Any) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM referral.referral_events WHERE topic LIKE '%:Referral.%'"
        )
    )


# -- the consent rules ------------------------------------------------------------------------
# Each step: (which partner, categories, granted); then whether the proposal is allowed.
CONSENT_RULES = {
    "no consent": ([], False),
    "consent for another partner": ([("other", WANTED, True)], False),
    "consent for fewer categories": ([("this", ["identity"], True)], False),
    "consent withdrawn": ([("this", WANTED, True), ("this", None, False)], False),
    "granted again": (
        [("this", WANTED, True), ("this", None, False), ("this", [*WANTED, "plan"], True)],
        True,
    ),
}


@pytest.mark.parametrize("steps, allowed", CONSENT_RULES.values(), ids=CONSENT_RULES.keys())
async def test_a_referral_needs_the_clients_consent_for_exactly_that_partner_and_categories(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    steps: list[tuple[str, list[str] | None, bool]],
    allowed: bool,
) -> None:
    pool = referral_app.state.runtime.pool
    client_id, case_id = await a_case_known_to_referral(api, counsellor, pool)
    partners = {
        "this": await a_registered_partner(referral_api, admin),
        "other": await a_registered_partner(referral_api, admin),
    }
    for which, categories, granted in steps:
        body: dict[str, Any] = {"partner_id": partners[which], "granted": granted}
        if categories is not None:
            body["data_categories"] = categories
        await post_consent(api, counsellor, client_id, **body)
    if steps:
        which, _, granted = steps[-1]
        row = await wait_consent(pool, client_id, partners[which], granted)
        if granted and which == "this":
            # The first grant also reads granted: wait for the latest one, and use it.
            await eventually(
                lambda: _granted_with(pool, client_id, partners["this"], steps[-1][1] or []),
                "the latest grant",
            )
            row = await wait_consent(pool, client_id, partners[which], granted)
    before = await referral_events(pool)

    r = await referral_api.post(
        f"{BASE}/referrals", json=proposal(case_id, partners["this"]), headers=counsellor
    )
    if not allowed:
        assert_problem(r, 409, "consent-required")
        assert await referral_events(pool) == before
        return
    assert r.status_code == 201, r.text
    referral_id = r.json()["referral_id"]
    got = await referral_api.get(f"{BASE}/referrals/{referral_id}", headers=counsellor)
    assert got.status_code == 200, got.text
    assert got.json()["consent_id"] == str(row["consent_id"])
    assert got.json()["data_categories"] == WANTED
    assert await referral_events(pool) == before + 1


async def _granted_with(pool: Any, client_id: str, partner_id: str, categories: list[str]) -> bool:
    found = await consent_for(pool, uuid.UUID(client_id), uuid.UUID(partner_id))
    return found is not None and sorted(found) == sorted(categories)


# -- the partner and the case -----------------------------------------------------------------
async def consenting_case(
    api: httpx.AsyncClient,
    counsellor: dict[str, str],
    pool: Any,
    partner_id: str,
    categories: list[str] = WANTED,
) -> str:
    client_id, case_id = await a_case_known_to_referral(api, counsellor, pool)
    await post_consent(
        api,
        counsellor,
        client_id,
        partner_id=partner_id,
        data_categories=categories,
        granted=True,
    )
    await wait_consent(pool, client_id, partner_id, True)
    return case_id


@pytest.mark.parametrize("state", ["inactive", "without capacity"])
async def test_an_inactive_or_full_partner_is_unavailable(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    state: str,
) -> None:
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=0 if state == "without capacity" else 3
    )
    if state == "inactive":
        r = await referral_api.post(f"{BASE}/partners/{partner_id}/deactivate", headers=admin)
        assert r.status_code == 200, r.text
    case_id = await consenting_case(api, counsellor, pool, partner_id)
    before = await referral_events(pool)
    r = await referral_api.post(
        f"{BASE}/referrals", json=proposal(case_id, partner_id), headers=counsellor
    )
    assert_problem(r, 409, "partner-unavailable")
    assert await referral_events(pool) == before


async def test_a_partner_registered_without_capacity_takes_referrals_without_counting_down(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    body = a_partner(services=[a_service(area=f"area-{unique()}")])
    del body["capacity"]
    r = await referral_api.post(f"{BASE}/partners", json=body, headers=admin)
    assert r.status_code == 201, r.text
    partner_id = str(r.json()["partner_id"])
    partner = bearer(token("partner", org="partner-org", sub="p-1", partner_id=partner_id))

    for _ in range(2):
        case_id = await consenting_case(api, counsellor, pool, partner_id)
        r = await referral_api.post(
            f"{BASE}/referrals", json=proposal(case_id, partner_id), headers=counsellor
        )
        assert r.status_code == 201, r.text
        referral_id = r.json()["referral_id"]
        r = await referral_api.post(f"{BASE}/referrals/{referral_id}/send", headers=counsellor)
        assert r.status_code == 200, r.text
        r = await referral_api.post(f"{BASE}/referrals/{referral_id}/accept", headers=partner)
        assert r.status_code == 200, r.text
    r = await referral_api.get(f"{BASE}/partners/{partner_id}", headers=counsellor)
    assert r.json()["open_places"] is None


async def test_a_partner_with_one_place_keeps_it_after_accepting(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    """Places are the partner's own figure (it sets them): accepting counts nothing down."""
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(referral_api, admin, capacity=1)
    partner = bearer(token("partner", org="partner-org", sub="p-1", partner_id=partner_id))
    case_id = await consenting_case(api, counsellor, pool, partner_id)
    r = await referral_api.post(
        f"{BASE}/referrals", json=proposal(case_id, partner_id), headers=counsellor
    )
    assert r.status_code == 201, r.text
    referral_id = r.json()["referral_id"]
    for step, who in (("send", counsellor), ("accept", partner)):
        r = await referral_api.post(f"{BASE}/referrals/{referral_id}/{step}", headers=who)
        assert r.status_code == 200, (step, r.text)
    r = await referral_api.get(f"{BASE}/partners/{partner_id}", headers=counsellor)
    assert r.json()["open_places"] == 1


async def test_a_partner_made_unlimited_again_takes_referrals(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
) -> None:
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(referral_api, admin, capacity=0)
    case_id = await consenting_case(api, counsellor, pool, partner_id)
    r = await referral_api.post(
        f"{BASE}/referrals", json=proposal(case_id, partner_id), headers=counsellor
    )
    assert_problem(r, 409, "partner-unavailable")
    r = await referral_api.put(
        f"{BASE}/partners/{partner_id}/capacity", json={"open_places": None}, headers=admin
    )
    assert (r.status_code, r.json()["open_places"]) == (200, None), r.text

    async def proposed() -> bool:
        r = await referral_api.post(
            f"{BASE}/referrals", json=proposal(case_id, partner_id), headers=counsellor
        )
        if r.status_code == 409:  # the directory has not seen the change yet
            return False
        assert r.status_code == 201, r.text
        return True

    await eventually(proposed, "the proposal to the partner made unlimited")


async def test_categories_the_partner_does_not_accept_are_refused(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
) -> None:
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(referral_api, admin, accepted_categories=["identity"])
    # Even with the client's consent: the partner does not take contact data.
    case_id = await consenting_case(api, counsellor, pool, partner_id)
    before = await referral_events(pool)
    r = await referral_api.post(
        f"{BASE}/referrals", json=proposal(case_id, partner_id), headers=counsellor
    )
    assert_problem(r, 422, "validation-error", ("data_categories",))
    assert await referral_events(pool) == before


async def test_another_organisations_case_reads_like_an_absent_one(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(referral_api, admin)
    case_id = await consenting_case(api, counsellor, pool, partner_id)
    stranger = bearer(token("counsellor", org=new_org(), sub="counsellor-2"))
    before = await referral_events(pool)
    seen = []
    for case in (case_id, str(uuid.uuid4())):
        r = await referral_api.post(
            f"{BASE}/referrals", json=proposal(case, partner_id), headers=stranger
        )
        body = assert_problem(r, 404, "not-found")
        seen.append({k: body[k] for k in ("type", "title", "status")})
    assert seen[0] == seen[1]  # "another's" reads exactly like "absent"
    assert await referral_events(pool) == before


# -- the journey --------------------------------------------------------------------------------
async def test_a_counsellor_proposes_sends_and_withdraws_a_referral(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
    js: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(referral_api, admin)
    case_id = await consenting_case(api, counsellor, pool, partner_id)

    r = await referral_api.post(
        f"{BASE}/referrals",
        json=proposal(case_id, partner_id, data_categories=["contact", "identity"]),
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    referral_id = r.json()["referral_id"]
    assert r.json()["version"] == 1 and r.headers["etag"] == '"1"'
    assert r.headers["location"].endswith(f"{BASE}/referrals/{referral_id}")

    got = await referral_api.get(f"{BASE}/referrals/{referral_id}", headers=counsellor)
    assert got.status_code == 200, got.text
    out = got.json()
    assert out["status"] == "proposed" and out["case_id"] == case_id
    assert out["partner_id"] == partner_id and out["data_categories"] == WANTED
    assert out["reason"] == "Debts stand in the way of any training plan."

    # Another organisation's counsellor sees and changes nothing.
    stranger = bearer(token("counsellor", org=new_org(), sub="counsellor-2"))
    for method, path, body in (
        ("GET", "", None),
        ("POST", "/send", None),
        ("POST", "/withdraw", {"reason": "not mine"}),
    ):
        r = await referral_api.request(
            method, f"{BASE}/referrals/{referral_id}{path}", json=body, headers=stranger
        )
        assert_problem(r, 404, "not-found")

    r = await referral_api.post(
        f"{BASE}/referrals/{referral_id}/send", headers={**counsellor, "If-Match": '"7"'}
    )
    assert r.status_code == 409, r.text
    r = await referral_api.post(
        f"{BASE}/referrals/{referral_id}/send", headers={**counsellor, "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "sent" and r.headers["etag"] == '"2"'
    r = await referral_api.post(f"{BASE}/referrals/{referral_id}/send", headers=counsellor)
    assert_problem(r, 409, "not-proposed")

    r = await referral_api.post(
        f"{BASE}/referrals/{referral_id}/withdraw",
        json={"reason": "The client found help elsewhere."},
        headers={**counsellor, "If-Match": '"2"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn" and r.json()["version"] == 3
    assert r.json()["withdrawal_reason"] == "The client found help elsewhere."
    r = await referral_api.post(
        f"{BASE}/referrals/{referral_id}/withdraw", json={"reason": "again"}, headers=counsellor
    )
    assert_problem(r, 409, "not-withdrawable")

    # Published, with the reasons sealed (the reads of the referral above are recorded
    # and published too, as PartnerDataAccessed: not the referral's own events).
    async def published() -> list[dict[str, Any]]:
        messages = await stream_messages(js, "GUIDANCE_REFERRAL")
        mine = [json.loads(m.data) for m in messages]
        mine = [
            e
            for e in mine
            if e["data"].get("referral_id") == referral_id
            and e["type"] != "guidance.referral.PartnerDataAccessed.v1"
        ]
        return mine if len(mine) == 3 else []

    events = await eventually(published, "the referral's events on the stream")
    assert [e["type"] for e in events] == [
        "guidance.referral.ReferralProposed.v1",
        "guidance.referral.ReferralSent.v1",
        "guidance.referral.ReferralWithdrawn.v1",
    ]
    assert {e["subject"] for e in events} == {case_id}
    for e in (events[0], events[2]):
        assert isinstance(e["data"]["reason"], dict), e
        assert "Debts" not in json.dumps(e) and "elsewhere" not in json.dumps(e)
    assert events[0]["data"]["data_categories"] == WANTED


# -- who may ----------------------------------------------------------------------------------
async def test_only_counsellors_propose_and_staff_read_referrals(
    referral_api: httpx.AsyncClient, token: Any
) -> None:
    body = proposal(str(uuid.uuid4()), str(uuid.uuid4()))
    some = str(uuid.uuid4())
    paths = (
        ("POST", "/referrals", body),
        ("GET", f"/referrals/{some}", None),
        ("POST", f"/referrals/{some}/send", None),
        ("POST", f"/referrals/{some}/withdraw", {"reason": "x"}),
    )
    for method, path, payload in paths:
        r = await referral_api.request(method, BASE + path, json=payload)
        assert_problem(r, 401, "unauthorized")
        for role, claims in (("partner", {"partner_id": str(uuid.uuid4())}), ("auditor", {})):
            headers = bearer(token(role, org="org-x", **claims))
            r = await referral_api.request(method, BASE + path, json=payload, headers=headers)
            if role == "partner" and method == "GET":
                # A partner reads its own referrals; another's is absent.
                assert_problem(r, 404, "not-found")
            else:
                assert_problem(r, 403, "forbidden")
