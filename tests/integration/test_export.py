"""A client's export (GDPR Art. 15 / 20) on the real PostgreSQL and NATS: intake gives its
own part and gathers planning's, follow-up's and referral's over NATS request-reply.

Every seeded item appears with its personal values opened, the recipients name the
partner with its categories and consent and the packet it read, and the export is
itself recorded. A service that does not answer (or answers an error) fails the export
with 504 `export-incomplete` naming it, and nothing partial is returned. Another
organisation's client and an erased one are absent; auditors and partners may not ask.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from eventsourcing.utils import get_topic
from fastapi import FastAPI

from services.referral.queries import case_info
from shared.audit.access import DataAccess
from shared.contracts.export import ClientExport
from shared.contracts.export import schema as export_schema
from shared.privacy.export import ExportResponder, ExportUnavailable
from shared.privacy.gathering import gather_export
from shared.settings import Settings
from tests.conftest import running
from tests.scenarios import (
    CLIENT_SCORES,
    COUNSELLOR_SCORES,
    a_goal,
    a_partner,
    a_service,
    agree_both,
    an_action,
    eventually_followup,
    proposal,
    send,
    unique,
    wait_consent,
    wait_for_plan,
)
from tests.support import assert_problem, bearer, eventually, new_org

INTAKE = "/intake/v1"
REFERRAL = "/referral/v1"
FU = "/followup/v1"
CATEGORIES = ["identity", "contact", "career_question"]
ACCESS_TOPIC = get_topic(DataAccess.Recorded)

CLIENT = {
    "given_name": "Lotte",
    "family_name": "Verbeek",
    "birth_date": "1988-11-23",
    "email": "lotte.verbeek@example.org",
    "phone": "+32 470 12 34 56",
    "preferred_language": "nl",
}
QUESTION = "Can I move from hospitality into teaching?"
ENTRY_NOTES = "Motivated; available in the evenings"
DECISION_REASON = "Fits the guidance programme"
CONTACT_NOTES = "Called Lotte about the school visit"
REFERRAL_REASON = "Debts stand in the way of any training plan."


def export_path(client_id: str) -> str:
    return f"{INTAKE}/clients/{client_id}/export"


async def ok(client: httpx.AsyncClient, method: str, path: str, headers: Any, **kw: Any) -> Any:
    r = await client.request(method, path, headers=headers, **kw)
    assert r.status_code < 300, (method, path, r.text)
    return r.json()


async def registered(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A client with a guidance consent."""
    client_id = str((await ok(api, "POST", f"{INTAKE}/clients", headers, json=CLIENT))["client_id"])
    await ok(
        api,
        "POST",
        f"{INTAKE}/clients/{client_id}/consents",
        headers,
        json={"purpose": "guidance", "granted": True},
    )
    return client_id


