"""Every read of a client's data under a referral is recorded exactly once, on the real
PostgreSQL and NATS: N packet or letter reads make N DataAccess records in referral's
event store and N PartnerDataAccessed messages on GUIDANCE_REFERRAL (who, as which role,
for which partner and purpose, through which resource, which categories); a refused
read (another partner, a withdrawn consent, a closed referral) records nothing. An
auditor lists the same reads in referral's access log, one entry per read, newest first.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from eventsourcing.persistence import StoredEvent

from tests.scenarios import (
    CATEGORIES,
    a_granted_consent,
    a_sent_referral,
    post_consent,
    wait_consent,
)
from tests.scenarios import REFERRAL as BASE
from tests.support import assert_problem, bearer, eventually, published_for

ACCESS_LOG = f"{BASE}/audit/access-log"
# Long enough for the relay (polling every 0.2 s) to publish anything still pending.
SETTLE_SECONDS = 1.0


# The reads this module is about; a read of the referral's own view (`referral`, made by
# the polls below) is recorded too, see test_every_read_recorded.py.
SHARED = ("packet", "letter")


async def access_records(referral_app: Any, referral_id: str) -> list[dict[str, Any]]:
    """The packet and letter reads in referral's event store for this referral, in log
    order."""
    app = referral_app.state.application
    rows = await referral_app.state.runtime.pool.fetch(
        "SELECT originator_id, originator_version, topic, state FROM referral.referral_events "
        "WHERE topic LIKE '%DataAccess%' ORDER BY notification_id"
    )
    out = []
    for row in rows:
        state = app.sealing.decode_state(
            StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
        )
        if str(state.get("referral_id")) == referral_id and state["resource"] in SHARED:
            out.append({**state, "access_id": str(row["originator_id"])})
    return out


async def accessed_on_nats(js: Any, referral_id: str, expected: int) -> list[dict[str, Any]]:
    """The PartnerDataAccessed messages of the referral's packet and letter reads, once
    `expected` are there and the relay had time to publish any more."""

    async def shared() -> list[dict[str, Any]]:
        found = await published_for(js, "PartnerDataAccessed", referral_id)
        return [m["data"] for m in found if m["data"]["resource"] in SHARED]

    async def enough() -> list[dict[str, Any]] | None:
        found = await shared()
        return found if len(found) >= expected else None

    if expected:
        await eventually(enough, f"{expected} PartnerDataAccessed")
    await asyncio.sleep(SETTLE_SECONDS)
    return await shared()


def assert_record(
    record: dict[str, Any],
    w: dict[str, Any],
    *,
    actor: str,
    role: str,
    organisation: str,
    resource: str,
    categories: list[str],
) -> None:
    """One read, as the event store or the message holds it (ids as strings or UUIDs)."""
    got = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in record.items()}
    assert got["client_id"] == w["client_id"]
    assert got["case_id"] == w["case_id"]
    assert got["referral_id"] == w["referral_id"]
    assert got["partner_id"] == w["partner_id"]
    assert (got["actor"], got["role"], got["organisation"]) == (actor, role, organisation)
    assert (got["purpose"], got["resource"]) == ("referral", resource)
    assert list(got["categories"]) == categories


async def test_each_packet_and_letter_read_is_recorded_once_and_refused_reads_not_at_all(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    org: str,
    token: Any,
    js: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    w = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    rid, partner = w["referral_id"], w["partner"]
    assert await access_records(referral_app, rid) == []

    packet_reads = []
    for _ in range(3):
        r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
        assert r.status_code == 200, r.text
        packet_reads.append(r.json()["access_id"])
    assert len(set(packet_reads)) == 3
    for lang in ("en", "nl"):
        r = await referral_api.get(
            f"{BASE}/referrals/{rid}/letter", params={"lang": lang}, headers=counsellor
        )
        assert r.status_code == 200, r.text

    # Refused: another partner, staff of another organisation, then a closed referral.
    stranger = bearer(token("partner", org="partner-org", partner_id=str(uuid.uuid4())))
    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=stranger)
    assert_problem(r, 404, "not-found")
    outsider = bearer(token("counsellor", org=f"{org}-other", sub="counsellor-9"))
    r = await referral_api.get(f"{BASE}/referrals/{rid}/letter", headers=outsider)
    assert_problem(r, 404, "not-found")
    r = await referral_api.get(f"{BASE}/referrals/{rid}/letter", headers=partner)
    assert r.status_code == 403, r.text
    for path, body in (
        ("accept", None),
        ("outcome", {"outcome": "completed"}),
    ):
        r = await referral_api.post(f"{BASE}/referrals/{rid}/{path}", json=body, headers=partner)
        assert r.status_code == 200, r.text
    r = await referral_api.post(f"{BASE}/referrals/{rid}/close", headers=counsellor)
    assert r.status_code == 200, r.text
    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
    assert_problem(r, 409, "not-shared")
    r = await referral_api.get(f"{BASE}/referrals/{rid}/letter", headers=counsellor)
    assert_problem(r, 409, "not-shared")

    # The event store: exactly the five reads, each as who made it.
    records = await access_records(referral_app, rid)
    assert len(records) == 5, records
    assert [r["resource"] for r in records] == ["packet"] * 3 + ["letter"] * 2
    assert [r["access_id"] for r in records[:3]] == packet_reads
    for record in records[:3]:
        assert_record(
            record,
            w,
            actor="p-1",
            role="partner",
            organisation="partner-org",
            resource="packet",
            categories=CATEGORIES,
        )
    for record in records[3:]:
        assert_record(
            record,
            w,
            actor="counsellor-1",
            role="counsellor",
            organisation=org,
            resource="letter",
            categories=CATEGORIES,
        )

    # NATS: one PartnerDataAccessed per read, the same reads.
    messages = await accessed_on_nats(js, rid, 5)
    assert len(messages) == 5, messages
    assert [m["access_id"] for m in messages] == [r["access_id"] for r in records]
    for message, record in zip(messages, records, strict=True):
        assert_record(
            message,
            w,
            actor=record["actor"],
            role=record["role"],
            organisation=record["organisation"],
            resource=record["resource"],
            categories=CATEGORIES,
        )


async def test_reads_refused_after_a_withdrawal_are_not_recorded(
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
    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
    assert r.status_code == 200, r.text
    # Narrowed: the read records the categories actually served.
    await a_granted_consent(api, pool, counsellor, w["client_id"], w["partner_id"], ["contact"])
    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
    assert r.status_code == 200, r.text
    assert r.json()["data_categories"] == ["contact"]

    await post_consent(api, counsellor, w["client_id"], partner_id=w["partner_id"], granted=False)
    await wait_consent(pool, w["client_id"], w["partner_id"], False)
    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
    assert_problem(r, 403, "consent-revoked")
    r = await referral_api.get(f"{BASE}/referrals/{rid}/letter", headers=counsellor)
    assert_problem(r, 403, "consent-revoked")

    async def revoked() -> bool:
        r = await referral_api.get(f"{BASE}/referrals/{rid}", headers=counsellor)
        return bool(r.json()["consent_revoked"])

    await eventually(revoked, "the referral marked revoked")
    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=partner)
    assert_problem(r, 403, "consent-revoked")

    records = await access_records(referral_app, rid)
    assert [(r["resource"], list(r["categories"])) for r in records] == [
        ("packet", CATEGORIES),
        ("packet", ["contact"]),
    ]
    messages = await accessed_on_nats(js, rid, 2)
    assert [m["categories"] for m in messages] == [CATEGORIES, ["contact"]]


async def test_an_auditor_lists_each_read_once_newest_first(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    org: str,
    token: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    w = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    rid, partner = w["referral_id"], w["partner"]
    for path, headers in (
        ("packet", partner),
        ("letter?lang=en", counsellor),
        ("packet", partner),
    ):
        r = await referral_api.get(f"{BASE}/referrals/{rid}/{path}", headers=headers)
        assert r.status_code == 200, r.text
    stranger = bearer(token("partner", org="partner-org", partner_id=str(uuid.uuid4())))
    r = await referral_api.get(f"{BASE}/referrals/{rid}/packet", headers=stranger)
    assert_problem(r, 404, "not-found")
    records = await access_records(referral_app, rid)
    assert len(records) == 3

    auditor = bearer(token("auditor", org="audit-office", sub="auditor-1", audit_scope="*"))
    r = await referral_api.get(ACCESS_LOG, params={"client_id": w["client_id"]}, headers=auditor)
    assert r.status_code == 200, r.text
    entries = r.json()
    assert r.headers["x-total-count"] == "3"
    # One entry per read, newest first.
    assert [e["access_id"] for e in entries] == [rec["access_id"] for rec in reversed(records)]
    assert [e["occurred_at"] for e in entries] == sorted(
        (e["occurred_at"] for e in entries), reverse=True
    )
    fields = {
        "access_id",
        "client_id",
        "case_id",
        "referral_id",
        "actor",
        "role",
        "organisation",
        "partner_id",
        "purpose",
        "resource",
        "categories",
        "occurred_at",
    }
    for entry, record in zip(entries, reversed(records), strict=True):
        assert fields <= set(entry), entry
        assert_record(
            entry,
            w,
            actor=record["actor"],
            role=record["role"],
            organisation=record["organisation"],
            resource=record["resource"],
            categories=CATEGORIES,
        )
    assert [e["resource"] for e in entries] == ["packet", "letter", "packet"]
    assert entries[1]["organisation"] == org and entries[1]["role"] == "counsellor"

    # Reading the log is no read of the client's data: it does not grow.
    r = await referral_api.get(ACCESS_LOG, params={"client_id": w["client_id"]}, headers=auditor)
    assert [e["access_id"] for e in r.json()] == [e["access_id"] for e in entries]
    # Another client's log holds none of these; only auditors (and admins) read it.
    r = await referral_api.get(ACCESS_LOG, params={"client_id": str(uuid.uuid4())}, headers=auditor)
    assert r.status_code == 200 and r.json() == []
    for headers in (counsellor, partner):
        r = await referral_api.get(
            ACCESS_LOG, params={"client_id": w["client_id"]}, headers=headers
        )
        assert r.status_code == 403, r.text
