"""Planning's HTTP API against the contract: the journey from an accepted case to an agreed
and revised plan, the SMART refusal, and a table of bad requests for every planning path
that must each answer problem+json and change nothing.

Plans are created by planning itself when intake accepts a case (over NATS), so every
test starts in intake, in an organisation of its own, and waits for its plan.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from eventsourcing.utils import get_topic

from shared.audit.access import DataAccess
from tests.support import INVALID, assert_problem, bearer, fill, new_org

INTAKE = "/intake/v1"
BASE = "/planning/v1"
COMPETENCES = (
    "quality_reflection",
    "motive_reflection",
    "work_exploration",
    "career_steering",
    "networking",
)
SMART = ("specific", "measurable", "achievable", "relevant", "time_bound")
ALL_THREES = dict.fromkeys(COMPETENCES, 3)
CLIENT_SCORES = {**ALL_THREES, "networking": 2, "career_steering": 4}
COUNSELLOR_SCORES = {**ALL_THREES, "quality_reflection": 1}
ESCO_SKILL = "http://data.europa.eu/esco/skill/e465a154-93f6-4bd6-9b6e-0b7c8b5b8d4c"
ESCO_OCCUPATION = "http://data.europa.eu/esco/occupation/0e5b3c4c-5e2a-4b0d-8f3e-5d1c2a7e9b11"
PLAN_WAIT_SECONDS = 10.0


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


@pytest.fixture
def org() -> str:
    return new_org()


@pytest.fixture
def counsellor(token: Any, org: str) -> dict[str, str]:
    return bearer(token("counsellor", org=org, sub="counsellor-1"))


# -- helpers ------------------------------------------------------------------------------------
async def accepted_case(
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
        r = await planning_api.get(f"{BASE}/plans", params={"case_id": case_id}, headers=headers)
        assert r.status_code == 200, r.text
        if r.json():
            [plan] = r.json()
            return dict(plan)
        assert asyncio.get_running_loop().time() < deadline, f"no plan for case {case_id}"
        await asyncio.sleep(0.05)


async def new_plan(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    headers: dict[str, str],
    **client: Any,
) -> dict[str, Any]:
    _, case_id = await accepted_case(api, headers, **client)
    return await wait_for_plan(planning_api, headers, case_id)


async def send(
    planning_api: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    r = await planning_api.request(method, BASE + path, json=body, headers=headers)
    assert r.status_code == expect, (method, path, r.text)
    out = dict(r.json())
    if expect < 300:
        assert r.headers["etag"] == f'"{out["version"]}"'
    return out


async def get_plan(
    planning_api: httpx.AsyncClient, plan_id: str, headers: dict[str, str]
) -> httpx.Response:
    r = await planning_api.get(f"{BASE}/plans/{plan_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    return r


async def event_count(app: Any, plan_id: str) -> int:
    return int(
        await app.state.runtime.pool.fetchval(
            "SELECT count(*) FROM planning.planning_events WHERE originator_id = $1",
            uuid.UUID(plan_id),
        )
    )


# -- the happy journey ----------------------------------------------------------------------------
async def test_a_plan_goes_from_an_accepted_case_to_agreed_revised_and_agreed_again(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    counsellor: dict[str, str],
    token: Any,
    org: str,
) -> None:
    client_id, case_id = await accepted_case(api, counsellor)

    plan = await wait_for_plan(planning_api, counsellor, case_id)
    plan_id = plan["plan_id"]
    assert (plan["case_id"], plan["client_id"], plan["organisation"]) == (case_id, client_id, org)
    assert (plan["status"], plan["plan_type"], plan["goals"]) == ("draft", None, [])
    assert plan["suggested_focus"] == {
        "gaps": ["quality_reflection", "networking"],
        "scores": {"client": CLIENT_SCORES, "counsellor": COUNSELLOR_SCORES},
    }
    assert (plan["version"], plan["revision"], plan["agreed_versions"]) == (1, 0, [])
    assert (await get_plan(planning_api, plan_id, counsellor)).headers["etag"] == '"1"'
    assert await event_count(planning_app, plan_id) == 1

    out = await send(
        planning_api, "PUT", f"/plans/{plan_id}/type", counsellor, {"plan_type": "action"}
    )
    assert (out["version"], out["status"], out["revision"]) == (2, "draft", 1)

    out = await send(planning_api, "POST", f"/plans/{plan_id}/goals", counsellor, a_goal(), 201)
    network = out["goal_id"]
    assert (out["version"], out["revision"]) == (3, 2)
    cv_goal = a_goal(
        title="Rewrite the CV for teaching posts",
        specific="Rewrite the CV around the training and coaching done in logistics",
        measure="A new CV reviewed by 2 school principals",
        target_date=days(60),
        competences=["quality_reflection", "career_steering"],
        priority=1,
    )
    cv = (await send(planning_api, "POST", f"/plans/{plan_id}/goals", counsellor, cv_goal, 201))[
        "goal_id"
    ]

    actions = {}
    for name, goal, body in (
        ("ask", network, an_action()),
        (
            "visit",
            network,
            an_action(description="Visit an open day", owner="counsellor", due_date=days(45)),
        ),
        (
            "course",
            network,
            an_action(description="Join a teacher fair", owner="partner", due_date=days(90)),
        ),
        ("draft", cv, an_action(description="Draft the new CV", due_date=days(20))),
    ):
        out = await send(
            planning_api, "POST", f"/plans/{plan_id}/goals/{goal}/actions", counsellor, body, 201
        )
        actions[name] = out["action_id"]
    out = await send(
        planning_api, "POST", f"/plans/{plan_id}/actions/{actions['ask']}/complete", counsellor
    )
    assert out["version"] == 9
    out = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/actions/{actions['visit']}/cancel",
        counsellor,
        {"reason": "No open day before the summer"},
    )
    assert out["version"] == 10

    plan = (await get_plan(planning_api, plan_id, counsellor)).json()
    assert [(g["goal_id"], g["priority"]) for g in plan["goals"]] == [(cv, 1), (network, 2)]
    out = await send(
        planning_api, "PUT", f"/plans/{plan_id}/priorities", counsellor, {"order": [network, cv]}
    )
    assert out["version"] == 11

    analysis: dict[str, Any] = {
        "career_target": "Teacher of economics in secondary education",
        "strengths": [{"text": "Coaching new colleagues", "esco_uri": ESCO_SKILL}],
        "weaknesses": [{"text": "No teaching qualification"}],
        "training_needs": [
            {"text": "Teacher training for career changers", "esco_uri": ESCO_OCCUPATION}
        ],
    }
    await send(planning_api, "PUT", f"/plans/{plan_id}/competence-analysis", counsellor, analysis)
    evidence = {
        "title": "Certificate of forklift instruction",
        "kind": "certificate",
        "description": "Trained twelve new drivers a year",
        "date": "2019-03-01",
        "document_hash": "sha256:" + "ab" * 32,
    }
    out = await send(
        planning_api, "POST", f"/plans/{plan_id}/portfolio/evidence", counsellor, evidence, 201
    )
    evidence_id = out["evidence_id"]
    assessment = {
        "standard": "Beroepsprofiel leraar secundair onderwijs",
        "comparison": "Instruction experience covers the didactic part in part",
        "advice": "continue",
    }
    out = await send(
        planning_api, "PUT", f"/plans/{plan_id}/portfolio/assessment", counsellor, assessment
    )
    assert (out["version"], out["status"]) == (14, "draft")

    r = await get_plan(planning_api, plan_id, counsellor)
    plan = r.json()
    assert r.headers["etag"] == '"14"'
    assert (plan["plan_type"], plan["status"], plan["version"]) == ("action", "draft", 14)
    assert [(g["goal_id"], g["priority"]) for g in plan["goals"]] == [(network, 1), (cv, 2)]
    first = plan["goals"][0]
    assert first["title"] == "Build a network in secondary education"
    assert first["specific"] == a_goal()["specific"]
    assert first["measure"] == a_goal()["measure"]
    assert (first["target_date"], first["competences"]) == (days(90), ["networking"])
    assert [(a["action_id"], a["owner"], a["due_date"], a["status"]) for a in first["actions"]] == [
        (actions["ask"], "client", days(30), "completed"),
        (actions["visit"], "counsellor", days(45), "cancelled"),
        (actions["course"], "partner", days(90), "open"),
    ]
    assert first["actions"][0]["closed_at"] is not None
    assert first["actions"][2]["closed_at"] is None
    assert [a["action_id"] for a in plan["goals"][1]["actions"]] == [actions["draft"]]
    assert plan["competence_analysis"]["career_target"] == analysis["career_target"]
    for part in ("strengths", "weaknesses", "training_needs"):
        assert [
            {"text": i["text"], "esco_uri": i.get("esco_uri")}
            for i in plan["competence_analysis"][part]
        ] == [{"text": i["text"], "esco_uri": i.get("esco_uri")} for i in analysis[part]]
    [item] = plan["portfolio"]["evidence"]
    assert item["evidence_id"] == evidence_id
    assert (item["title"], item["kind"], item["dated"]) == (
        evidence["title"],
        "certificate",
        "2019-03-01",
    )
    assert item["document_hash"] == evidence["document_hash"]
    assert plan["portfolio"]["assessment"]["standard"] == assessment["standard"]
    assert plan["portfolio"]["assessment"]["advice"] == "continue"
    assert await event_count(planning_app, plan_id) == 14

    # The client agrees first: not yet a contract; then the counsellor: agreed.
    out = await send(
        planning_api, "POST", f"/plans/{plan_id}/agreement", counsellor, {"party": "client"}
    )
    assert out["status"] == "draft"
    revision = out["revision"]
    out = await send(
        planning_api, "POST", f"/plans/{plan_id}/agreement", counsellor, {"party": "counsellor"}
    )
    assert (out["status"], out["revision"]) == ("agreed", revision)
    plan = (await get_plan(planning_api, plan_id, counsellor)).json()
    assert plan["status"] == "agreed"
    assert (plan["agreed_versions"], plan["agreed_revisions"]) == ([1], [revision])
    assert plan["latest_agreed_version"] == 1
    assert {p: a["revision"] for p, a in plan["agreements"].items()} == {
        "client": revision,
        "counsellor": revision,
    }

    r = await planning_api.get(f"{BASE}/plans/{plan_id}/versions/1", headers=counsellor)
    assert r.status_code == 200, r.text
    first_version = r.json()
    assert (first_version["plan_id"], first_version["version"]) == (plan_id, 1)
    assert first_version["revision"] == revision
    assert set(first_version["agreements"]) == {"client", "counsellor"}
    assert first_version["content"]["plan_type"] == "action"
    assert [g["goal_id"] for g in first_version["content"]["goals"]] == [network, cv]
    assert first_version["content"]["goals"][0]["title"] == first["title"]
    assert len(first_version["content"]["goals"][0]["actions"]) == 3
    assert first_version["content"]["portfolio"]["assessment"]["advice"] == "continue"
    for missing in (2, revision):
        r = await planning_api.get(f"{BASE}/plans/{plan_id}/versions/{missing}", headers=counsellor)
        problem = assert_problem(r, 404, "not-found")
        assert "This plan has agreed version 1." in problem["detail"]

    # A change after the agreement: revised, until both agree again.
    out = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{cv}/actions",
        counsellor,
        an_action(description="Send the CV to three schools", due_date=days(55)),
        201,
    )
    late_action = out["action_id"]
    assert out["status"] == "revised"
    assert out["revision"] == revision + 1
    assert (await get_plan(planning_api, plan_id, counsellor)).json()["status"] == "revised"
    out = await send(
        planning_api, "POST", f"/plans/{plan_id}/agreement", counsellor, {"party": "counsellor"}
    )
    assert out["status"] == "revised"
    out = await send(
        planning_api, "POST", f"/plans/{plan_id}/agreement", counsellor, {"party": "client"}
    )
    assert (out["status"], out["revision"]) == ("agreed", revision + 1)
    plan = (await get_plan(planning_api, plan_id, counsellor)).json()
    assert (plan["status"], plan["agreed_versions"]) == ("agreed", [1, 2])
    assert plan["agreed_revisions"] == [revision, revision + 1]
    assert plan["latest_agreed_version"] == 2

    r = await planning_api.get(f"{BASE}/plans/{plan_id}/versions/1", headers=counsellor)
    assert r.status_code == 200, r.text
    assert r.json() == first_version
    r = await planning_api.get(f"{BASE}/plans/{plan_id}/versions/2", headers=counsellor)
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["revision"]) == (2, revision + 1)
    second = r.json()["content"]
    assert [a["action_id"] for a in second["goals"][1]["actions"]] == [
        actions["draft"],
        late_action,
    ]

    # A team lead reads the plan and its versions too.
    lead = bearer(token("team_lead", org=org))
    assert (await get_plan(planning_api, plan_id, lead)).json()["version"] == plan["version"]


async def test_agreed_versions_are_numbered_by_agreement_and_listed(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    counsellor: dict[str, str],
) -> None:
    plan_id = (await new_plan(api, planning_api, counsellor))["plan_id"]
    url = f"{BASE}/plans/{plan_id}"
    r = await planning_api.get(f"{url}/versions", headers=counsellor)
    assert (r.status_code, r.json()) == (200, [])
    problem = assert_problem(
        await planning_api.get(f"{url}/versions/1", headers=counsellor), 404, "not-found"
    )
    assert "This plan has no agreed version yet." in problem["detail"]

    # Three changes of content (revisions 1-3), then both agree: the first agreed version.
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", counsellor, {"plan_type": "action"})
    goal_id = (
        await send(planning_api, "POST", f"/plans/{plan_id}/goals", counsellor, a_goal(), 201)
    )["goal_id"]
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{goal_id}/actions",
        counsellor,
        an_action(),
        201,
    )
    for party in ("client", "counsellor"):
        out = await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", counsellor, {"party": party}
        )
    assert (out["status"], out["revision"]) == ("agreed", 3)

    r = await planning_api.get(f"{url}/versions/1", headers=counsellor)
    assert r.status_code == 200, r.text
    first = r.json()
    assert (first["version"], first["revision"]) == (1, 3)
    assert [g["goal_id"] for g in first["content"]["goals"]] == [goal_id]
    for missing in (2, 3):
        r = await planning_api.get(f"{url}/versions/{missing}", headers=counsellor)
        problem = assert_problem(r, 404, "not-found")
        assert problem["detail"] == (
            f"Plan {plan_id} has no agreed version {missing}. This plan has agreed version 1."
        )

    # A fourth change, agreed again: version 2, agreed on revision 4.
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{goal_id}/actions",
        counsellor,
        an_action(description="Visit a school open day"),
        201,
    )
    for party in ("counsellor", "client"):
        await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", counsellor, {"party": party}
        )
    plan = (await get_plan(planning_api, plan_id, counsellor)).json()
    assert (plan["agreed_versions"], plan["agreed_revisions"]) == ([1, 2], [3, 4])
    assert plan["latest_agreed_version"] == 2

    r = await planning_api.get(f"{url}/versions", headers=counsellor)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert [(v["version"], v["revision"], v["goals"]) for v in listed] == [(1, 3, 1), (2, 4, 1)]
    assert [v["plan_type"] for v in listed] == ["action", "action"]
    assert listed[0]["agreed_at"] == first["agreed_at"] <= listed[1]["agreed_at"]
    assert {p: a["actor"] for p, a in listed[1]["agreements"].items()} == {
        "client": "counsellor-1",
        "counsellor": "counsellor-1",
    }
    assert all(a["revision"] == 4 for a in listed[1]["agreements"].values())
    r = await planning_api.get(f"{url}/versions/2", headers=counsellor)
    assert (r.json()["version"], r.json()["revision"]) == (2, 4)
    r = await planning_api.get(f"{url}/versions/3", headers=counsellor)
    assert (
        "This plan has agreed versions 1\u20132." in assert_problem(r, 404, "not-found")["detail"]
    )

    # Reading the list is a recorded read of the plan, like reading a version.
    app = planning_app.state.application
    topic = get_topic(DataAccess.Recorded)
    resources = [
        e.resource
        for n in app.recorder.select_notifications(1, 100_000, topics=[topic])
        if str((e := app.mapper.to_domain_event(n)).case_id) == plan["case_id"]
    ]
    assert resources.count("plan-versions") == 2
    assert resources.count("plan-version") >= 5


async def wait_for_document(
    planning_api: httpx.AsyncClient,
    plan_id: str,
    headers: dict[str, str],
    wanted: str,
    lang: str | None = None,
) -> str:
    """The client's document once it shows `wanted` (the client's name arrives over NATS)."""
    params = {"lang": lang} if lang else {}
    deadline = asyncio.get_running_loop().time() + PLAN_WAIT_SECONDS
    while True:
        r = await planning_api.get(
            f"{BASE}/plans/{plan_id}/document", params=params, headers=headers
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html"), r.headers
        if wanted in r.text:
            return r.text
        assert asyncio.get_running_loop().time() < deadline, r.text
        await asyncio.sleep(0.05)


async def test_the_client_document_is_printable_html_in_the_client_language(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    given = f"Anneke{uuid.uuid4().hex[:6]}"
    plan = await new_plan(api, planning_api, counsellor, given_name=given, family_name="Janssens")
    plan_id = plan["plan_id"]
    assert sorted(plan["suggested_focus"]["gaps"]) == ["networking", "quality_reflection"]
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", counsellor, {"plan_type": "combined"})
    goal_id = (
        await send(planning_api, "POST", f"/plans/{plan_id}/goals", counsellor, a_goal(), 201)
    )["goal_id"]
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{goal_id}/actions",
        counsellor,
        an_action(owner="counsellor"),
        201,
    )
    for party in ("client", "counsellor"):
        await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", counsellor, {"party": party}
        )

    # The name and the career question arrive over NATS, each with its own event.
    await wait_for_document(planning_api, plan_id, counsellor, f"{given} Janssens")
    dutch = await wait_for_document(planning_api, plan_id, counsellor, "move from logistics")
    assert dutch.lstrip().lower().startswith("<!doctype html>")
    assert '<html lang="nl">' in dutch
    assert "Persoonlijk ontwikkelingsplan" in dutch
    assert "Personal development plan" not in dutch
    assert "<h2>Loopbaanvraag</h2>" in dutch
    assert "Should I move from logistics?" in dutch
    # The gaps from intake, by their Dutch names.
    assert "<h2>Te ontwikkelen competenties</h2>" in dutch
    assert "<li>Netwerken</li>" in dutch and "<li>Kwaliteitenreflectie</li>" in dutch
    assert "Build a network in secondary education" in dutch
    assert "Talk with five teachers about their daily work" in dutch
    # The goal's SMART measure and target date, the action with its owner and due date.
    assert "Waaraan we zien dat het bereikt is" in dutch
    assert "5 conversations held and written up in the portfolio" in dutch
    assert "Ask two former colleagues for an introduction" in dutch
    assert days(30) in dutch and days(90) in dutch
    assert "loopbaanbegeleider" in dutch  # the action's owner, in Dutch
    assert "Akkoord van" in dutch  # the agreement, with its dates
    assert "(versie 1)" in dutch  # the first agreed version, not the revision (3)
    assert "<dt>Goedgekeurde versie</dt><dd>1</dd>" in dutch

    english = await wait_for_document(planning_api, plan_id, counsellor, given, lang="en")
    assert '<html lang="en">' in english
    assert "Personal development plan" in english
    assert "Persoonlijk ontwikkelingsplan" not in english
    assert "<h2>Career question</h2>" in english
    assert "<li>Networking</li>" in english
    assert "Build a network in secondary education" in english
    assert f"{given} Janssens" in english
    assert "Agreed by" in english
    assert "(version 1)" in english and "(version 3)" not in english

    french = await wait_for_document(planning_api, plan_id, counsellor, given, lang="fr")
    assert '<html lang="fr">' in french
    assert "Plan personnel de développement" in french
    assert "Persoonlijk ontwikkelingsplan" not in french
    assert "<h2>Question de carrière</h2>" in french
    assert "<h2>Compétences à développer</h2>" in french
    assert "<li>Réseautage</li>" in french
    assert "Comment nous savons qu'il est atteint" in french
    assert "5 conversations held and written up in the portfolio" in french
    assert "conseiller" in french  # the action's owner, in French
    assert "Approuvé par le client le" in french and "(version 1)" in french
    assert "<dt>Version approuvée</dt><dd>1</dd>" in french


@pytest.mark.parametrize(
    ("preferred", "title", "other"),
    [
        ("en", "Personal development plan", "Persoonlijk ontwikkelingsplan"),
        ("fr-BE", "Plan personnel de développement", "Personal development plan"),
    ],
)
async def test_the_document_is_in_the_client_preferred_language_unless_asked(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    counsellor: dict[str, str],
    preferred: str,
    title: str,
    other: str,
) -> None:
    given = f"Emma{uuid.uuid4().hex[:6]}"
    plan = await new_plan(
        api, planning_api, counsellor, given_name=given, preferred_language=preferred
    )
    page = await wait_for_document(planning_api, plan["plan_id"], counsellor, given)
    assert f'<html lang="{preferred[:2]}">' in page
    assert title in page and other not in page
    dutch = await wait_for_document(planning_api, plan["plan_id"], counsellor, given, lang="nl")
    assert "Persoonlijk ontwikkelingsplan" in dutch


async def test_html_in_goal_and_action_texts_is_escaped_in_the_document(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    plan = await new_plan(api, planning_api, counsellor)
    plan_id = plan["plan_id"]
    title = '<script>alert("pwned")</script> & <b>Tom\'s</b> network'
    goal_id = (
        await send(
            planning_api, "POST", f"/plans/{plan_id}/goals", counsellor, a_goal(title=title), 201
        )
    )["goal_id"]
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{goal_id}/actions",
        counsellor,
        an_action(description="Mail <img src=x onerror=alert(1)> the school"),
        201,
    )
    assert (await get_plan(planning_api, plan_id, counsellor)).json()["goals"][0]["title"] == title

    page = await wait_for_document(planning_api, plan_id, counsellor, "network")
    assert "<script>" not in page and "<b>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; " in page
    assert "&lt;b&gt;Tom&#x27;s&lt;/b&gt; network" in page
    assert "Mail &lt;img src=x onerror=alert(1)&gt; the school" in page


# -- SMART -----------------------------------------------------------------------------------------
NOT_SMART: dict[str, tuple[dict[str, Any], set[str]]] = {
    "specific-only-the-title": (
        a_goal(specific="Build a network in secondary education"),
        {"specific"},
    ),
    "specific-too-short": (a_goal(specific="Meet teachers"), {"specific"}),
    "measurable-vague": (a_goal(measure="better"), {"measurable"}),
    "achievable-too-soon": (a_goal(target_date=days(3)), {"achievable"}),
    "relevant-no-competence": (a_goal(competences=[]), {"relevant"}),
    "time-bound-beyond-horizon": (a_goal(target_date=days(600)), {"time_bound"}),
    "time-bound-in-the-past": (a_goal(target_date=days(-1)), {"achievable", "time_bound"}),
    "all-five": (
        a_goal(specific="Network", measure="more", competences=[], target_date=days(0)),
        set(SMART),
    ),
}


@pytest.mark.parametrize(("goal", "failed"), list(NOT_SMART.values()), ids=list(NOT_SMART))
async def test_a_goal_that_is_not_smart_is_refused_naming_each_failed_criterion(
    goal: dict[str, Any],
    failed: set[str],
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    counsellor: dict[str, str],
) -> None:
    plan_id = (await new_plan(api, planning_api, counsellor))["plan_id"]
    before = await get_plan(planning_api, plan_id, counsellor)
    count = await event_count(planning_app, plan_id)

    r = await planning_api.post(f"{BASE}/plans/{plan_id}/goals", json=goal, headers=counsellor)

    body = assert_problem(r, 422, "not-smart")
    fields = [e["field"] for e in body["errors"]]
    assert sorted(fields) == sorted(failed), fields
    assert all(isinstance(e["message"], str) and len(e["message"]) > 10 for e in body["errors"])
    assert "Build a network" not in body["detail"]
    after = await get_plan(planning_api, plan_id, counsellor)
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()
    assert await event_count(planning_app, plan_id) == count


async def test_a_goal_beyond_the_limit_of_open_goals_is_not_achievable(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    counsellor: dict[str, str],
    settings: Any,
) -> None:
    plan_id = (await new_plan(api, planning_api, counsellor))["plan_id"]
    for n in range(settings.plan_max_open_goals):
        await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/goals",
            counsellor,
            a_goal(title=f"Goal number {n + 1}", priority=n + 1),
            201,
        )
    before = await get_plan(planning_api, plan_id, counsellor)
    count = await event_count(planning_app, plan_id)

    r = await planning_api.post(
        f"{BASE}/plans/{plan_id}/goals", json=a_goal(title="One goal too many"), headers=counsellor
    )

    body = assert_problem(r, 422, "not-smart")
    assert [e["field"] for e in body["errors"]] == ["achievable"]
    assert (await get_plan(planning_api, plan_id, counsellor)).json() == before.json()
    assert await event_count(planning_app, plan_id) == count


async def test_a_closed_plan_changes_no_more_and_says_why(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    counsellor: dict[str, str],
) -> None:
    plan_id = (await new_plan(api, planning_api, counsellor))["plan_id"]
    r = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/close",
        counsellor,
        {"reason": "Guidance ended"},
        200,
    )
    assert r["status"] == "closed"
    plan = (await get_plan(planning_api, plan_id, counsellor)).json()
    assert plan["status"] == "closed" and plan["closed"]["reason"] == "Guidance ended"
    count = await event_count(planning_app, plan_id)
    r = await planning_api.post(f"{BASE}/plans/{plan_id}/goals", json=a_goal(), headers=counsellor)
    assert_problem(r, 409, "plan-closed")
    r = await planning_api.post(f"{BASE}/plans/{plan_id}/close", headers=counsellor)
    assert_problem(r, 409, "plan-closed")
    assert await event_count(planning_app, plan_id) == count


# -- priorities, concurrency, organisations -----------------------------------------------------
async def test_a_goal_added_at_a_priority_shifts_the_others_down_and_reranking_keeps_all(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    plan_id = (await new_plan(api, planning_api, counsellor))["plan_id"]
    ids = []
    for title, priority in (("First goal", 1), ("Second goal", 2), ("Squeezed in", 2)):
        out = await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/goals",
            counsellor,
            a_goal(title=title, priority=priority),
            201,
        )
        ids.append(out["goal_id"])
    goals = (await get_plan(planning_api, plan_id, counsellor)).json()["goals"]
    assert [(g["title"], g["priority"]) for g in goals] == [
        ("First goal", 1),
        ("Squeezed in", 2),
        ("Second goal", 3),
    ]

    order = [ids[1], ids[0], ids[2]]
    await send(planning_api, "PUT", f"/plans/{plan_id}/priorities", counsellor, {"order": order})
    goals = (await get_plan(planning_api, plan_id, counsellor)).json()["goals"]
    assert [(g["goal_id"], g["priority"]) for g in goals] == [
        (ids[1], 1),
        (ids[0], 2),
        (ids[2], 3),
    ]


async def test_if_match_with_the_current_version_lets_a_command_through(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    plan_id = (await new_plan(api, planning_api, counsellor))["plan_id"]
    etag = (await get_plan(planning_api, plan_id, counsellor)).headers["etag"]
    r = await planning_api.put(
        f"{BASE}/plans/{plan_id}/type",
        json={"plan_type": "reflection"},
        headers={**counsellor, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    r = await planning_api.post(
        f"{BASE}/plans/{plan_id}/goals",
        json=a_goal(),
        headers={**counsellor, "If-Match": 'W/"2"'},
    )
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"3"'


async def test_another_organisations_plan_reads_exactly_like_an_absent_one(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, counsellor: dict[str, str], token: Any
) -> None:
    plan_id = (await new_plan(api, planning_api, counsellor))["plan_id"]
    stranger = bearer(token("counsellor", org=new_org()))
    absent = str(uuid.uuid4())
    for path in ("/plans/{}", "/plans/{}/document", "/plans/{}/versions/1"):
        theirs = await planning_api.get(BASE + path.format(plan_id), headers=stranger)
        missing = await planning_api.get(BASE + path.format(absent), headers=stranger)
        a = assert_problem(theirs, 404, "not-found")
        b = assert_problem(missing, 404, "not-found")
        assert set(a) == set(b)
        assert a["detail"].replace(plan_id, "ID") == b["detail"].replace(absent, "ID")
        assert "Anna" not in theirs.text and "network" not in theirs.text


async def test_plans_list_only_the_own_organisation(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    counsellor: dict[str, str],
    token: Any,
    org: str,
) -> None:
    plans = [await new_plan(api, planning_api, counsellor) for _ in range(3)]
    other_org = bearer(token("counsellor", org=new_org()))
    other_plan = await new_plan(api, planning_api, other_org)
    await send(
        planning_api,
        "PUT",
        f"/plans/{plans[0]['plan_id']}/type",
        counsellor,
        {"plan_type": "action"},
    )

    r = await planning_api.get(
        f"{BASE}/plans", params={"case_id": plans[1]["case_id"]}, headers=counsellor
    )
    assert r.status_code == 200, r.text
    assert [p["plan_id"] for p in r.json()] == [plans[1]["plan_id"]]
    assert r.headers["x-total-count"] == "1"
    r = await planning_api.get(
        f"{BASE}/plans", params={"case_id": plans[1]["case_id"]}, headers=other_org
    )
    assert r.status_code == 200, r.text
    assert (r.json(), r.headers["x-total-count"]) == ([], "0")
    r = await planning_api.get(
        f"{BASE}/plans", params={"case_id": str(uuid.uuid4())}, headers=counsellor
    )
    assert (r.status_code, r.json()) == (200, [])

    # The list without case_id follows a read model: wait until it shows all three.
    deadline = asyncio.get_running_loop().time() + PLAN_WAIT_SECONDS
    while True:
        r = await planning_api.get(f"{BASE}/plans", headers=counsellor)
        assert r.status_code == 200, r.text
        if r.headers["x-total-count"] == "3":
            break
        assert asyncio.get_running_loop().time() < deadline, r.headers
        await asyncio.sleep(0.05)
    listed = r.json()
    assert {p["plan_id"] for p in listed} == {p["plan_id"] for p in plans}
    assert all(p["organisation"] == org for p in listed)
    assert other_plan["plan_id"] not in {p["plan_id"] for p in listed}
    for p in listed:
        assert {"plan_id", "case_id", "status", "plan_type", "goals", "version"} <= set(p)

    r = await planning_api.get(f"{BASE}/plans", params={"limit": 2}, headers=counsellor)
    assert (len(r.json()), r.headers["x-total-count"]) == (2, "3")
    assert 'rel="next"' in r.headers["link"]
    r2 = await planning_api.get(
        f"{BASE}/plans", params={"limit": 2, "offset": 2}, headers=counsellor
    )
    assert len(r2.json()) == 1 and "link" not in r2.headers
    assert {p["plan_id"] for p in r.json() + r2.json()} == {p["plan_id"] for p in plans}

    r = await planning_api.get(f"{BASE}/plans", headers=other_org)
    assert [p["plan_id"] for p in r.json()] == [other_plan["plan_id"]]
    assert r.headers["x-total-count"] == "1"
    lead = bearer(token("team_lead", org=org))
    assert (await planning_api.get(f"{BASE}/plans", headers=lead)).headers["x-total-count"] == "3"

    # Filtered by status: agree the first plan, revise it, agree it again.
    agreed_id = plans[0]["plan_id"]
    await send(planning_api, "POST", f"/plans/{agreed_id}/goals", counsellor, a_goal(), 201)
    for party in ("client", "counsellor"):
        await send(
            planning_api, "POST", f"/plans/{agreed_id}/agreement", counsellor, {"party": party}
        )

    async def listed_with(status: str) -> tuple[list[str], str]:
        r = await planning_api.get(f"{BASE}/plans", params={"status": status}, headers=counsellor)
        assert r.status_code == 200, r.text
        return [p["plan_id"] for p in r.json()], r.headers["x-total-count"]

    assert await listed_with("agreed") == ([agreed_id], "1")
    drafts, total = await listed_with("draft")
    assert (set(drafts), total) == ({plans[1]["plan_id"], plans[2]["plan_id"]}, "2")
    await send(
        planning_api, "PUT", f"/plans/{agreed_id}/type", counsellor, {"plan_type": "combined"}
    )
    assert await listed_with("revised") == ([agreed_id], "1")
    assert await listed_with("agreed") == ([], "0")
    r = await planning_api.get(
        f"{BASE}/plans",
        params={"case_id": plans[0]["case_id"], "status": "revised"},
        headers=counsellor,
    )
    assert [p["plan_id"] for p in r.json()] == [agreed_id]


# -- bad requests: every path answers a problem and changes nothing ------------------------------
@dataclass(frozen=True)
class Bad:
    method: str
    path: str
    status: int
    code: str
    body: Any = None
    raw: str | None = None
    fields: tuple[str, ...] = ()
    who: str = "counsellor"
    if_match: str | None = None


P_PLANS = "/plans"
P_PLAN = "/plans/{plan}"
P_VERSION = "/plans/{plan}/versions/1"
P_DOC = "/plans/{plan}/document"
P_TYPE = "/plans/{plan}/type"
P_GOALS = "/plans/{plan}/goals"
P_PRIO = "/plans/{plan}/priorities"
P_ACTIONS = "/plans/{plan}/goals/{goal}/actions"
P_COMPLETE = "/plans/{plan}/actions/{action}/complete"
P_CANCEL = "/plans/{plan}/actions/{action}/cancel"
P_ANALYSIS = "/plans/{plan}/competence-analysis"
P_EVIDENCE = "/plans/{plan}/portfolio/evidence"
P_ASSESS = "/plans/{plan}/portfolio/assessment"
P_AGREE = "/plans/{plan}/agreement"
TYPE = {"plan_type": "reflection"}
ORDER = {"order": ["{goal2}", "{goal}"]}
ANALYSIS = {"career_target": "Teacher", "strengths": [{"text": "Coaching"}]}
EVIDENCE = {"title": "Forklift certificate", "kind": "certificate", "date": "2019-03-01"}
ASSESSMENT = {"standard": "Teacher profile", "comparison": "Partly covered", "advice": "stop"}
AGREE = {"party": "client"}


def without(body: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in names}


def item(**overrides: Any) -> dict[str, Any]:
    return {"career_target": "Teacher", "strengths": [{"text": "Coaching", **overrides}]}


def command_rows(
    name: str, method: str, path: str, body: Any, *, other: str, missing: str
) -> dict[str, Bad]:
    """The rows every command shares: version, organisation, existence, token and roles."""
    return {
        f"{name}/stale-if-match": Bad(method, path, 409, "version-conflict", body, if_match='"4"'),
        f"{name}/future-if-match": Bad(
            method, path, 409, "version-conflict", body, if_match='W/"99"'
        ),
        f"{name}/malformed-if-match": Bad(
            method, path, 422, INVALID, body, if_match="latest", fields=("If-Match",)
        ),
        f"{name}/unknown-plan": Bad(method, missing, 404, "not-found", body),
        f"{name}/other-org": Bad(method, other, 404, "not-found", body),
        f"{name}/no-token": Bad(method, path, 401, "unauthorized", body, who="none"),
        f"{name}/garbage-token": Bad(method, path, 401, "unauthorized", body, who="garbage"),
        f"{name}/auditor": Bad(method, path, 403, "forbidden", body, who="auditor"),
        f"{name}/partner": Bad(method, path, 403, "forbidden", body, who="partner"),
        f"{name}/team-lead": Bad(method, path, 403, "forbidden", body, who="team_lead"),
    }


def read_rows(name: str, path: str, *, other: str, missing: str) -> dict[str, Bad]:
    return {
        f"{name}/unknown-plan": Bad("GET", missing, 404, "not-found"),
        f"{name}/other-org": Bad("GET", other, 404, "not-found"),
        f"{name}/no-token": Bad("GET", path, 401, "unauthorized", who="none"),
        f"{name}/auditor": Bad("GET", path, 403, "forbidden", who="auditor"),
        f"{name}/partner": Bad("GET", path, 403, "forbidden", who="partner"),
    }


BAD: dict[str, Bad] = {
    # GET /plans
    "plans/no-token": Bad("GET", P_PLANS, 401, "unauthorized", who="none"),
    "plans/auditor": Bad("GET", P_PLANS, 403, "forbidden", who="auditor"),
    "plans/partner": Bad("GET", "/plans?case_id={case}", 403, "forbidden", who="partner"),
    "plans/case-not-a-uuid": Bad("GET", "/plans?case_id=42", 422, INVALID, fields=("case_id",)),
    "plans/unknown-status": Bad("GET", "/plans?status=lost", 422, INVALID, fields=("status",)),
    "plans/limit-0": Bad("GET", "/plans?limit=0", 422, INVALID, fields=("limit",)),
    "plans/limit-too-big": Bad("GET", "/plans?limit=1000", 422, INVALID, fields=("limit",)),
    "plans/negative-offset": Bad("GET", "/plans?offset=-1", 422, INVALID, fields=("offset",)),
    # GET /plans/{id}
    **read_rows("plan", P_PLAN, other="/plans/{other_plan}", missing="/plans/{missing}"),
    "plan/a-case-id": Bad("GET", "/plans/{case}", 404, "not-found"),
    "plan/not-a-uuid": Bad("GET", "/plans/my-plan", 422, INVALID, fields=("plan_id",)),
    # GET /plans/{id}/versions
    **read_rows(
        "versions",
        "/plans/{plan}/versions",
        other="/plans/{other_plan}/versions",
        missing="/plans/{missing}/versions",
    ),
    "versions/not-a-uuid": Bad("GET", "/plans/my-plan/versions", 422, INVALID, fields=("plan_id",)),
    # GET /plans/{id}/versions/{n}
    **read_rows(
        "version",
        P_VERSION,
        other="/plans/{other_plan}/versions/1",
        missing="/plans/{missing}/versions/1",
    ),
    "version/never-agreed": Bad("GET", P_VERSION, 404, "not-found"),
    "version/not-a-number": Bad(
        "GET", "/plans/{plan}/versions/first", 422, INVALID, fields=("version",)
    ),
    "version/zero": Bad("GET", "/plans/{plan}/versions/0", 422, INVALID, fields=("version",)),
    # GET /plans/{id}/document
    **read_rows(
        "document", P_DOC, other="/plans/{other_plan}/document", missing="/plans/{missing}/document"
    ),
    "document/unknown-language": Bad(
        "GET", "/plans/{plan}/document?lang=de", 422, INVALID, fields=("lang",)
    ),
    # PUT /plans/{id}/type
    "type/no-body": Bad("PUT", P_TYPE, 422, INVALID),
    "type/empty": Bad("PUT", P_TYPE, 422, INVALID, body={}, fields=("plan_type",)),
    "type/unknown-type": Bad(
        "PUT", P_TYPE, 422, INVALID, body={"plan_type": "mixed"}, fields=("plan_type",)
    ),
    "type/not-a-string": Bad(
        "PUT", P_TYPE, 422, INVALID, body={"plan_type": 2}, fields=("plan_type",)
    ),
    "type/unknown-field": Bad(
        "PUT", P_TYPE, 422, INVALID, body={**TYPE, "goals": []}, fields=("goals",)
    ),
    "type/invalid-json": Bad("PUT", P_TYPE, 422, INVALID, raw='{"plan_type": action}'),
    "type/json-array": Bad("PUT", P_TYPE, 422, INVALID, body=[TYPE]),
    **command_rows(
        "type",
        "PUT",
        P_TYPE,
        TYPE,
        other="/plans/{other_plan}/type",
        missing="/plans/{missing}/type",
    ),
    # POST /plans/{id}/goals
    "goal/empty": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body={},
        fields=("title", "specific", "measure", "target_date", "competences", "priority"),
    ),
    "goal/missing-target-date": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body=without(a_goal(), "target_date"),
        fields=("target_date",),
    ),
    "goal/unknown-field": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(owner="client"), fields=("owner",)
    ),
    "goal/title-not-a-string": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(title=7), fields=("title",)
    ),
    "goal/empty-title": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(title=""), fields=("title",)
    ),
    "goal/blank-title": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(title="   "), fields=("title",)
    ),
    "goal/title-too-long": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(title="x" * 201), fields=("title",)
    ),
    "goal/empty-measure": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(measure=""), fields=("measure",)
    ),
    "goal/bad-date": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body=a_goal(target_date="next summer"),
        fields=("target_date",),
    ),
    "goal/unknown-competence": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body=a_goal(competences=["networking", "happiness"]),
        fields=("competences.1",),
    ),
    "goal/competences-not-a-list": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body=a_goal(competences="networking"),
        fields=("competences",),
    ),
    "goal/priority-0": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=0), fields=("priority",)
    ),
    "goal/priority-negative": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=-1), fields=("priority",)
    ),
    "goal/priority-beyond-the-ranking": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=4), fields=("priority",)
    ),
    "goal/priority-too-big": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=101), fields=("priority",)
    ),
    "goal/priority-as-string": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority="1"), fields=("priority",)
    ),
    "goal/priority-fractional": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=1.5), fields=("priority",)
    ),
    "goal/priority-as-boolean": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=True), fields=("priority",)
    ),
    "goal/not-smart": Bad(
        "POST", P_GOALS, 422, "not-smart", body=a_goal(measure="more"), fields=("measurable",)
    ),
    "goal/invalid-json": Bad("POST", P_GOALS, 422, INVALID, raw='{"title": "x",'),
    **command_rows(
        "goal",
        "POST",
        P_GOALS,
        a_goal(priority=2),
        other="/plans/{other_plan}/goals",
        missing="/plans/{missing}/goals",
    ),
    # PUT /plans/{id}/priorities
    "priorities/empty": Bad("PUT", P_PRIO, 422, INVALID, body={}, fields=("order",)),
    "priorities/empty-order": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": []}, fields=("order",)
    ),
    "priorities/missing-a-goal": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": ["{goal}"]}, fields=("order",)
    ),
    "priorities/a-goal-twice": Bad(
        "PUT",
        P_PRIO,
        422,
        INVALID,
        body={"order": ["{goal}", "{goal2}", "{goal}"]},
        fields=("order",),
    ),
    "priorities/unknown-goal": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": ["{goal}", "{missing}"]}, fields=("order",)
    ),
    "priorities/not-a-uuid": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": ["{goal}", "second"]}, fields=("order.1",)
    ),
    "priorities/not-a-list": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": "{goal}"}, fields=("order",)
    ),
    "priorities/unknown-field": Bad(
        "PUT", P_PRIO, 422, INVALID, body={**ORDER, "priority": 1}, fields=("priority",)
    ),
    "priorities/invalid-json": Bad("PUT", P_PRIO, 422, INVALID, raw="order=1,2"),
    **command_rows(
        "priorities",
        "PUT",
        P_PRIO,
        ORDER,
        other="/plans/{other_plan}/priorities",
        missing="/plans/{missing}/priorities",
    ),
    # POST /plans/{id}/goals/{goal_id}/actions
    "action/empty": Bad(
        "POST", P_ACTIONS, 422, INVALID, body={}, fields=("description", "owner", "due_date")
    ),
    "action/unknown-owner": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(owner="mother"), fields=("owner",)
    ),
    "action/owner-not-a-string": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(owner=["client"]), fields=("owner",)
    ),
    "action/due-after-the-goal": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(due_date=days(91)), fields=("due_date",)
    ),
    "action/due-in-the-past": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(due_date=days(-1)), fields=("due_date",)
    ),
    "action/bad-date": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(due_date="soon"), fields=("due_date",)
    ),
    "action/description-not-a-string": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(description=5), fields=("description",)
    ),
    "action/empty-description": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(description=""), fields=("description",)
    ),
    "action/blank-description": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(description=" \n "), fields=("description",)
    ),
    "action/unknown-field": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(status="open"), fields=("status",)
    ),
    "action/invalid-json": Bad("POST", P_ACTIONS, 422, INVALID, raw="{description: 1}"),
    "action/unknown-goal": Bad(
        "POST", "/plans/{plan}/goals/{missing}/actions", 404, "not-found", body=an_action()
    ),
    "action/goal-not-a-uuid": Bad(
        "POST",
        "/plans/{plan}/goals/first/actions",
        422,
        INVALID,
        body=an_action(),
        fields=("goal_id",),
    ),
    "action/an-action-id-as-goal": Bad(
        "POST", "/plans/{plan}/goals/{action}/actions", 404, "not-found", body=an_action()
    ),
    **command_rows(
        "action",
        "POST",
        P_ACTIONS,
        an_action(),
        other="/plans/{other_plan}/goals/{goal}/actions",
        missing="/plans/{missing}/goals/{goal}/actions",
    ),
    # POST /plans/{id}/actions/{action_id}/complete
    "complete/unknown-action": Bad(
        "POST", "/plans/{plan}/actions/{missing}/complete", 404, "not-found"
    ),
    "complete/a-goal-id": Bad("POST", "/plans/{plan}/actions/{goal}/complete", 404, "not-found"),
    "complete/not-a-uuid": Bad(
        "POST", "/plans/{plan}/actions/7/complete", 422, INVALID, fields=("action_id",)
    ),
    "complete/already-completed": Bad(
        "POST", "/plans/{plan}/actions/{done}/complete", 409, "action-closed"
    ),
    **command_rows(
        "complete",
        "POST",
        P_COMPLETE,
        None,
        other="/plans/{other_plan}/actions/{action}/complete",
        missing="/plans/{missing}/actions/{action}/complete",
    ),
    # POST /plans/{id}/actions/{action_id}/cancel
    "cancel/unknown-action": Bad(
        "POST", "/plans/{plan}/actions/{missing}/cancel", 404, "not-found", body={}
    ),
    "cancel/already-completed": Bad(
        "POST", "/plans/{plan}/actions/{done}/cancel", 409, "action-closed", body={"reason": "x"}
    ),
    "cancel/reason-not-a-string": Bad(
        "POST", P_CANCEL, 422, INVALID, body={"reason": ["busy"]}, fields=("reason",)
    ),
    "cancel/unknown-field": Bad(
        "POST", P_CANCEL, 422, INVALID, body={"why": "busy"}, fields=("why",)
    ),
    "cancel/invalid-json": Bad("POST", P_CANCEL, 422, INVALID, raw='{"reason": "busy"'),
    **command_rows(
        "cancel",
        "POST",
        P_CANCEL,
        {"reason": "Not needed"},
        other="/plans/{other_plan}/actions/{action}/cancel",
        missing="/plans/{missing}/actions/{action}/cancel",
    ),
    # POST /plans/{id}/close
    "close/reason-not-a-string": Bad(
        "POST", "/plans/{plan}/close", 422, INVALID, body={"reason": 3}, fields=("reason",)
    ),
    "close/unknown-field": Bad(
        "POST", "/plans/{plan}/close", 422, INVALID, body={"why": "x"}, fields=("why",)
    ),
    **command_rows(
        "close",
        "POST",
        "/plans/{plan}/close",
        {"reason": "Guidance ended"},
        other="/plans/{other_plan}/close",
        missing="/plans/{missing}/close",
    ),
    # PUT /plans/{id}/competence-analysis
    "analysis/empty": Bad("PUT", P_ANALYSIS, 422, INVALID, body={}, fields=("career_target",)),
    "analysis/bad-esco-uri": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body=item(esco_uri="esco:skill/1234"),
        fields=("strengths.0.esco_uri",),
    ),
    "analysis/esco-uri-of-another-kind": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body=item(esco_uri="http://data.europa.eu/esco/isco/C2330"),
        fields=("strengths.0.esco_uri",),
    ),
    "analysis/item-without-text": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body={"career_target": "Teacher", "weaknesses": [{"esco_uri": ESCO_SKILL}]},
        fields=("weaknesses.0.text",),
    ),
    "analysis/item-unknown-field": Bad(
        "PUT", P_ANALYSIS, 422, INVALID, body=item(level=3), fields=("strengths.0.level",)
    ),
    "analysis/items-as-strings": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body={"career_target": "Teacher", "training_needs": ["didactics"]},
        fields=("training_needs.0",),
    ),
    "analysis/unknown-field": Bad(
        "PUT", P_ANALYSIS, 422, INVALID, body={**ANALYSIS, "threats": []}, fields=("threats",)
    ),
    "analysis/invalid-json": Bad("PUT", P_ANALYSIS, 422, INVALID, raw="[1, 2"),
    **command_rows(
        "analysis",
        "PUT",
        P_ANALYSIS,
        ANALYSIS,
        other="/plans/{other_plan}/competence-analysis",
        missing="/plans/{missing}/competence-analysis",
    ),
    # POST /plans/{id}/portfolio/evidence
    "evidence/empty": Bad(
        "POST", P_EVIDENCE, 422, INVALID, body={}, fields=("title", "kind", "date")
    ),
    "evidence/unknown-kind": Bad(
        "POST", P_EVIDENCE, 422, INVALID, body={**EVIDENCE, "kind": "hunch"}, fields=("kind",)
    ),
    "evidence/dated-ahead": Bad(
        "POST", P_EVIDENCE, 422, INVALID, body={**EVIDENCE, "date": days(5)}, fields=("date",)
    ),
    "evidence/bad-hash": Bad(
        "POST",
        P_EVIDENCE,
        422,
        INVALID,
        body={**EVIDENCE, "document_hash": "md5:abc"},
        fields=("document_hash",),
    ),
    "evidence/unknown-field": Bad(
        "POST", P_EVIDENCE, 422, INVALID, body={**EVIDENCE, "file": "x.pdf"}, fields=("file",)
    ),
    "evidence/invalid-json": Bad("POST", P_EVIDENCE, 422, INVALID, raw="title: x"),
    **command_rows(
        "evidence",
        "POST",
        P_EVIDENCE,
        EVIDENCE,
        other="/plans/{other_plan}/portfolio/evidence",
        missing="/plans/{missing}/portfolio/evidence",
    ),
    # PUT /plans/{id}/portfolio/assessment
    "assessment/empty": Bad(
        "PUT", P_ASSESS, 422, INVALID, body={}, fields=("standard", "comparison", "advice")
    ),
    "assessment/unknown-advice": Bad(
        "PUT", P_ASSESS, 422, INVALID, body={**ASSESSMENT, "advice": "maybe"}, fields=("advice",)
    ),
    "assessment/unknown-field": Bad(
        "PUT", P_ASSESS, 422, INVALID, body={**ASSESSMENT, "score": 7}, fields=("score",)
    ),
    "assessment/without-evidence": Bad("PUT", P_ASSESS, 409, "portfolio-empty", body=ASSESSMENT),
    **command_rows(
        "assessment",
        "PUT",
        P_ASSESS,
        ASSESSMENT,
        other="/plans/{other_plan}/portfolio/assessment",
        missing="/plans/{missing}/portfolio/assessment",
    ),
    # POST /plans/{id}/agreement
    "agree/empty": Bad("POST", P_AGREE, 422, INVALID, body={}, fields=("party",)),
    "agree/unknown-party": Bad(
        "POST", P_AGREE, 422, INVALID, body={"party": "partner"}, fields=("party",)
    ),
    "agree/party-as-list": Bad(
        "POST", P_AGREE, 422, INVALID, body={"party": ["client"]}, fields=("party",)
    ),
    "agree/unknown-field": Bad(
        "POST", P_AGREE, 422, INVALID, body={**AGREE, "version": 3}, fields=("version",)
    ),
    "agree/invalid-json": Bad("POST", P_AGREE, 422, INVALID, raw='{"party": "client"'),
    "agree/without-goals": Bad(
        "POST", "/plans/{bare_plan}/agreement", 409, "plan-incomplete", body=AGREE
    ),
    **command_rows(
        "agree",
        "POST",
        P_AGREE,
        AGREE,
        other="/plans/{other_plan}/agreement",
        missing="/plans/{missing}/agreement",
    ),
}


@dataclass
class World:
    """One organisation's plan at version 7 (type chosen; goals `goal` and `goal2`; an open
    `action` and a completed `done` under `goal`), and when a row needs them another
    organisation's plan and a bare plan of the same organisation."""

    org: str
    headers: dict[str, str]
    ids: dict[str, str]