async def seed(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_pool: Any,
    admin: dict[str, str],
    token: Any,
) -> dict[str, Any]:
    """A client taken through intake, planning, follow-up and referral: the ids of
    everything seeded."""
    org = new_org()
    headers = bearer(token("counsellor", org=org, sub="counsellor-7"))
    client_id = await registered(api, headers)
    case_id = str(
        (
            await ok(
                api,
                "POST",
                f"{INTAKE}/cases",
                headers,
                json={"client_id": client_id, "career_question": QUESTION},
            )
        )["case_id"]
    )
    case = f"{INTAKE}/cases/{case_id}"
    await ok(
        api, "POST", f"{case}/entry-check", headers, json={"eligible": True, "notes": ENTRY_NOTES}
    )
    assessment_id = (
        await ok(
            api,
            "POST",
            f"{case}/assessments",
            headers,
            json={"assessor": "client", "scores": CLIENT_SCORES},
        )
    )["assessment_id"]
    await ok(
        api,
        "POST",
        f"{case}/assessments",
        headers,
        json={"assessor": "counsellor", "scores": COUNSELLOR_SCORES},
    )
    held_at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    session_id = (
        await ok(
            api,
            "POST",
            f"{case}/sessions",
            headers,
            json={"kind": "intake", "held_at": held_at, "minutes": 45},
        )
    )["session_id"]
    await ok(
        api,
        "POST",
        f"{case}/decision",
        headers,
        json={"decision": "accept", "reason": DECISION_REASON},
    )

    # Planning: a plan of one goal and one action, agreed by both.
    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "combined"})
    goal_id = (await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, a_goal(), 201))[
        "goal_id"
    ]
    action_id = (
        await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/goals/{goal_id}/actions",
            headers,
            an_action(),
            201,
        )
    )["action_id"]
    agreed = await agree_both(planning_api, headers, plan_id)

    # Follow-up: opened by the agreement; a contact with notes.
    followup_id = (await eventually_followup(followup_api, headers, case_id))["followup_id"]
    contact_id = (
        await ok(
            followup_api,
            "POST",
            f"{FU}/followups/{followup_id}/contacts",
            headers,
            json={"channel": "phone", "reached": True, "notes": CONTACT_NOTES},
        )
    )["id"]

    # Referral: a consent for the partner, a sent referral, and the partner's packet read.
    partner_name = f"Schuldhulp {unique()}"
    partner_id = str(
        (
            await ok(
                referral_api,
                "POST",
                f"{REFERRAL}/partners",
                admin,
                json=a_partner(
                    name=partner_name,
                    services=[a_service(area=f"area-{unique()}")],
                    accepted_categories=CATEGORIES,
                ),
            )
        )["partner_id"]
    )
    consent_id = (
        await ok(
            api,
            "POST",
            f"{INTAKE}/clients/{client_id}/consents",
            headers,
            json={
                "purpose": "referral",
                "partner_id": partner_id,
                "data_categories": CATEGORIES,
                "granted": True,
            },
        )
    )["consent_id"]
    await wait_consent(referral_pool, client_id, partner_id, True)
    await eventually(lambda: case_info(referral_pool, uuid.UUID(case_id)), "the case in referral")
    referral_id = (
        await ok(
            referral_api,
            "POST",
            f"{REFERRAL}/referrals",
            headers,
            json=proposal(case_id, partner_id, data_categories=CATEGORIES),
        )
    )["referral_id"]
    await ok(referral_api, "POST", f"{REFERRAL}/referrals/{referral_id}/send", headers)
    partner = bearer(token("partner", org="partner-org", sub="p-7", partner_id=partner_id))
    packet = await ok(referral_api, "GET", f"{REFERRAL}/referrals/{referral_id}/packet", partner)
    return {
        "org": org,
        "headers": headers,
        "client_id": client_id,
        "case_id": case_id,
        "assessment_id": assessment_id,
        "session_id": session_id,
        "plan_id": plan_id,
        "goal_id": goal_id,
        "action_id": action_id,
        "agreed_revision": agreed["revision"],
        "followup_id": followup_id,
        "contact_id": contact_id,
        "partner_id": partner_id,
        "partner_name": partner_name,
        "consent_id": consent_id,
        "referral_id": referral_id,
        "access_id": packet["access_id"],
    }


def export_reads(intake_app: FastAPI, client_id: str) -> list[DataAccess.Recorded]:
    """The reads recorded in intake's event store for the client with resource export."""
    app = intake_app.state.application
    out = []
    for n in app.recorder.select_notifications(1, 100_000, topics=[ACCESS_TOPIC]):
        event = app.mapper.to_domain_event(n)
        if str(event.client_id) == client_id and event.resource == "export":
            out.append(event)
    return out


