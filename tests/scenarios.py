"""The tests' scenario library: set-ups that read as sentences (`an_accepted_case`,
`an_agreed_plan`, `a_sent_referral`, `a_registered_partner`, …), the request bodies they are
made of (`a_client_body`, `a_goal`, `an_action`, `a_partner`, `a_service`, `proposal`) and
the few steps the journeys share (`send` to planning, `fsend` to follow-up, waiting for a
plan, a follow-up or a consent). Each set-up works through the services' HTTP APIs (and
waits for what reaches another service over NATS), in the organisation of the headers given.
Test modules import their set-ups from here, never from one another.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from eventsourcing.utils import get_topic

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from services.referral.queries import case_info, consent_for, consent_record
from shared.audit.access import DataAccess
from shared.messaging.envelope import CloudEvent
from tests.support import bearer, eventually

INTAKE = "/intake/v1"
PLANNING = "/planning/v1"
FOLLOWUP = "/followup/v1"
REFERRAL = "/referral/v1"


# -- vocabulary and bodies -----------------------------------------------------------------------
COMPETENCES = (
    "quality_reflection",
    "motive_reflection",
    "work_exploration",
    "career_steering",
    "networking",
)
ALL_THREES = dict.fromkeys(COMPETENCES, 3)
CLIENT_SCORES = {**ALL_THREES, "networking": 2, "career_steering": 4}
COUNSELLOR_SCORES = {**ALL_THREES, "quality_reflection": 1}
ESCO_SKILL = "http://data.europa.eu/esco/skill/e465a154-93f6-4bd6-9b6e-0b7c8b5b8d4c"
ESCO_OCCUPATION = "http://data.europa.eu/esco/occupation/5b3c2d1e-0000-4000-8000-000000000010"
PLAN_WAIT_SECONDS = 10.0


def unique() -> str:
    return uuid.uuid4().hex[:10]


def a_service(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Budget coaching",
        "category": "debt",
        "languages": ["nl", "fr"],
        "area": "Gent 9000",
        "eligibility": "Residents with debts",
    }
    body.update(overrides)
    return body


def a_partner(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "CAW Oost-Vlaanderen",
        "description": "General welfare work",
        "services": [a_service()],
        "accepted_categories": ["identity", "contact", "career_question"],
        "contact_email": "referrals@caw.example.org",
        "capacity": 4,
    }
    body.update(overrides)
    return body


# When the sessions of the intake tests were held.
PAST_SESSION = "2025-01-06T10:00:00+01:00"
CATEGORIES = ["identity", "contact", "career_question"]


# -- intake: clients and cases -------------------------------------------------------------------
def a_client_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_name": "Anna",
        "family_name": "Peeters",
        "birth_date": "1990-05-17",
        "email": "anna.peeters@example.org",
        "phone": "+32 470 12 34 56",
        "preferred_language": "nl",
    }
    body.update(overrides)
    return body


async def a_registered_client(
    api: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> str:
    """A client registered in intake (`a_client_body` with `overrides`): its id."""
    r = await api.post(f"{INTAKE}/clients", json=a_client_body(**overrides), headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["client_id"])


async def a_guidance_consent(
    api: httpx.AsyncClient, headers: dict[str, str], client_id: str, **body: Any
) -> httpx.Response:
    """The client's consent to guidance (or `body`'s), given in intake."""
    body = {"purpose": "guidance", "granted": True, **body}
    r = await api.post(f"{INTAKE}/clients/{client_id}/consents", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r


async def an_open_case(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    client_id: str | None = None,
    question: str = "Should I move from logistics into teaching?",
) -> str:
    """A case opened in intake, for `client_id` or a new client who consented to guidance:
    its id."""
    if client_id is None:
        client_id = await a_registered_client(api, headers)
        await a_guidance_consent(api, headers, client_id)
    r = await api.post(
        f"{INTAKE}/cases",
        json={"client_id": client_id, "career_question": question},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def post_case(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    case_id: str,
    what: str,
    body: dict[str, Any],
    expect: int,
) -> httpx.Response:
    """A step on an intake case (`what`: entry-check, assessments, …) answering `expect`."""
    r = await api.post(f"{INTAKE}/cases/{case_id}/{what}", json=body, headers=headers)
    assert r.status_code == expect, r.text
    return r


async def intake_get(api: httpx.AsyncClient, path: str, headers: dict[str, str]) -> httpx.Response:
    """A read of intake's `path` that answers 200."""
    r = await api.get(f"{INTAKE}{path}", headers=headers)
    assert r.status_code == 200, r.text
    return r


