"""Planning's HTTP API against the contract: the journey from an accepted case to an agreed
and revised plan, the client's document, the SMART refusal, priorities, concurrency and
organisations (the table of bad requests: `test_planning_bad_requests.py`).

Plans are created by planning itself when intake accepts a case (over NATS), so every
test starts in intake, in an organisation of its own, and waits for its plan.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from eventsourcing.utils import get_topic

from shared.audit.access import DataAccess
from tests.scenarios import (
    CLIENT_SCORES,
    COUNSELLOR_SCORES,
    ESCO_SKILL,
    PLAN_WAIT_SECONDS,
    a_draft_plan,
    a_goal,
    an_accepted_case,
    an_action,
    days,
    get_plan,
    plan_events,
    send,
    wait_for_plan,
)
from tests.scenarios import PLANNING as BASE
from tests.support import assert_problem, bearer, new_org

SMART = ("specific", "measurable", "achievable", "relevant", "time_bound")
ESCO_OCCUPATION = "http://data.europa.eu/esco/occupation/0e5b3c4c-5e2a-4b0d-8f3e-5d1c2a7e9b11"


# -- the happy journey ----------------------------------------------------------------------------
async def test_a_plan_goes_from_an_accepted_case_to_agreed_revised_and_agreed_again(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    counsellor: dict[str, str],
    token: Any,
    org: str,
) -> None:
    client_id, case_id = await an_accepted_case(api, counsellor)

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
    assert await plan_events(planning_app, plan_id) == 1

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
    assert await plan_events(planning_app, plan_id) == 14

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
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
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
    plan = await a_draft_plan(
        api, planning_api, counsellor, given_name=given, family_name="Janssens"
    )
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
    plan = await a_draft_plan(
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
    plan = await a_draft_plan(api, planning_api, counsellor)
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
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
    before = await get_plan(planning_api, plan_id, counsellor)
    count = await plan_events(planning_app, plan_id)

    r = await planning_api.post(f"{BASE}/plans/{plan_id}/goals", json=goal, headers=counsellor)

    body = assert_problem(r, 422, "not-smart")
    fields = [e["field"] for e in body["errors"]]
    assert sorted(fields) == sorted(failed), fields
    assert all(isinstance(e["message"], str) and len(e["message"]) > 10 for e in body["errors"])
    assert "Build a network" not in body["detail"]
    after = await get_plan(planning_api, plan_id, counsellor)
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()
    assert await plan_events(planning_app, plan_id) == count


async def test_a_goal_beyond_the_limit_of_open_goals_is_not_achievable(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    counsellor: dict[str, str],
    settings: Any,
) -> None:
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
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
    count = await plan_events(planning_app, plan_id)

    r = await planning_api.post(
        f"{BASE}/plans/{plan_id}/goals", json=a_goal(title="One goal too many"), headers=counsellor
    )

    body = assert_problem(r, 422, "not-smart")
    assert [e["field"] for e in body["errors"]] == ["achievable"]
    assert (await get_plan(planning_api, plan_id, counsellor)).json() == before.json()
    assert await plan_events(planning_app, plan_id) == count


async def test_a_closed_plan_changes_no_more_and_says_why(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    counsellor: dict[str, str],
) -> None:
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
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
    count = await plan_events(planning_app, plan_id)
    r = await planning_api.post(f"{BASE}/plans/{plan_id}/goals", json=a_goal(), headers=counsellor)
    assert_problem(r, 409, "plan-closed")
    r = await planning_api.post(f"{BASE}/plans/{plan_id}/close", headers=counsellor)
    assert_problem(r, 409, "plan-closed")
    assert await plan_events(planning_app, plan_id) == count


# -- priorities, concurrency, organisations -----------------------------------------------------
async def test_a_goal_added_at_a_priority_shifts_the_others_down_and_reranking_keeps_all(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
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
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
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
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
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
    plans = [await a_draft_plan(api, planning_api, counsellor) for _ in range(3)]
    other_org = bearer(token("counsellor", org=new_org()))
    other_plan = await a_draft_plan(api, planning_api, other_org)
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
