"""Packet minimisation, on the real PostgreSQL and NATS: a partner's packet and the
counsellor's printable letter hold exactly the data categories the client consented to
share with that partner, with the values opened, and nothing of any other category.

Every personal field of the client holds a marker string of its own (names, birth date,
email, phone, career question, the plan's goal title; the assessments are known by their
ids and the competence keys), so a leak of a category not consented to shows as one of
its markers anywhere in the response text. The client's data reaches referral only as
intake's and planning's events: a consent granted in intake, a plan agreed in planning.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.referral.queries import packet_sources
from tests.scenarios import (
    COMPETENCES,
    INTAKE,
    a_goal,
    a_granted_consent,
    a_registered_partner,
    an_action,
    partner_headers,
    proposal,
    propose,
    send,
    wait_for_plan,
)
from tests.scenarios import REFERRAL as BASE
from tests.support import assert_problem, eventually

ALL = ["identity", "contact", "career_question", "assessments", "plan"]
CLIENT_SCORES = {
    "quality_reflection": 1,
    "motive_reflection": 2,
    "work_exploration": 3,
    "career_steering": 4,
    "networking": 2,
}
COUNSELLOR_SCORES = {
    "quality_reflection": 4,
    "motive_reflection": 3,
    "work_exploration": 2,
    "career_steering": 1,
    "networking": 3,
}
LETTER_TITLE = {"en": "Referral", "nl": "Verwijzing", "fr": "Lettre d'orientation"}
REASON = proposal("", "")["reason"]
NO_PLAN = {
    "en": "No plan agreed yet.",
    "nl": "Nog geen plan afgesproken.",
    "fr": "Pas encore de plan convenu.",
}
# The competences as the letter names them (the packet has their codes).
NETWORKING = {"en": "Networking", "nl": "Netwerken", "fr": "Réseautage"}


# -- a client whose every field is a marker -----------------------------------------------------
@dataclass
class Marked:
    client_id: str
    case_id: str
    identity: dict[str, str]
    contact: dict[str, str]
    career_question: str
    assessments: dict[str, tuple[str, dict[str, int]]]  # assessor → (assessment_id, scores)
    plan: dict[str, Any] | None  # the agreed plan as the packet should show it
    # Per category: (marker, whether the letter shows it) when the category is shared.
    markers: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    # Markers no packet or letter may show (a goal of a plan not agreed).
    never: list[str] = field(default_factory=list)


async def marked_client(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    pool: Any,
    headers: dict[str, str],
    *,
    agree_plan: bool = True,
    preferred_language: str = "nl",
) -> Marked:
    """A client registered, assessed and accepted in intake, with a goal in planning (the
    plan agreed by both parties unless `agree_plan` is False), all of it known to
    referral. Every personal value is unique to this client."""
    m = uuid.uuid4().hex[:10]
    rnd = random.Random(m)
    identity = {
        "given_name": f"Givenmark{m}",
        "family_name": f"Familymark{m}",
        "birth_date": (date(1950, 1, 1) + timedelta(days=rnd.randrange(17_000))).isoformat(),
    }
    contact = {"email": f"mail.{m}@example.org", "phone": f"+32 4{rnd.randrange(10**7, 10**8)}"}
    question = f"Questionmark{m}: should I teach carpentry?"
    r = await api.post(
        f"{INTAKE}/clients",
        json={**identity, **contact, "preferred_language": preferred_language},
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
        json={"client_id": client_id, "career_question": question},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    case_id = str(r.json()["case_id"])
    assessments: dict[str, tuple[str, dict[str, int]]] = {}
    for what, body, expect in (
        ("entry-check", {"eligible": True}, 200),
        ("assessments", {"assessor": "client", "scores": CLIENT_SCORES}, 201),
        ("assessments", {"assessor": "counsellor", "scores": COUNSELLOR_SCORES}, 201),
        ("decision", {"decision": "accept"}, 200),
    ):
        r = await api.post(f"{INTAKE}/cases/{case_id}/{what}", json=body, headers=headers)
        assert r.status_code == expect, (what, r.text)
        if what == "assessments":
            assessments[body["assessor"]] = (str(r.json()["assessment_id"]), body["scores"])

    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "combined"})
    goal_body = a_goal(title=f"Goalmark{m} teach carpentry at a vocational school")
    goal = await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, goal_body, 201)
    action_body = an_action()
    action = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{goal['goal_id']}/actions",
        headers,
        action_body,
        201,
    )
    plan: dict[str, Any] | None = None
    if agree_plan:
        for party in ("client", "counsellor"):
            agreed = await send(
                planning_api, "POST", f"/plans/{plan_id}/agreement", headers, {"party": party}
            )
        assert agreed["status"] == "agreed"
        r = await planning_api.get(f"/planning/v1/plans/{plan_id}", headers=headers)
        [revision] = r.json()["agreed_revisions"]
        plan = {
            "plan_id": plan_id,
            "version": revision,
            "goals": [
                {
                    "goal_id": goal["goal_id"],
                    "title": goal_body["title"],
                    "priority": 1,
                    "target_date": goal_body["target_date"],
                }
            ],
            "actions": [
                {
                    "action_id": action["action_id"],
                    "goal_id": goal["goal_id"],
                    "owner": "client",
                    "due_date": action_body["due_date"],
                    "status": "open",
                }
            ],
        }

    # Referral knows it all only once intake's and planning's events are in.
    wanted = {
        ("identity", "given_name"): 1,
        ("identity", "family_name"): 1,
        ("identity", "birth_date"): 1,
        ("contact", "email"): 1,
        ("contact", "phone"): 1,
        ("career_question", "career_question"): 1,
        ("assessments", "scores"): 2,
        ("plan", "title"): 1,
    }
    if agree_plan:
        wanted[("plan", "summary")] = 1

    async def known() -> bool:
        rows = await packet_sources(pool, uuid.UUID(case_id), ALL)
        seen: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (row["category"], row["field"])
            seen[key] = seen.get(key, 0) + 1
        return seen == wanted

    await eventually(known, "the client's data in referral")

    out = Marked(
        client_id=client_id,
        case_id=case_id,
        identity=identity,
        contact=contact,
        career_question=question,
        assessments=assessments,
        plan=plan,
    )
    out.markers = {
        "identity": [(v, True) for v in identity.values()],
        "contact": [(v, True) for v in contact.values()],
        "career_question": [(question, True)],
        "assessments": [
            *((aid, False) for aid, _ in assessments.values()),
            # The letter names the competences in its language (see NETWORKING).
            *((key, False) for key in COMPETENCES),
        ],
        "plan": (
            [
                (goal_body["title"], True),
                (plan_id, False),
                (goal["goal_id"], False),
                (action["action_id"], False),
            ]
            if agree_plan
            else []
        ),
    }
    if not agree_plan:
        out.never = [goal_body["title"], plan_id, goal["goal_id"], action["action_id"]]
    return out


def assert_only_shared(text: str, client: Marked, categories: list[str], *, letter: bool) -> None:
    """Every marker of a shared category is in `text` (the letter shows only some), and no
    marker of any other category is, anywhere."""
    for category, markers in client.markers.items():
        for marker, in_letter in markers:
            if category not in categories:
                assert marker not in text, f"{category} leaked: {marker}"
            elif in_letter or not letter:
                assert marker in text, f"{category} missing: {marker}"
    for marker in client.never:
        assert marker not in text, f"never shared, yet present: {marker}"


def assert_packet(packet: dict[str, Any], client: Marked, categories: list[str]) -> None:
    """The packet holds exactly `categories`, each with its opened values."""
    assert packet["data_categories"] == categories
    assert {c for c in ALL if c in packet} == set(categories), sorted(packet)
    if "identity" in categories:
        assert packet["identity"] == client.identity
    if "contact" in categories:
        assert packet["contact"] == client.contact
    if "career_question" in categories:
        assert packet["career_question"] == client.career_question
    if "assessments" in categories:
        got = {a["assessor"]: (a["assessment_id"], a["scores"]) for a in packet["assessments"]}
        assert got == client.assessments
        assert all(a["recorded_at"] for a in packet["assessments"])
    if "plan" in categories and client.plan is not None:
        plan = packet["plan"]
        assert plan["agreed_at"]
        assert {k: v for k, v in plan.items() if k != "agreed_at"} == client.plan
    assert packet["access_id"] and packet["read_at"]


async def read_letter(
    referral_api: httpx.AsyncClient,
    referral_id: str,
    lang: str,
    counsellor: dict[str, str],
    *,
    ask: bool = True,
) -> str:
    """The letter in `lang`: asked for, or (`ask=False`) as the client's preferred language."""
    r = await referral_api.get(
        f"{BASE}/referrals/{referral_id}/letter",
        params={"lang": lang} if ask else {},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    text = r.text
    assert f'<html lang="{lang}">' in text
    assert f"<h1>{LETTER_TITLE[lang]}</h1>" in text
    return text


# -- the tests ----------------------------------------------------------------------------------
SUBSETS = {
    "identity only": ["identity"],
    "contact only": ["contact"],
    "career_question only": ["career_question"],
    "assessments only": ["assessments"],
    "plan only": ["plan"],
    "all five": ALL,
}


@pytest.mark.parametrize("categories", SUBSETS.values(), ids=SUBSETS.keys())
async def test_the_packet_and_the_letter_hold_exactly_the_consented_categories(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
    categories: list[str],
) -> None:
    pool = referral_app.state.runtime.pool
    client = await marked_client(api, planning_api, pool, counsellor)
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=5, accepted_categories=ALL
    )
    await a_granted_consent(api, pool, counsellor, client.client_id, partner_id, categories)
    referral_id = await propose(referral_api, counsellor, client.case_id, partner_id, categories)

    r = await referral_api.get(
        f"{BASE}/referrals/{referral_id}/packet", headers=partner_headers(token, partner_id)
    )
    assert r.status_code == 200, r.text
    packet = r.json()
    assert (packet["referral_id"], packet["partner_id"]) == (referral_id, partner_id)
    assert packet["reason"] == REASON
    assert_packet(packet, client, categories)
    assert_only_shared(r.text, client, categories, letter=False)

    for lang in ("en", "nl", "fr"):
        text = await read_letter(referral_api, referral_id, lang, counsellor)
        assert_only_shared(text, client, categories, letter=True)
        assert REASON in text
        assert (NETWORKING[lang] in text) == ("assessments" in categories)