# -- completeness -------------------------------------------------------------------------------
async def test_the_export_holds_everything_seeded_in_the_four_services_opened(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: FastAPI,
    intake_app: FastAPI,
    admin: dict[str, str],
    token: Any,
    nats_client: Any,
) -> None:
    w = await seed(
        api,
        planning_api,
        followup_api,
        referral_api,
        referral_app.state.runtime.pool,
        admin,
        token,
    )
    # Every message on NATS while the export is gathered (requests and their answers).
    seen: list[bytes] = []

    async def overheard(msg: Any) -> None:
        seen.append(msg.data)

    spy = await nats_client.subscribe(">", cb=overheard)
    await nats_client.flush()
    r = await api.get(export_path(w["client_id"]), headers=w["headers"])
    await spy.unsubscribe()
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    doc = r.json()
    # The answers crossed NATS sealed to the asker's key: no personal value in the clear.
    answers = [m for m in seen if b'"sealed"' in m]
    assert len(answers) == 3, "planning, follow-up and referral answered"
    personal = [v for k, v in CLIENT.items() if k != "preferred_language"]
    for value in [*personal, QUESTION, ENTRY_NOTES, CONTACT_NOTES, REFERRAL_REASON]:
        assert not any(value.encode() in m for m in seen), value
    ClientExport.model_validate(doc)  # the published model (and so its schema)
    assert doc["client_id"] == w["client_id"]
    assert doc["generated_by"] == {
        "subject": "counsellor-7",
        "organisation": w["org"],
        "role": "counsellor",
    }
    assert doc["schema"].endswith("/intake/v1/schemas/client-export.json")
    assert set(doc["services"]) == {"intake", "planning", "followup", "referral"}

    # Intake: the client opened, consents (current and history), the case in full.
    intake = doc["services"]["intake"]
    client = intake["client"]
    for field, value in CLIENT.items():
        assert client[field] == value, field
    assert client["registered_by"] == "counsellor-7"
    current = {c["purpose"]: c for c in intake["consents"]["current"]}
    assert current["guidance"]["granted"] is True
    assert current["referral"]["consent_id"] == w["consent_id"]
    assert current["referral"]["data_categories"] == sorted(CATEGORIES)
    assert [h["purpose"] for h in intake["consents"]["history"]] == ["guidance", "referral"]
    [case] = intake["cases"]
    assert case["case_id"] == w["case_id"]
    assert case["career_question"] == QUESTION
    assert case["entry_check"]["eligible"] is True
    assert case["entry_check"]["notes"] == ENTRY_NOTES
    assert [a["assessor"] for a in case["assessments"]] == ["client", "counsellor"]
    assert case["assessments"][0]["assessment_id"] == w["assessment_id"]
    assert case["assessments"][0]["scores"] == CLIENT_SCORES
    [session] = case["sessions"]
    assert (session["session_id"], session["minutes"]) == (w["session_id"], 45)
    assert case["hours_used"] == 0.75
    assert case["decision"]["decision"] == "accept"
    assert case["decision"]["reason"] == DECISION_REASON
    assert case["status"] == "accepted"
    assert case["phase"] in ("deepening", "synthesis", "aftercare")
    assert intake["erasure"] is None

    # Planning: the plan, its goal and action (owner), the agreement and agreed version.
    planning = doc["services"]["planning"]
    assert planning["client"]["given_name"] == CLIENT["given_name"]
    [plan] = planning["plans"]
    assert (plan["plan_id"], plan["case_id"]) == (w["plan_id"], w["case_id"])
    assert (plan["plan_type"], plan["status"]) == ("combined", "agreed")
    [goal] = plan["goals"]
    assert goal["goal_id"] == w["goal_id"] and goal["priority"] == 1
    for field in ("title", "specific", "measure"):
        assert goal[field] == a_goal()[field], field
    [action] = goal["actions"]
    assert action["action_id"] == w["action_id"]
    assert action["description"] == an_action()["description"]
    assert action["owner"] == "client"
    assert set(plan["agreements"]) == {"client", "counsellor"}
    [version] = plan["agreed_versions"]
    assert (version["version"], version["revision"]) == (1, w["agreed_revision"])
    assert version["content"]["goals"][0]["title"] == a_goal()["title"]
    kinds = [e["type"] for e in plan["history"]]
    assert kinds[0] == "Created" and "GoalAdded" in kinds and kinds[-1] == "Agreed"
    [added] = [e for e in plan["history"] if e["type"] == "GoalAdded"]
    assert added["data"]["title"] == a_goal()["title"]  # opened in the history too

    # Follow-up: check-ins and the contact with its notes opened.
    [followup] = doc["services"]["followup"]["followups"]
    assert followup["followup_id"] == w["followup_id"]
    assert len(followup["checkins"]) == 3
    [contact] = followup["contacts"]
    assert contact["contact_id"] == w["contact_id"]
    assert (contact["channel"], contact["reached"]) == ("phone", True)
    assert contact["notes"] == CONTACT_NOTES
    assert [a["action_id"] for a in followup["actions"]] == [w["action_id"]]

    # Referral: the referral opened, with the partner's name and its history.
    referral = doc["services"]["referral"]
    [item] = referral["referrals"]
    assert item["referral_id"] == w["referral_id"]
    assert item["partner"] == {"partner_id": w["partner_id"], "name": w["partner_name"]}
    assert item["reason"] == REFERRAL_REASON
    assert item["data_categories"] == CATEGORIES
    assert item["consent_id"] == w["consent_id"]
    assert item["status"] == "sent" and item["sent_at"] is not None
    assert [e["type"] for e in item["history"]] == ["Proposed", "Sent"]
    copied = {(c["category"], c["field"]): c["value"] for c in referral["copies"]}
    assert copied[("identity", "given_name")] == CLIENT["given_name"]
    assert copied[("career_question", "career_question")] == QUESTION

    # Recipients: the referral sent (categories, consent) and the packet the partner read.
    recipients = doc["recipients"]
    assert recipients == referral["recipients"]
    [sent] = [x for x in recipients if x["kind"] == "referral"]
    assert sent["partner_id"] == w["partner_id"]
    assert sent["partner_name"] == w["partner_name"]
    assert sent["categories"] == CATEGORIES
    assert sent["consent_id"] == w["consent_id"]
    assert sent["at"] == item["sent_at"]
    [read] = [x for x in recipients if x["kind"] == "access"]
    assert read["access_id"] == w["access_id"]
    assert (read["partner_id"], read["partner_name"]) == (w["partner_id"], w["partner_name"])
    assert (read["resource"], read["role"], read["actor"]) == ("packet", "partner", "p-7")
    assert read["categories"] == CATEGORIES
    assert read["consent_id"] == w["consent_id"]
    assert read["referral_id"] == w["referral_id"]

    # The export itself is recorded in intake's event store, under the export's id.
    recorded: Any = await asyncio.to_thread(
        intake_app.state.application.repository.get, uuid.UUID(doc["export_id"])
    )
    assert isinstance(recorded, DataAccess)
    assert str(recorded.client_id) == w["client_id"]
    assert (recorded.purpose, recorded.resource, recorded.actor) == (
        "access-request",
        "export",
        "counsellor-7",
    )
    assert set(recorded.categories) >= {"identity", "contact", "plan", "referrals"}


