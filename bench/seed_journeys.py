"""The template journeys `bench.seed` clones: each one run through the real system's HTTP
APIs (a short-lived `waypoint run` on the fresh database), so that every service's store,
read models, consumers' tables and audit chains hold the shapes the system writes itself.

Each journey returns the ids it made (`Template.ids`): the client, its case and whatever
else the journey opened (plan, follow-up, referral, …). `bench.seed` finds every row that
names one of them and clones it with fresh ids.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

INTAKE = "/intake/v1"
PLANNING = "/planning/v1"
FOLLOWUP = "/followup/v1"
REFERRAL = "/referral/v1"
SCORES_CLIENT = dict(
    quality_reflection=3, motive_reflection=3, work_exploration=3, career_steering=4, networking=2
)
SCORES_COUNSELLOR = dict(
    quality_reflection=1, motive_reflection=3, work_exploration=3, career_steering=3, networking=3
)
WAIT_SECONDS = 20.0


@dataclass
class Template:
    """One journey as stored: its name, the ids it made (client first), whether the client
    was erased (cloned as erased: no key, `ERASED` rows)."""

    name: str
    ids: list[uuid.UUID] = field(default_factory=list)
    erased: bool = False


@dataclass
class People:
    """The headers of the organisation's counsellor and admin; `partner_of` mints a partner
    user's headers for a partner id."""

    counsellor: dict[str, str]
    admin: dict[str, str]
    partner_of: Callable[[str], dict[str, str]]
    partner: dict[str, str] = field(default_factory=dict)


