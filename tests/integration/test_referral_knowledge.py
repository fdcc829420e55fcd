"""What referral knows comes from intake's and planning's events, over the real NATS:
referral consents (granted, withdrawn, granted again; per partner), the cases, and the
copies a packet may carry, sealed as published and opening with the client's key.
Redelivered events change nothing, and an older consent event never undoes a newer one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from services.referral.queries import case_info, consent_for, packet_sources
from shared.messaging.envelope import CloudEvent
from shared.privacy.sealing import open_sealed
from tests.conftest import stream_messages
from tests.scenarios import (
    CLIENT_SCORES,
    COUNSELLOR_SCORES,
    a_goal,
    an_accepted_case,
    an_action,
    post_consent,
    send,
    wait_consent,
    wait_for_plan,
)
from tests.support import bearer, eventually, new_org

ALL = ["identity", "contact", "career_question", "assessments", "plan"]


async def table_counts(pool: Any, client_id: uuid.UUID) -> dict[str, int]:
    out = {}
    for table in ("consents", "cases", "sealed_copies"):
        out[table] = int(
            await pool.fetchval(
                f"SELECT count(*) FROM referral.{table} WHERE client_id = $1", client_id
            )
        )
    return out


def envelopes(messages: list[Any], *subjects: str) -> list[tuple[CloudEvent, int]]:
    wanted = set(subjects)
    return [
        (CloudEvent.from_bytes(m.data), m.seq)
        for m in messages
        if json.loads(m.data)["subject"] in wanted
    ]


async def test_referral_consents_follow_intake_granted_withdrawn_and_granted_again(
    api: httpx.AsyncClient, referral_app: Any, token: Any, js: Any
) -> None:
    pool = referral_app.state.runtime.pool
    headers = bearer(token("counsellor", org=new_org()))
    client_id, _ = await an_accepted_case(api, headers)
    partner, other = str(uuid.uuid4()), str(uuid.uuid4())
    cid, pid = uuid.UUID(client_id), uuid.UUID(partner)

    await post_consent(
        api,
        headers,
        client_id,
        partner_id=partner,
        data_categories=["identity", "plan"],
        granted=True,
    )
    row = await wait_consent(pool, client_id, partner, True)
    assert sorted(row["data_categories"]) == ["identity", "plan"]
    assert row["purpose"] == "referral" and row["organisation"].startswith("org-")
    assert sorted(await consent_for(pool, cid, pid) or []) == ["identity", "plan"]
    # A consent for another partner does not count for this one, nor the other way round.
    assert await consent_for(pool, cid, uuid.UUID(other)) is None

    await post_consent(api, headers, client_id, partner_id=partner, granted=False)
    await wait_consent(pool, client_id, partner, False)
    assert await consent_for(pool, cid, pid) is None

    await post_consent(
        api, headers, client_id, partner_id=partner, data_categories=["contact"], granted=True
    )
    await wait_consent(pool, client_id, partner, True)
    assert await consent_for(pool, cid, pid) == ["contact"]

    await post_consent(
        api, headers, client_id, partner_id=other, data_categories=["plan"], granted=True
    )
    await wait_consent(pool, client_id, other, True)
    assert await consent_for(pool, cid, pid) == ["contact"]
    assert await consent_for(pool, cid, uuid.UUID(other)) == ["plan"]

    # An older event, delivered late (under a new id, so it is not a mere duplicate),
    # does not undo the newer state: the first grant, then the withdrawal.
    consumer = referral_app.state.consumers["referral-intake"]
    ours = [
        e
        for e, _ in envelopes(await stream_messages(js, "GUIDANCE_INTAKE"), client_id)
        if e.event_type in ("ConsentGranted", "ConsentWithdrawn")
        and e.data.get("partner_id") == partner
    ]
    assert [e.event_type for e in ours] == ["ConsentGranted", "ConsentWithdrawn", "ConsentGranted"]
    for old in ours[:2]:
        late = old.model_copy(update={"id": uuid.uuid4()})
        assert await consumer.apply(late, 0) is True
    assert await consent_for(pool, cid, pid) == ["contact"]


async def test_copies_are_sealed_open_to_the_registered_values_and_redelivery_adds_nothing(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    referral_app: Any,
    token: Any,
    js: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    vault = referral_app.state.application.vault
    transcoder = referral_app.state.application.sealing.transcoder
    org = new_org()
    headers = bearer(token("counsellor", org=org))
    client_id, case_id = await an_accepted_case(
        api, headers, given_name="Bram", family_name="Jacobs"
    )
    cid, case = uuid.UUID(client_id), uuid.UUID(case_id)

    async def accepted() -> dict[str, Any] | None:
        info = await case_info(pool, case)
        return info if info is not None and info["accepted"] else None

    info = await eventually(accepted, "the accepted case")
    assert (info["client_id"], info["organisation"]) == (cid, org)

    async def assessed() -> list[dict[str, Any]] | None:
        rows = await packet_sources(pool, case, ["assessments"])
        return rows if len(rows) == 2 else None

    scores = await eventually(assessed, "both assessments")
    by_assessor = {r["detail"]["assessor"]: r["value"] for r in scores}
    assert by_assessor == {"client": CLIENT_SCORES, "counsellor": COUNSELLOR_SCORES}

    copies = await packet_sources(pool, case, ["identity", "contact", "career_question"])
    assert {(c["category"], c["field"]) for c in copies} == {
        ("identity", "given_name"),
        ("identity", "family_name"),
        ("identity", "birth_date"),
        ("contact", "email"),
        ("career_question", "career_question"),
    }
    opened = {}
    for c in copies:
        assert set(c["value"]) == {"$sealed", "kid", "ct"}, c
        plain = open_sealed(vault, c["value"], c["event_id"], c["field"])
        assert plain is not None
        opened[c["field"]] = str(transcoder.decode(plain)["v"])
    assert opened == {
        "given_name": "Bram",
        "family_name": "Jacobs",
        "birth_date": "1990-05-17",
        "email": "anna.peeters@example.org",
        "career_question": "Should I move from logistics?",
    }
    # No plaintext anywhere in the table.
    dump = await pool.fetchval(
        "SELECT string_agg(value::text || coalesce(detail::text, ''), ' ') "
        "FROM referral.sealed_copies WHERE client_id = $1",
        cid,
    )
    for secret in ("Bram", "Jacobs", "1990-05-17", "anna.peeters", "logistics"):
        assert secret not in dump
    # Only the categories asked for.
    assert {c["category"] for c in await packet_sources(pool, case, ["contact"])} == {"contact"}
    assert await packet_sources(pool, case, []) == []
    assert await packet_sources(pool, uuid.uuid4(), ALL) == []

    # The plan: agreed in planning, its summary and goal titles reach referral.
    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "combined"})
    goal = await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, a_goal(), 201)
    action = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{goal['goal_id']}/actions",
        headers,
        an_action(),
        201,
    )
    for party in ("client", "counsellor"):
        agreed = await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", headers, {"party": party}
        )
    assert agreed["status"] == "agreed"

    async def plan_copies() -> list[dict[str, Any]] | None:
        rows = await packet_sources(pool, case, ["plan"])
        return rows if {r["field"] for r in rows} == {"title", "summary"} else None

    plan = {r["field"]: r for r in await eventually(plan_copies, "the plan summary")}
    summary = plan["summary"]["value"]
    # `version` is the agreed revision of the plan (PlanAgreed's), not the aggregate's.
    assert summary["plan_id"] == plan_id and isinstance(summary["version"], int)
    [agreed_action] = summary["actions"]
    assert agreed_action["owner"] == "client" and agreed_action["status"] == "open"
    assert agreed_action["due_date"] == an_action()["due_date"]
    assert "description" not in agreed_action
    title = plan["title"]
    assert plan["title"]["detail"]["goal_id"] == goal["goal_id"]
    assert set(title["value"]) == {"$sealed", "kid", "ct"}
    raw = open_sealed(vault, title["value"], title["event_id"], "title")
    assert raw is not None and transcoder.decode(raw)["v"] == a_goal()["title"]
    assert action  # the action is in the summary without its (personal) description

    # Redelivery of every event of this client, case and plan changes nothing.
    before = await table_counts(pool, cid)
    consumers = referral_app.state.consumers
    for stream, consumer in (
        ("GUIDANCE_INTAKE", consumers["referral-intake"]),
        ("GUIDANCE_PLANNING", consumers["referral-planning"]),
    ):
        again = [
            (e, seq)
            for e, seq in envelopes(await stream_messages(js, stream), client_id, case_id)
            if e.event_type in consumer.event_types
        ]
        assert again
        for event, seq in again:
            assert await consumer.apply(event, seq) is False
    assert await table_counts(pool, cid) == before
