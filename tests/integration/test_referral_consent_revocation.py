"""A client's withdrawal of a referral consent, on the real PostgreSQL and NATS.

Intake publishes ConsentWithdrawn. As soon as that one event is delivered to referral
(its consent row reads granted=false) the packet and the letter are refused with
`consent-revoked`; then each referral resting on the consent gets its own
ConsentRevoked event, stored and published once: the counsellor and the partner see the
mark, the partner no longer sees the reason, and a proposed referral can no longer be
sent. A referral to another partner is untouched; the mark stays even when the client
consents again.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.scenarios import REFERRAL as BASE
from tests.scenarios import (
    a_case_known_to_referral,
    a_granted_consent,
    a_registered_partner,
    partner_headers,
    post_consent,
    propose,
    wait_consent,
)
from tests.support import assert_problem, eventually, published_for, subject_messages

CATEGORIES = ["identity", "contact", "career_question"]


async def revocations_stored(pool: Any, referral_id: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM referral.referral_events WHERE originator_id = $1 "
            "AND topic LIKE '%Referral.ConsentRevoked'",
            uuid.UUID(referral_id),
        )
    )


async def test_a_withdrawn_consent_revokes_every_referral_resting_on_it(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
    js: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    client_id, case_id = await a_case_known_to_referral(api, counsellor, pool)
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=5, accepted_categories=CATEGORIES
    )
    other_id = await a_registered_partner(
        referral_api, admin, capacity=5, accepted_categories=CATEGORIES
    )
    await a_granted_consent(api, pool, counsellor, client_id, partner_id, CATEGORIES)
    await a_granted_consent(api, pool, counsellor, client_id, other_id, CATEGORIES)
    # Two sent referrals and one proposal on the same consent; one to another partner.
    first = await propose(referral_api, counsellor, case_id, partner_id, CATEGORIES)
    second = await propose(referral_api, counsellor, case_id, partner_id, ["contact"])
    unsent = await propose(referral_api, counsellor, case_id, partner_id, CATEGORIES, send_it=False)
    elsewhere = await propose(referral_api, counsellor, case_id, other_id, CATEGORIES)
    ours = (first, second, unsent)
    partner = partner_headers(token, partner_id)
    other = partner_headers(token, other_id, sub="p-2")
    consent_id = (await referral_api.get(f"{BASE}/referrals/{first}", headers=counsellor)).json()[
        "consent_id"
    ]

    for rid in (first, second):
        r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
        assert r.status_code == 200, r.text
    r = await referral_api.get(f"{BASE}/referrals/{first}", headers=partner)
    assert r.json()["reason"] and r.json()["consent_revoked"] is False

    # The client withdraws in intake. Once that one event reached referral's consents,
    # nothing is served any more, whether or not the referral's own mark is stored yet.
    await post_consent(api, counsellor, client_id, partner_id=partner_id, granted=False)
    await wait_consent(pool, client_id, partner_id, False)
    for rid in (first, second):
        r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
        assert_problem(r, 403, "consent-revoked")
        for lang in ("en", "nl"):
            r = await referral_api.get(
                f"{BASE}/referrals/{rid}/letter", params={"lang": lang}, headers=counsellor
            )
            assert_problem(r, 403, "consent-revoked")
    r = await referral_api.get(f"{BASE}/referrals/{unsent}/letter", headers=counsellor)
    assert_problem(r, 403, "consent-revoked")

    # Then each referral on the consent gets its ConsentRevoked: stored once, published once.
    async def all_stored() -> bool:
        return all([await revocations_stored(pool, rid) >= 1 for rid in ours])

    await eventually(all_stored, "ConsentRevoked stored for each referral")
    for rid in ours:
        assert await revocations_stored(pool, rid) == 1

    async def all_published() -> dict[str, list[dict[str, Any]]] | None:
        found = {rid: await published_for(js, "ReferralConsentRevoked", rid) for rid in ours}
        return found if all(found.values()) else None

    published = await eventually(all_published, "ReferralConsentRevoked on NATS")
    for rid, messages in published.items():
        [message] = messages
        assert message["type"] == "guidance.referral.ReferralConsentRevoked.v1"
        assert message["subject"] == case_id
        data = message["data"]
        assert (data["referral_id"], data["case_id"], data["client_id"]) == (
            rid,
            case_id,
            client_id,
        )
        assert (data["partner_id"], data["consent_id"]) == (partner_id, consent_id)

    # The counsellor sees the mark (and still the reason); the status is unchanged.
    for rid, status in ((first, "sent"), (second, "sent"), (unsent, "proposed")):
        r = await referral_api.get(f"{BASE}/referrals/{rid}", headers=counsellor)
        body = r.json()
        assert (body["status"], body["consent_revoked"]) == (status, True), body
        assert body["reason"]
    # The partner sees the mark, no longer the reason, in the referral and in its inbox.
    r = await referral_api.get(f"{BASE}/referrals/{first}", headers=partner)
    assert r.status_code == 200, r.text
    assert (r.json()["consent_revoked"], r.json()["reason"]) == (True, None)

    async def inbox_marked() -> dict[str, dict[str, Any]] | None:
        r = await referral_api.get(f"{BASE}/referrals", headers=partner)
        items = {i["referral_id"]: i for i in r.json()}
        ok = set(items) == {first, second} and all(i["consent_revoked"] for i in items.values())
        return items if ok else None

    await eventually(inbox_marked, "the inbox showing the revocation")

    async def listed() -> bool:
        r = await referral_api.get(
            f"{BASE}/referrals", params={"case_id": case_id}, headers=counsellor
        )
        marks = {i["referral_id"]: i["consent_revoked"] for i in r.json()}
        return marks == {first: True, second: True, unsent: True, elsewhere: False}

    await eventually(listed, "the counsellor's list showing the revocation")
    # Filtered by the mark: the partner's list of withdrawn consents, the counsellor's too.
    r = await referral_api.get(
        f"{BASE}/referrals", params={"consent_revoked": "true"}, headers=partner
    )
    assert {i["referral_id"] for i in r.json()} == {first, second}, r.text
    assert r.headers["X-Total-Count"] == "2"
    r = await referral_api.get(
        f"{BASE}/referrals", params={"consent_revoked": "false"}, headers=partner
    )
    assert r.json() == [], r.text
    r = await referral_api.get(
        f"{BASE}/referrals",
        params={"case_id": case_id, "consent_revoked": "false"},
        headers=counsellor,
    )
    assert [i["referral_id"] for i in r.json()] == [elsewhere], r.text
    r = await referral_api.get(
        f"{BASE}/referrals", params={"consent_revoked": "maybe"}, headers=partner
    )
    assert_problem(r, 422, "validation-error", ("consent_revoked",))

    # The proposal resting on the withdrawn consent can no longer be sent.
    r = await referral_api.post(f"{BASE}/referrals/{unsent}/send", headers=counsellor)
    assert_problem(r, 409, "consent-revoked")
    r = await referral_api.get(f"{BASE}/referrals/{unsent}", headers=counsellor)
    assert r.json()["status"] == "proposed"

    # The referral to the other partner is untouched.
    r = await referral_api.get(f"{BASE}/referrals/{elsewhere}/packet", headers=other)
    assert r.status_code == 200, r.text
    assert r.json()["data_categories"] == CATEGORIES
    r = await referral_api.get(f"{BASE}/referrals/{elsewhere}", headers=other)
    assert (r.json()["consent_revoked"], r.json()["reason"] is not None) == (False, True)
    assert await revocations_stored(pool, elsewhere) == 0
    assert await published_for(js, "ReferralConsentRevoked", elsewhere) == []

    # Consenting again does not lift the mark: the revoked referrals stay closed to reads.
    await a_granted_consent(api, pool, counsellor, client_id, partner_id, CATEGORIES)
    r = await referral_api.get(f"{BASE}/referrals/{first}/packet", headers=partner)
    assert_problem(r, 403, "consent-revoked")
    r = await referral_api.post(f"{BASE}/referrals/{unsent}/send", headers=counsellor)
    assert_problem(r, 409, "consent-revoked")
    for rid in ours:
        assert await revocations_stored(pool, rid) == 1
        # Published once, even after all this time.
        assert len(await published_for(js, "ReferralConsentRevoked", rid)) == 1


async def test_a_withdrawal_for_another_partner_or_purpose_revokes_nothing(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
    js: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    client_id, case_id = await a_case_known_to_referral(api, counsellor, pool)
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=5, accepted_categories=CATEGORIES
    )
    other_id = str(uuid.uuid4())
    await a_granted_consent(api, pool, counsellor, client_id, partner_id, CATEGORIES)
    await a_granted_consent(api, pool, counsellor, client_id, other_id, ["identity"])
    rid = await propose(referral_api, counsellor, case_id, partner_id, CATEGORIES)

    await post_consent(api, counsellor, client_id, partner_id=other_id, granted=False)
    await wait_consent(pool, client_id, other_id, False)
    r = await api.post(
        f"/intake/v1/clients/{client_id}/consents",
        json={"purpose": "statistics", "granted": False},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    # Wait until referral's reaction to withdrawals has taken both in (its tracking
    # records the intake log positions it processed).
    withdrawals = [
        m
        for m in await subject_messages(js, "ConsentWithdrawn", "intake")
        if m["subject"] == client_id
    ]
    assert [m["data"]["purpose"] for m in withdrawals] == ["referral", "statistics"]
    positions = [int(m["position"]) for m in withdrawals]
    recorder = referral_app.state.application.process_recorder

    async def processed() -> bool:
        done = await asyncio.to_thread(recorder.tracked, "referral-consents", positions)
        return done == set(positions)

    await eventually(processed, "referral's reaction to both withdrawals")

    r = await referral_api.get(
        f"{BASE}/referrals/{rid}/packet", headers=partner_headers(token, partner_id)
    )
    assert r.status_code == 200, r.text
    assert r.json()["data_categories"] == CATEGORIES
    r = await referral_api.get(f"{BASE}/referrals/{rid}", headers=counsellor)
    assert r.json()["consent_revoked"] is False
    assert await revocations_stored(pool, rid) == 0