async def test_the_schema_is_published_and_matches_the_model(api: httpx.AsyncClient) -> None:
    r = await api.get(f"{INTAKE}/schemas/client-export.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/schema+json")
    assert r.json() == export_schema()


# -- who may ask --------------------------------------------------------------------------------
async def test_staff_of_the_clients_organisation_only(
    api: httpx.AsyncClient, token: Any, org: str, counsellor: dict[str, str]
) -> None:
    client_id = await registered(api, counsellor)
    r = await api.get(export_path(client_id), headers=bearer(token("team_lead", org=org)))
    assert r.status_code == 200, r.text
    assert r.json()["services"]["intake"]["cases"] == []
    services = r.json()["services"]
    assert services["planning"]["plans"] == services["followup"]["followups"] == []
    assert services["referral"]["referrals"] == r.json()["recipients"] == []

    other = bearer(token("counsellor", org=new_org()))
    assert_problem(await api.get(export_path(client_id), headers=other), 404, "not-found")
    assert_problem(
        await api.get(export_path(str(uuid.uuid4())), headers=counsellor), 404, "not-found"
    )
    for who in (
        token("auditor", org=org),
        token("partner", org="partner-org", partner_id=str(uuid.uuid4())),
    ):
        assert_problem(await api.get(export_path(client_id), headers=bearer(who)), 403, "forbidden")
    r = await api.get(export_path(client_id))
    assert_problem(r, 401, "unauthorized")