async def build_world(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, token: Any, bad: Bad
) -> World:
    org = new_org()
    h = bearer(token("counsellor", org=org))
    plan = await new_plan(api, planning_api, h)
    p = plan["plan_id"]
    await send(planning_api, "PUT", f"/plans/{p}/type", h, {"plan_type": "action"})
    goal = (await send(planning_api, "POST", f"/plans/{p}/goals", h, a_goal(), 201))["goal_id"]
    goal2 = (
        await send(
            planning_api,
            "POST",
            f"/plans/{p}/goals",
            h,
            a_goal(title="A second goal", priority=2),
            201,
        )
    )["goal_id"]
    action = (
        await send(planning_api, "POST", f"/plans/{p}/goals/{goal}/actions", h, an_action(), 201)
    )["action_id"]
    done = (
        await send(planning_api, "POST", f"/plans/{p}/goals/{goal}/actions", h, an_action(), 201)
    )["action_id"]
    await send(planning_api, "POST", f"/plans/{p}/actions/{done}/complete", h)
    ids = {
        "plan": p,
        "case": plan["case_id"],
        "goal": goal,
        "goal2": goal2,
        "action": action,
        "done": done,
        "missing": str(uuid.uuid4()),
    }
    text = repr(bad)
    if "{other_plan}" in text:
        other = bearer(token("counsellor", org=new_org()))
        ids["other_plan"] = (await new_plan(api, planning_api, other))["plan_id"]
    if "{bare_plan}" in text:
        ids["bare_plan"] = (await new_plan(api, planning_api, h))["plan_id"]
    return World(org, h, ids)