async def intake_events(app: Any, originator_id: str | None = None) -> int:
    """Intake's events (of one aggregate); recorded reads (DataAccess) do not count."""
    pool = app.state.runtime.pool
    if originator_id is None:
        return int(
            await pool.fetchval(
                "SELECT count(*) FROM intake.intake_events "
                "WHERE topic NOT LIKE 'shared.audit.access:%'"
            )
        )
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM intake.intake_events WHERE originator_id = $1",
            uuid.UUID(originator_id),
        )
    )


# -- planning: plans -----------------------------------------------------------------------------
def today() -> date:
    return datetime.now(UTC).date()


def days(n: int) -> str:
    return (today() + timedelta(days=n)).isoformat()


def a_goal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Build a network in secondary education",
        "specific": "Talk with five teachers about their daily work and the way in",
        "measure": "5 conversations held and written up in the portfolio",
        "target_date": days(90),
        "competences": ["networking"],
        "priority": 1,
    }
    body.update(overrides)
    return body


def an_action(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "Ask two former colleagues for an introduction",
        "owner": "client",
        "due_date": days(30),
    }
    body.update(overrides)
    return body


async def an_accepted_case(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    given_name: str = "Anna",
    family_name: str = "Peeters",
    preferred_language: str | None = "nl",
) -> tuple[str, str]:
    """A client (guidance consent) with a case accepted in intake: (client_id, case_id)."""
    client = {
        "given_name": given_name,
        "family_name": family_name,
        "birth_date": "1990-05-17",
        "email": "anna.peeters@example.org",
    }
    if preferred_language is not None:
        client["preferred_language"] = preferred_language
    r = await api.post(f"{INTAKE}/clients", json=client, headers=headers)
    assert r.status_code == 201, r.text
    client_id = str(r.json()["client_id"])
    steps: list[tuple[str, dict[str, Any], int]] = [
        (f"/clients/{client_id}/consents", {"purpose": "guidance", "granted": True}, 201),
        (
            "/cases",
            {"client_id": client_id, "career_question": "Should I move from logistics?"},
            201,
        ),
    ]
    for path, body, expect in steps:
        r = await api.post(INTAKE + path, json=body, headers=headers)
        assert r.status_code == expect, r.text
    case_id = str(r.json()["case_id"])
    for what, body, expect in (
        ("entry-check", {"eligible": True}, 200),
        ("assessments", {"assessor": "client", "scores": CLIENT_SCORES}, 201),
        ("assessments", {"assessor": "counsellor", "scores": COUNSELLOR_SCORES}, 201),
        ("decision", {"decision": "accept"}, 200),
    ):
        r = await api.post(f"{INTAKE}/cases/{case_id}/{what}", json=body, headers=headers)
        assert r.status_code == expect, (what, r.text)
    return client_id, case_id


async def wait_for_plan(
    planning_api: httpx.AsyncClient, headers: dict[str, str], case_id: str
) -> dict[str, Any]:
    """The case's plan, once planning has seen `CaseAccepted` (polled)."""
    deadline = asyncio.get_running_loop().time() + PLAN_WAIT_SECONDS
    while True:
        r = await planning_api.get(
            f"{PLANNING}/plans", params={"case_id": case_id}, headers=headers
        )
        assert r.status_code == 200, r.text
        if r.json():
            [plan] = r.json()
            return dict(plan)
        assert asyncio.get_running_loop().time() < deadline, f"no plan for case {case_id}"
        await asyncio.sleep(0.05)