async def test_a_plan_not_agreed_is_null_until_planning_agrees_it(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    client = await marked_client(api, planning_api, pool, counsellor, agree_plan=False)
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=5, accepted_categories=ALL
    )
    categories = ["career_question", "plan"]

    # No consent in intake yet: no referral.
    r = await referral_api.post(
        f"{BASE}/referrals",
        json=proposal(client.case_id, partner_id, data_categories=categories),
        headers=counsellor,
    )
    assert_problem(r, 409, "consent-required")
    # Granted in intake, delivered to referral: the referral is possible.
    await a_granted_consent(api, pool, counsellor, client.client_id, partner_id, categories)
    referral_id = await propose(referral_api, counsellor, client.case_id, partner_id, categories)
    partner = partner_headers(token, partner_id)

    r = await referral_api.get(f"{BASE}/referrals/{referral_id}/packet", headers=partner)
    assert r.status_code == 200, r.text
    before = r.json()
    assert before["data_categories"] == categories
    assert before["career_question"] == client.career_question
    assert_only_shared(r.text, client, categories, letter=False)  # no goal title, no plan id
    for lang in ("en", "nl", "fr"):
        text = await read_letter(referral_api, referral_id, lang, counsellor)
        assert NO_PLAN[lang] in text
        assert_only_shared(text, client, categories, letter=True)

    # Planning agrees the plan: its summary reaches the packet.
    plan_id = (await wait_for_plan(planning_api, counsellor, client.case_id))["plan_id"]
    for party in ("client", "counsellor"):
        agreed = await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", counsellor, {"party": party}
        )
    assert agreed["status"] == "agreed"

    async def with_plan() -> dict[str, Any] | None:
        r = await referral_api.get(f"{BASE}/referrals/{referral_id}/packet", headers=partner)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found if found.get("plan") else None

    plan = (await eventually(with_plan, "the agreed plan in the packet"))["plan"]
    assert plan["plan_id"] == plan_id
    [goal] = plan["goals"]
    assert goal["title"] in client.never and goal["title"].startswith("Goalmark")
    [action] = plan["actions"]
    assert action["goal_id"] == goal["goal_id"] and action["owner"] == "client"
    text = await read_letter(referral_api, referral_id, "en", counsellor)
    assert goal["title"] in text and NO_PLAN["en"] not in text

    # Before the agreement the consented category was there, and empty: `plan` is null.
    assert "plan" in before and before["plan"] is None, before