async def test_after_erasure_the_export_is_absent(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    client_id = await registered(api, counsellor)
    r = await api.get(export_path(client_id), headers=counsellor)
    assert r.status_code == 200, r.text

    r = await api.post(
        f"{INTAKE}/clients/{client_id}/erasure",
        json={"reason": "The client asked for erasure (request 2026-204)."},
        headers=counsellor,
    )
    assert r.status_code == 202, r.text
    assert_problem(await api.get(export_path(client_id), headers=counsellor), 404, "not-found")


# -- a service that does not answer -------------------------------------------------------------
@pytest.fixture
async def lone_intake(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A second intake (web role) asking under a subject prefix nobody else serves, with
    a short timeout: the test decides who answers."""
    from services.intake.main import create_app

    own = settings.model_copy(
        update={
            "role": "web",
            "export_subject_prefix": f"guidance.export-test-{unique()}",
            "export_timeout_seconds": 1.0,
            "db_pool_size": 2,
            "db_max_overflow": 1,
            "read_pool_size": 1,
        }
    )
    app = create_app(own)
    async with running(app) as client:

        async def following() -> bool:
            return bool(app.state.projection.following.is_set())

        await eventually(following, "the second intake following its projection")
        yield app, client


async def test_a_service_that_does_not_answer_fails_the_export_naming_it(
    api: httpx.AsyncClient,
    lone_intake: tuple[FastAPI, httpx.AsyncClient],
    intake_app: FastAPI,
    counsellor: dict[str, str],
) -> None:
    app, lone = lone_intake
    client_id = await registered(api, counsellor)
    before = len(await asyncio.to_thread(export_reads, intake_app, client_id))

    # Nobody serves this prefix: all three are named.
    r = await lone.get(export_path(client_id), headers=counsellor)
    body = assert_problem(r, 504, "export-incomplete")
    assert [e["service"] for e in body["errors"]] == ["followup", "planning", "referral"]
    assert all(e["field"] == f"services.{e['service']}" for e in body["errors"])
    for service in ("planning", "followup", "referral"):
        assert service in body["detail"]

    settings = app.state.settings
    nc = app.state.runtime.nc
    # The web-only replica answers for intake over NATS too, in the same shape.
    answers = await gather_export(
        nc, uuid.UUID(client_id), ["intake"], 5.0, prefix=settings.export_subject_prefix
    )
    assert answers["intake"]["client"]["family_name"] == CLIENT["family_name"]
    assert answers["intake"]["consents"]["current"][0]["purpose"] == "guidance"

    # Planning answers, follow-up is too slow, referral answers an error.
    release = asyncio.Event()

    async def quick(client_id: uuid.UUID) -> dict[str, Any]:
        return {"client": None, "plans": []}

    async def slow(client_id: uuid.UUID) -> dict[str, Any]:
        await release.wait()
        return {"followups": []}

    async def failing(client_id: uuid.UUID) -> dict[str, Any]:
        raise ExportUnavailable("referral's store is being restored")

    responders = [
        ExportResponder(nc, name, gather, prefix=settings.export_subject_prefix)
        for name, gather in (("planning", quick), ("followup", slow), ("referral", failing))
    ]
    for responder in responders:
        await responder.start()
    await nc.flush()
    try:
        r = await lone.get(export_path(client_id), headers=counsellor)
    finally:
        release.set()
        for responder in responders:
            await responder.stop()
    body = assert_problem(r, 504, "export-incomplete")
    errors = {e["service"]: e["message"] for e in body["errors"]}
    assert set(errors) == {"followup", "referral"}
    assert "did not answer within 1 s" in errors["followup"]
    assert "being restored" in errors["referral"]
    assert "planning" not in body["detail"]
    # Nothing partial: no sections, no personal data, and no export recorded.
    assert "services" not in body and "recipients" not in body
    assert CLIENT["family_name"] not in r.text and CLIENT["email"] not in r.text
    assert len(await asyncio.to_thread(export_reads, intake_app, client_id)) == before