async def a_draft_plan(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    headers: dict[str, str],
    **client: Any,
) -> dict[str, Any]:
    """An accepted case's plan, as planning opened it (draft, version 1)."""
    _, case_id = await an_accepted_case(api, headers, **client)
    return await wait_for_plan(planning_api, headers, case_id)


async def send(
    planning_api: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    """A command to planning that answers `expect`; its body (with the ETag of its version)."""
    r = await planning_api.request(method, PLANNING + path, json=body, headers=headers)
    assert r.status_code == expect, (method, path, r.text)
    out = dict(r.json())
    if expect < 300:
        assert r.headers["etag"] == f'"{out["version"]}"'
    return out


async def get_plan(
    planning_api: httpx.AsyncClient, plan_id: str, headers: dict[str, str]
) -> httpx.Response:
    """A plan read from planning, its ETag its version."""
    r = await planning_api.get(f"{PLANNING}/plans/{plan_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    return r


async def plan_events(app: Any, plan_id: str) -> int:
    """The events stored of one plan."""
    return int(
        await app.state.runtime.pool.fetchval(
            "SELECT count(*) FROM planning.planning_events WHERE originator_id = $1",
            uuid.UUID(plan_id),
        )
    )


async def agree_both(
    planning_api: httpx.AsyncClient, headers: dict[str, str], plan_id: str
) -> dict[str, Any]:
    """The plan agreed by the client and the counsellor; planning's last answer."""
    out: dict[str, Any] = {}
    for party in ("client", "counsellor"):
        out = await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", headers, {"party": party}
        )
    assert out["status"] == "agreed", out
    return out


# -- follow-up -----------------------------------------------------------------------------------
FOLLOWUP_WAIT_SECONDS = 10.0


@dataclass
class Agreed:
    """An agreed plan (one goal, one action) and the follow-up it opened."""

    client_id: str
    case_id: str
    plan_id: str
    goal_id: str
    action_id: str
    followup: dict[str, Any]

    @property
    def followup_id(self) -> str:
        return str(self.followup["followup_id"])


async def eventually_followup(
    followup_api: httpx.AsyncClient, headers: dict[str, str], case_id: str
) -> dict[str, Any]:
    """The case's follow-up, once the follow-up service has seen `PlanAgreed` (polled)."""
    deadline = asyncio.get_running_loop().time() + FOLLOWUP_WAIT_SECONDS
    while True:
        r = await followup_api.get(
            f"{FOLLOWUP}/followups", params={"case_id": case_id}, headers=headers
        )
        assert r.status_code == 200, r.text
        if r.json():
            [found] = r.json()
            assert r.headers["x-total-count"] == "1"
            return dict(found)
        assert asyncio.get_running_loop().time() < deadline, f"no follow-up for case {case_id}"
        await asyncio.sleep(0.05)


async def an_agreed_plan(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    headers: dict[str, str],
    action: dict[str, Any] | None = None,
) -> Agreed:
    """An accepted case whose plan (one goal, one action) both parties agreed, and its
    follow-up."""
    client_id, case_id = await an_accepted_case(api, headers)
    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "action"})
    goal_id = (await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, a_goal(), 201))[
        "goal_id"
    ]
    action_id = (
        await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/goals/{goal_id}/actions",
            headers,
            action or an_action(),
            201,
        )
    )["action_id"]
    for party in ("client", "counsellor"):
        out = await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", headers, {"party": party}
        )
    assert out["status"] == "agreed", out
    followup = await eventually_followup(followup_api, headers, case_id)
    return Agreed(client_id, case_id, plan_id, goal_id, action_id, followup)