def caller(who: str, world: World, token: Any) -> dict[str, str]:
    if who == "counsellor":
        return world.headers
    if who == "none":
        return {}
    if who == "garbage":
        return {"Authorization": "Bearer not.a.jwt"}
    if who == "partner":
        return bearer(token("partner", org=world.org, partner_id=uuid.uuid4()))
    return bearer(token(who, org=world.org))


async def snapshot(planning_api: httpx.AsyncClient, app: Any, world: World) -> dict[str, Any]:
    """Everything a failed request must leave as it was."""
    state: dict[str, Any] = {}
    for name in ("plan", "bare_plan"):
        if name in world.ids:
            r = await get_plan(planning_api, world.ids[name], world.headers)
            state[name] = r.json()
            state[f"etag:{name}"] = r.headers["etag"]
            state[f"events:{name}"] = await event_count(app, world.ids[name])
    if "other_plan" in world.ids:
        state["events:other_plan"] = await event_count(app, world.ids["other_plan"])
    return state


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
async def test_a_bad_request_answers_a_problem_and_changes_nothing(
    bad: Bad, api: httpx.AsyncClient, planning_api: httpx.AsyncClient, planning_app: Any, token: Any
) -> None:
    world = await build_world(api, planning_api, token, bad)
    before = await snapshot(planning_api, planning_app, world)
    assert before["plan"]["version"] == 7 and before["etag:plan"] == '"7"'
    assert before["events:plan"] == 7

    headers = dict(caller(bad.who, world, token))
    if bad.if_match is not None:
        headers["If-Match"] = bad.if_match
    kwargs: dict[str, Any] = {"headers": headers}
    if bad.raw is not None:
        kwargs["content"] = bad.raw.encode()
        headers["Content-Type"] = "application/json"
    elif bad.body is not None:
        kwargs["json"] = fill(bad.body, world.ids)
    r = await planning_api.request(bad.method, BASE + fill(bad.path, world.ids), **kwargs)

    body = assert_problem(r, bad.status, bad.code, bad.fields)
    for secret in ("Anna", "Peeters", "Build a network", "former colleagues"):
        assert secret not in body["detail"]
    assert await snapshot(planning_api, planning_app, world) == before


async def test_an_unknown_path_under_a_plan_is_a_problem_too(
    planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    r = await planning_api.get(f"{BASE}/plans/{uuid.uuid4()}/nonsense", headers=counsellor)
    assert_problem(r, 404, "not-found")
    r = await planning_api.delete(f"{BASE}/plans/{uuid.uuid4()}/type", headers=counsellor)
    assert_problem(r, 405, "method-not-allowed")


def test_the_bad_request_table_covers_every_planning_path() -> None:
    from services.planning.api import router

    def shape(path: str) -> str:
        path = path.split("?")[0]
        path = re.sub(r"/versions/1$", "/versions/{}", path)
        return re.sub(r"\{[a-z_0-9]+\}|(?<=/plans/)my-plan|(?<=/actions/)7", "{}", path)

    routes = {
        (method, shape(getattr(route, "path", "")))
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    rows = {(bad.method, shape(bad.path)) for bad in BAD.values()}
    assert routes <= rows, routes - rows