async def test_the_letter_is_in_the_client_preferred_language_with_the_agreed_plan(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
) -> None:
    pool = referral_app.state.runtime.pool
    client = await marked_client(api, planning_api, pool, counsellor, preferred_language="fr-BE")
    assert client.plan is not None
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=5, accepted_categories=ALL
    )
    await a_granted_consent(api, pool, counsellor, client.client_id, partner_id, ALL)
    referral_id = await propose(referral_api, counsellor, client.case_id, partner_id, ALL)

    # No language asked: the client's (fr-BE is French).
    french = await read_letter(referral_api, referral_id, "fr", counsellor, ask=False)
    assert_only_shared(french, client, ALL, letter=True)
    for heading in ("Question de carrière", "Plan de développement convenu", "Objectifs"):
        assert f">{heading}</" in french, heading
    [goal] = client.plan["goals"]
    [action] = client.plan["actions"]
    # The agreed version, the goal with its target date, its action with owner and due date.
    assert f"version {client.plan['version']}, approuvé le " in french
    assert f"{goal['title']} (date visée {goal['target_date']})" in french
    assert "<th>Qui</th><th>Échéance</th><th>État</th>" in french
    assert f"<td>client</td><td>{action['due_date']}</td><td>ouverte</td>" in french
    assert "Réseautage" in french and "Cette lettre ne contient que" in french
    # Asked for another language, the letter is in that one.
    english = await read_letter(referral_api, referral_id, "en", counsellor)
    assert f"<td>client</td><td>{action['due_date']}</td><td>open</td>" in english