def days(n: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


async def ok(r: Awaitable[httpx.Response], expect: int = 200) -> dict[str, Any]:
    resp = await r
    assert resp.status_code == expect, (resp.request.method, resp.request.url, resp.text)
    return dict(resp.json()) if resp.content else {}


async def eventually(what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        found = await probe()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"waited {WAIT_SECONDS:.0f} s for {what}")
        await asyncio.sleep(0.05)


async def registered(api: httpx.AsyncClient, p: People, t: Template) -> tuple[str, str]:
    """A client with guidance consent and an open case: (client_id, case_id)."""
    client = await ok(
        api.post(
            f"{INTAKE}/clients",
            json={
                "given_name": "Anna",
                "family_name": "Peeters",
                "birth_date": "1990-05-17",
                "email": "anna.peeters@example.org",
                "phone": "+32 470 12 34 56",
                "preferred_language": "nl",
            },
            headers=p.counsellor,
        ),
        201,
    )
    client_id = client["client_id"]
    await ok(
        api.post(
            f"{INTAKE}/clients/{client_id}/consents",
            json={"purpose": "guidance", "granted": True},
            headers=p.counsellor,
        ),
        201,
    )
    case = await ok(
        api.post(
            f"{INTAKE}/cases",
            json={"client_id": client_id, "career_question": "From logistics into teaching?"},
            headers=p.counsellor,
        ),
        201,
    )
    t.ids += [uuid.UUID(client_id), uuid.UUID(case["case_id"])]
    return client_id, case["case_id"]


async def checked(api: httpx.AsyncClient, p: People, case_id: str) -> None:
    for what, body, expect in (
        ("entry-check", {"eligible": True, "notes": "Motivated."}, 200),
        ("assessments", {"assessor": "client", "scores": SCORES_CLIENT}, 201),
        ("assessments", {"assessor": "counsellor", "scores": SCORES_COUNSELLOR}, 201),
        (
            "sessions",
            {"kind": "intake", "held_at": "2025-01-06T10:00:00+01:00", "minutes": 60},
            201,
        ),
    ):
        await ok(
            api.post(f"{INTAKE}/cases/{case_id}/{what}", json=body, headers=p.counsellor), expect
        )


async def accepted(api: httpx.AsyncClient, p: People, t: Template) -> tuple[str, str, str]:
    """An accepted case and the plan planning opened for it: (client, case, plan)."""
    client_id, case_id = await registered(api, p, t)
    await checked(api, p, case_id)
    await ok(
        api.post(
            f"{INTAKE}/cases/{case_id}/decision",
            json={"decision": "accept", "reason": "Fits."},
            headers=p.counsellor,
        )
    )

    async def plan() -> Any:
        r = await api.get(f"{PLANNING}/plans", params={"case_id": case_id}, headers=p.counsellor)
        return r.json() if r.status_code == 200 else None

    [found] = await eventually("the plan", plan)
    t.ids.append(uuid.UUID(found["plan_id"]))
    return client_id, case_id, str(found["plan_id"])


async def agreed(api: httpx.AsyncClient, p: People, t: Template) -> tuple[str, str, str, str]:
    """An accepted case whose plan is agreed, and its follow-up: (client, case, plan, fu)."""
    client_id, case_id, plan_id = await accepted(api, p, t)
    h = p.counsellor
    await ok(api.put(f"{PLANNING}/plans/{plan_id}/type", json={"plan_type": "action"}, headers=h))
    goal = await ok(
        api.post(
            f"{PLANNING}/plans/{plan_id}/goals",
            json={
                "title": "Build a network in secondary education",
                "specific": "Talk with five teachers about their daily work",
                "measure": "5 conversations held and written up",
                "target_date": days(90),
                "competences": ["networking"],
                "priority": 1,
            },
            headers=h,
        ),
        201,
    )
    action = await ok(
        api.post(
            f"{PLANNING}/plans/{plan_id}/goals/{goal['goal_id']}/actions",
            json={"description": "Ask two colleagues", "owner": "client", "due_date": days(30)},
            headers=h,
        ),
        201,
    )
    t.ids += [uuid.UUID(goal["goal_id"]), uuid.UUID(action["action_id"])]
    for party in ("client", "counsellor"):
        await ok(
            api.post(f"{PLANNING}/plans/{plan_id}/agreement", json={"party": party}, headers=h)
        )

    async def followup() -> Any:
        r = await api.get(f"{FOLLOWUP}/followups", params={"case_id": case_id}, headers=h)
        return r.json() if r.status_code == 200 else None

    [fu] = await eventually("the follow-up", followup)
    t.ids.append(uuid.UUID(fu["followup_id"]))
    return client_id, case_id, plan_id, str(fu["followup_id"])


async def referred(
    api: httpx.AsyncClient, p: People, t: Template, client_id: str, case_id: str, partner_id: str
) -> str:
    """A referral consented, proposed, sent and accepted, with the partner's outcome."""
    h = p.counsellor
    categories = ["identity", "contact", "career_question"]
    await ok(
        api.post(
            f"{INTAKE}/clients/{client_id}/consents",
            json={
                "purpose": "referral",
                "partner_id": partner_id,
                "data_categories": categories,
                "granted": True,
            },
            headers=h,
        ),
        201,
    )

    async def propose() -> Any:
        r = await api.post(
            f"{REFERRAL}/referrals",
            json={
                "case_id": case_id,
                "partner_id": partner_id,
                "reason": "Debts stand in the way of any training plan.",
                "data_categories": categories,
            },
            headers=h,
        )
        return r.json() if r.status_code == 201 else None

    referral = await eventually("referral to know the case and the consent", propose)
    referral_id = str(referral["referral_id"])
    t.ids.append(uuid.UUID(referral_id))
    await ok(api.post(f"{REFERRAL}/referrals/{referral_id}/send", headers=h))
    await ok(api.post(f"{REFERRAL}/referrals/{referral_id}/accept", headers=p.partner))
    await ok(
        api.post(
            f"{REFERRAL}/referrals/{referral_id}/outcome",
            json={"outcome": "completed", "notes": "Finished the course."},
            headers=p.partner,
        )
    )
    return referral_id


# -- the journeys --------------------------------------------------------------------------------
async def full(api: httpx.AsyncClient, p: People, partner_id: str) -> Template:
    """Registered → consent → case → entry check → assessments → accepted → plan agreed →
    follow-up contact → referral accepted with an outcome → outcome → follow-up and case
    closed."""
    t = Template("full")
    client_id, case_id, _plan, fu = await agreed(api, p, t)
    h = p.counsellor
    await ok(
        api.post(
            f"{FOLLOWUP}/followups/{fu}/contacts",
            json={"channel": "phone", "reached": True, "notes": "Doing well."},
            headers=h,
        ),
        201,
    )
    await referred(api, p, t, client_id, case_id, partner_id)
    await ok(
        api.post(
            f"{FOLLOWUP}/followups/{fu}/outcome",
            json={"outcome": "employed", "contract": "fixed_term", "on": days(0)},
            headers=h,
        )
    )
    # A file of the past is closed everywhere (an open follow-up would be overdue).
    await ok(
        api.post(
            f"{FOLLOWUP}/followups/{fu}/close",
            json={"reason": "completed", "notes": "Works as a teacher's aide."},
            headers=h,
        )
    )
    # Closing the follow-up closes the case in intake (a reaction), unless closed first.
    r = await api.post(
        f"{INTAKE}/cases/{case_id}/closure",
        json={"reason": "referred_out", "summary": "Works as a teacher's aide."},
        headers=h,
    )
    assert r.status_code in (200, 409), r.text

    async def closed() -> bool:
        r = await api.get(f"{INTAKE}/cases/{case_id}", headers=h)
        return r.status_code == 200 and r.json().get("status") == "closed"

    await eventually("the case closed", closed)
    return t


async def in_followup(api: httpx.AsyncClient, p: People, partner_id: str) -> Template:
    """An agreed plan in follow-up, one contact recorded."""
    t = Template("in_followup")
    _c, _case, _plan, fu = await agreed(api, p, t)
    await ok(
        api.post(
            f"{FOLLOWUP}/followups/{fu}/contacts",
            json={"channel": "email", "reached": False},
            headers=p.counsellor,
        ),
        201,
    )
    return t


async def in_deepening(api: httpx.AsyncClient, p: People, partner_id: str) -> Template:
    """Accepted, its plan a draft in planning."""
    t = Template("in_deepening")
    await accepted(api, p, t)
    return t


async def declined(api: httpx.AsyncClient, p: People, partner_id: str) -> Template:
    t = Template("declined")
    _client, case_id = await registered(api, p, t)
    await ok(
        api.post(
            f"{INTAKE}/cases/{case_id}/entry-check",
            json={"eligible": False, "notes": "Not the right place."},
            headers=p.counsellor,
        )
    )
    await ok(
        api.post(
            f"{INTAKE}/cases/{case_id}/decision",
            json={"decision": "decline", "reason": "Elsewhere."},
            headers=p.counsellor,
        )
    )
    return t


async def in_intake(api: httpx.AsyncClient, p: People, partner_id: str) -> Template:
    """Registered, consented, a case open in intake with its entry check and assessments."""
    t = Template("in_intake")
    _client, case_id = await registered(api, p, t)
    await checked(api, p, case_id)
    return t


async def erased(api: httpx.AsyncClient, p: People, partner_id: str) -> Template:
    """A client with an accepted case who asked to be forgotten (erased in all four)."""
    t = Template("erased", erased=True)
    client_id, _case, _plan = await accepted(api, p, t)
    await ok(
        api.post(
            f"{INTAKE}/clients/{client_id}/erasure",
            json={"reason": "The client asked."},
            headers=p.counsellor,
        ),
        202,
    )

    async def done() -> Any:
        r = await api.get(f"{INTAKE}/clients/{client_id}/erasure", headers=p.counsellor)
        return r.status_code == 200 and r.json().get("status") == "completed"

    await eventually("the erasure completed", done)
    return t


# The mix cloned: journey → (share of the clients, at most this many days old). Seven
# years of history are mostly closed files; the work in flight is recent (an open
# follow-up older than its first check-in + the grace days would be overdue, which the
# follow-up job would raise for every one of them at the first start).
JOURNEYS: dict[str, tuple[Callable[..., Awaitable[Template]], float, int | None]] = {
    "full": (full, 0.55, None),
    "declined": (declined, 0.15, None),
    "erased": (erased, 0.05, None),
    "in_followup": (in_followup, 0.10, 20),
    "in_deepening": (in_deepening, 0.07, 365),
    "in_intake": (in_intake, 0.08, 365),
}


async def a_partner(api: httpx.AsyncClient, p: People) -> str:
    """A partner in the organisation's directory (the one every seeded referral goes to)."""
    body = {
        "name": "Budgetcoaching Seed",
        "description": "Help with debts and a household budget.",
        "services": [
            {
                "name": "Budget coaching",
                "category": "debt",
                "languages": ["nl", "fr"],
                "area": "Gent 9000",
                "eligibility": "Residents with debts",
            }
        ],
        "accepted_categories": ["identity", "contact", "career_question"],
        "contact_email": "referrals@seed.example.org",
        "capacity": 100_000,
    }
    return str(
        (await ok(api.post(f"{REFERRAL}/partners", json=body, headers=p.admin), 201))["partner_id"]
    )


async def run_templates(
    base_url: str, people: People, names: Sequence[str] | None = None
) -> list[Template]:
    """Run the journeys (`names`, default all of `JOURNEYS`): what they stored."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
        partner_id = await a_partner(api, people)
        people.partner = people.partner_of(partner_id)
        out = []
        for name in names or JOURNEYS:
            out.append(await JOURNEYS[name][0](api, people, partner_id))
        return out