async def fsend(
    followup_api: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    """A command to follow-up that answers `expect`; its body (with the ETag of its version)."""
    r = await followup_api.request(method, FOLLOWUP + path, json=body, headers=headers)
    assert r.status_code == expect, (method, path, r.text)
    out = dict(r.json())
    if expect < 300:
        assert r.headers["etag"] == f'"{out["version"]}"'
    return out


async def get_followup(
    followup_api: httpx.AsyncClient, followup_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    """A follow-up read from the follow-up service, its ETag its version."""
    r = await followup_api.get(f"{FOLLOWUP}/followups/{followup_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    return dict(r.json())


async def followup_events(app: Any, followup_id: str) -> int:
    """The events stored of one follow-up."""
    return int(
        await app.state.runtime.pool.fetchval(
            "SELECT count(*) FROM followup.followup_events WHERE originator_id = $1",
            uuid.UUID(followup_id),
        )
    )


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


async def publish_case_accepted(js: Any, case_id: uuid.UUID, org: str, on: date) -> None:
    """Intake's CaseAccepted for a case, as intake would publish it."""
    event = CloudEvent(
        id=uuid.uuid4(),
        source="/guidance/intake",
        type="guidance.intake.CaseAccepted.v1",
        subject=str(case_id),
        time=at(on),
        position=2**62 + int(uuid.uuid4().int % 10**9),
        data={
            "occurred_at": at(on).isoformat(),
            "actor": "counsellor-1",
            "case_id": str(case_id),
            "client_id": str(uuid.uuid4()),
            "organisation": org,
            "gaps": [],
            "scores": {},
        },
    )
    await js.publish("guidance.intake.CaseAccepted", event.to_bytes())


async def a_followup_with(
    app: FollowUpApplication,
    js: Any,
    org: str,
    *,
    accepted_on: date,
    outcome: str,
    outcome_on: date,
    satisfaction: int | None = None,
    improved: bool = True,
    failed_contacts: int = 0,
    contract: str | None = None,
) -> uuid.UUID:
    """A follow-up saved straight into the follow-up application, of a case intake accepted on
    `accepted_on` (published over NATS), with an outcome and as many failed contacts and
    such feedback as asked: its id."""
    case_id = uuid.uuid4()
    await publish_case_accepted(js, case_id, org, accepted_on)
    agreed_on = accepted_on + timedelta(days=20)
    f = FollowUp.open(
        case_id=case_id,
        client_id=uuid.uuid4(),
        organisation=org,
        counsellor="counsellor-1",
        agreed_on=agreed_on,
        plan_version=1,
        actions=[],
        at=at(agreed_on),
    )
    for _ in range(failed_contacts):
        f.record_contact(
            contact_id=uuid.uuid4(),
            channel="phone",
            reached=False,
            notes=None,
            actor="c",
            at=at(agreed_on + timedelta(days=1)),
        )
    f.record_outcome(
        outcome=outcome, on=outcome_on, actor="c", at=at(outcome_on), contract=contract
    )
    if satisfaction is not None:
        f.give_feedback(
            satisfaction=satisfaction,
            self_knowledge_improved=improved,
            confidence_improved=not improved,
            comments=None,
            actor="c",
            at=at(outcome_on),
        )
    await asyncio.to_thread(app.save, f)
    return f.id


async def consent_event(
    js: Any, client_id: uuid.UUID, org: str, granted: bool, position: int
) -> None:
    """intake's word on the client's `statistics` consent, published as intake would, at a
    log position of the caller's choosing."""
    kind = "ConsentGranted" if granted else "ConsentWithdrawn"
    event = CloudEvent(
        id=uuid.uuid4(),
        source="/guidance/intake",
        type=f"guidance.intake.{kind}.v1",
        subject=str(client_id),
        time=datetime.now(UTC),
        position=position,
        data={
            "occurred_at": datetime.now(UTC).isoformat(),
            "actor": "counsellor-1",
            "client_id": str(client_id),
            "organisation": org,
            "consent_id": str(uuid.uuid4()),
            "purpose": "statistics",
            "partner_id": None,
            "data_categories": [],
        },
    )
    await js.publish(f"guidance.intake.{kind}", event.to_bytes())


# -- referral: partners, consents, referrals -----------------------------------------------------
WANTED = ["identity", "contact"]


async def a_case_known_to_referral(
    api: httpx.AsyncClient, headers: dict[str, str], pool: Any
) -> tuple[str, str]:
    """A client with a guidance consent and an open case, known to referral."""
    r = await api.post(
        f"{INTAKE}/clients",
        json={
            "given_name": "Bram",
            "family_name": "Claes",
            "birth_date": "1985-02-03",
            "email": "bram.claes@example.org",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    client_id = str(r.json()["client_id"])
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await api.post(
        f"{INTAKE}/cases",
        json={"client_id": client_id, "career_question": "Do I retrain as a nurse?"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    case_id = str(r.json()["case_id"])
    await eventually(lambda: case_info(pool, uuid.UUID(case_id)), "the case in referral")
    return client_id, case_id


async def a_registered_partner(
    referral_api: httpx.AsyncClient, admin: dict[str, str], **fields: Any
) -> str:
    """A partner registered by the admin (a service in an area of its own): its id."""
    body = a_partner(services=[a_service(area=f"area-{unique()}")], **fields)
    r = await referral_api.post(f"{REFERRAL}/partners", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return str(r.json()["partner_id"])


def proposal(case_id: str, partner_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_id": case_id,
        "partner_id": partner_id,
        "reason": "Debts stand in the way of any training plan.",
        "data_categories": WANTED,
    }
    body.update(overrides)
    return body


async def post_consent(
    api: httpx.AsyncClient, headers: dict[str, str], client_id: str, **body: Any
) -> None:
    """The client's referral consent (granted or withdrawn, per `body`), given in intake."""
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/consents",
        json={"purpose": "referral", **body},
        headers=headers,
    )
    assert r.status_code < 300, r.text


async def wait_consent(pool: Any, client_id: str, partner_id: str, granted: bool) -> dict[str, Any]:
    """Referral's record of the client's consent for the partner, once it is `granted` as asked."""

    async def check() -> dict[str, Any] | None:
        row = await consent_record(pool, uuid.UUID(client_id), uuid.UUID(partner_id))
        return row if row is not None and row["granted"] is granted else None

    found: dict[str, Any] = await eventually(check, f"consent granted={granted}")
    return found


async def referral_events_but_views(pool: Any) -> int:
    """Referral's stored events less the recorded reads of a referral's own view (resource
    `referral`): a check that reads the referral to compare it records one each time."""
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM referral.referral_events WHERE topic <> $1 "
            "OR convert_from(state, 'UTF8')::jsonb ->> 'resource' <> 'referral'",
            get_topic(DataAccess.Recorded),
        )
    )


def partner_headers(token: Any, partner_id: str, sub: str = "p-1") -> dict[str, str]:
    """The headers of a partner's user."""
    return bearer(token("partner", org="partner-org", sub=sub, partner_id=partner_id))


async def wait_consent_for(
    pool: Any, client_id: str, partner_id: str, categories: list[str]
) -> None:
    """Until referral knows the client's granted consent for exactly these categories."""

    async def check() -> bool:
        found = await consent_for(pool, uuid.UUID(client_id), uuid.UUID(partner_id))
        return found is not None and sorted(found) == sorted(categories)

    await eventually(check, f"the consent for {categories}")


async def a_granted_consent(
    api: httpx.AsyncClient,
    pool: Any,
    counsellor: dict[str, str],
    client_id: str,
    partner_id: str,
    categories: list[str],
) -> None:
    """Grant (or grant again) the referral consent in intake; wait until referral has it."""
    await post_consent(
        api, counsellor, client_id, partner_id=partner_id, data_categories=categories, granted=True
    )
    await wait_consent_for(pool, client_id, partner_id, categories)


async def propose(
    referral_api: httpx.AsyncClient,
    counsellor: dict[str, str],
    case_id: str,
    partner_id: str,
    categories: list[str],
    *,
    send_it: bool = True,
    reason: str | None = None,
) -> str:
    """A referral proposed (and by default sent) under the client's current consent."""
    body = proposal(case_id, partner_id, data_categories=categories)
    if reason is not None:
        body["reason"] = reason
    r = await referral_api.post(f"{REFERRAL}/referrals", json=body, headers=counsellor)
    assert r.status_code == 201, r.text
    referral_id = str(r.json()["referral_id"])
    if send_it:
        r = await referral_api.post(f"{REFERRAL}/referrals/{referral_id}/send", headers=counsellor)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "sent"
    return referral_id


REFERRAL_STEPS: dict[str, list[tuple[str, str, dict[str, Any] | None]]] = {
    "proposed": [],
    "sent": [("counsellor_a", "/send", None)],
    "acknowledged": [("counsellor_a", "/send", None), ("p1", "/acknowledge", None)],
    "accepted": [("counsellor_a", "/send", None), ("p1", "/accept", None)],
    "declined": [("counsellor_a", "/send", None), ("p1", "/decline", {"reason": "Full."})],
    # Withdrawn while still a proposal: never sent, so never the partner's to see.
    "unsent": [("counsellor_a", "/withdraw", {"reason": "Changed my mind."})],
}


async def a_consenting_case(
    api: httpx.AsyncClient, counsellor: dict[str, str], pool: Any, partner_id: str
) -> str:
    """A case known to referral whose client consented to share CATEGORIES with the partner: its
    id."""
    client_id, case_id = await a_case_known_to_referral(api, counsellor, pool)
    await post_consent(
        api, counsellor, client_id, partner_id=partner_id, data_categories=CATEGORIES, granted=True
    )
    await wait_consent(pool, client_id, partner_id, True)
    return case_id


async def a_sent_referral(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    pool: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
    categories: list[str] = CATEGORIES,
) -> dict[str, Any]:
    """A sent referral: its ids and the partner's headers."""
    client_id, case_id = await a_case_known_to_referral(api, counsellor, pool)
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=3, accepted_categories=list(categories)
    )
    await post_consent(
        api, counsellor, client_id, partner_id=partner_id, data_categories=categories, granted=True
    )
    await wait_consent(pool, client_id, partner_id, True)
    r = await referral_api.post(
        f"{REFERRAL}/referrals",
        json=proposal(case_id, partner_id, data_categories=categories),
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    referral_id = r.json()["referral_id"]
    r = await referral_api.post(f"{REFERRAL}/referrals/{referral_id}/send", headers=counsellor)
    assert r.status_code == 200, r.text
    partner = bearer(token("partner", org="partner-org", sub="p-1", partner_id=partner_id))
    return {
        "client_id": client_id,
        "case_id": case_id,
        "partner_id": partner_id,
        "referral_id": referral_id,
        "partner": partner,
    }


# -- EVC -------------------------------------------------------------------------------------------
EVC_STANDARD_FILE = Path(__file__).resolve().parent / "data" / "evc" / "care_assistant.csv"
EVC_STANDARD = "mbo2-care"


def an_imported_standard(dsn: str) -> str:
    """The test standard (tests/data/evc/care_assistant.csv: three items) imported, as
    `waypoint evc import-standard` would; its code."""
    import psycopg

    from services.planning.evc import import_standards, read_file

    with psycopg.connect(dsn) as conn:
        import_standards(conn, read_file(EVC_STANDARD_FILE))
    return EVC_STANDARD