async def test_a_narrowed_consent_serves_only_the_intersection(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    client = await marked_client(api, planning_api, pool, counsellor)
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=5, accepted_categories=ALL
    )
    await a_granted_consent(api, pool, counsellor, client.client_id, partner_id, ALL)
    referral_id = await propose(referral_api, counsellor, client.case_id, partner_id, ALL)
    partner = partner_headers(token, partner_id)
    r = await referral_api.get(f"{BASE}/referrals/{referral_id}/packet", headers=partner)
    assert r.status_code == 200, r.text
    assert_packet(r.json(), client, ALL)

    # Granted again in intake with fewer categories (and one the referral never named).
    await a_granted_consent(
        api, pool, counsellor, client.client_id, partner_id, ["contact", "plan"]
    )
    r = await referral_api.get(f"{BASE}/referrals/{referral_id}/packet", headers=partner)
    assert r.status_code == 200, r.text
    assert_packet(r.json(), client, ["contact", "plan"])
    assert_only_shared(r.text, client, ["contact", "plan"], letter=False)
    for lang in ("en", "nl"):
        text = await read_letter(referral_api, referral_id, lang, counsellor)
        assert_only_shared(text, client, ["contact", "plan"], letter=True)

    # A referral that named fewer: the intersection of what it named and what is consented.
    await a_granted_consent(
        api, pool, counsellor, client.client_id, partner_id, ["identity", "contact"]
    )
    narrow = await propose(referral_api, counsellor, client.case_id, partner_id, ["identity"])
    await a_granted_consent(api, pool, counsellor, client.client_id, partner_id, ALL)
    r = await referral_api.get(f"{BASE}/referrals/{narrow}/packet", headers=partner)
    assert r.status_code == 200, r.text
    assert_packet(r.json(), client, ["identity"])
    assert_only_shared(r.text, client, ["identity"], letter=False)
    r = await referral_api.get(f"{BASE}/referrals/{referral_id}/packet", headers=partner)
    assert_packet(r.json(), client, ALL)

    # Narrowing is not a withdrawal: nothing was revoked.
    for rid in (referral_id, narrow):
        r = await referral_api.get(f"{BASE}/referrals/{rid}", headers=counsellor)
        assert r.json()["consent_revoked"] is False
