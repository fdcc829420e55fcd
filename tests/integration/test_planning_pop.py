"""The richer POP over HTTP, the event store and NATS: a plan's career question, insights,
choices and decisions with their reasons and support needs are recorded with `If-Match`,
refused naming the field, kept in the agreed versions, printed in the client's document,
published sealed with the client's key (opening to what was written) and exported opened.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from eventsourcing.utils import get_topic

from services.planning.domain import Plan
from shared.privacy.sealing import open_sealed
from tests.conftest import stream_messages
from tests.scenarios import (
    INTAKE,
    a_draft_plan,
    a_goal,
    agree_both,
    days,
    get_plan,
    send,
)
from tests.scenarios import PLANNING as BASE
from tests.support import INVALID, assert_problem, envelope, eventually

NEW_EVENTS = ("CareerQuestionStated", "InsightRecorded", "DecisionRecorded", "SupportNeedsRecorded")


async def a_rich_plan(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, headers: dict[str, str]
) -> dict[str, Any]:
    """A plan with each new part, and the markers its texts carry."""
    plan = await a_draft_plan(api, planning_api, headers)
    plan_id = plan["plan_id"]
    m = uuid.uuid4().hex[:10]
    w: dict[str, Any] = {
        "plan_id": plan_id,
        "client_id": plan["client_id"],
        "case_id": plan["case_id"],
        "marker": m,
        "question": f"Which work suits me, {m}?",
        "insight": f"I like helping {m}",
        "decision": f"Train as a carer {m}",
        "reasons": f"The trial went well {m}",
        "notes": f"Dutch B1 and Wednesdays {m}",
    }
    await send(
        planning_api,
        "PUT",
        f"/plans/{plan_id}/career-question",
        headers,
        {"question": w["question"]},
    )
    w["insight_id"] = (
        await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/insights",
            headers,
            {"text": w["insight"], "date": days(-2)},
            201,
        )
    )["insight_id"]
    w["decision_id"] = (
        await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/decisions",
            headers,
            {"kind": "choice", "text": w["decision"], "reasons": w["reasons"]},
            201,
        )
    )["decision_id"]
    out = await send(
        planning_api,
        "PUT",
        f"/plans/{plan_id}/support-needs",
        headers,
        {"kinds": ["childcare", "language"], "notes": w["notes"]},
    )
    w["version"] = out["version"]
    return w


async def test_the_parts_are_recorded_shown_and_kept_in_the_agreed_version(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    w = await a_rich_plan(api, planning_api, counsellor)
    plan = (await get_plan(planning_api, w["plan_id"], counsellor)).json()
    assert plan["revision"] == 4
    assert plan["career_question"] == w["question"]
    assert [(i["insight_id"], i["text"], i["date"]) for i in plan["insights"]] == [
        (w["insight_id"], w["insight"], days(-2))
    ]
    [decision] = plan["decisions"]
    assert (decision["decision_id"], decision["kind"], decision["text"], decision["reasons"]) == (
        w["decision_id"],
        "choice",
        w["decision"],
        w["reasons"],
    )
    assert plan["support_needs"]["kinds"] == ["language", "childcare"]
    assert plan["support_needs"]["notes"] == w["notes"]

    # Agreed, then one more insight: the plan is revised, the version keeps what was agreed.
    await send(
        planning_api, "PUT", f"/plans/{w['plan_id']}/type", counsellor, {"plan_type": "reflection"}
    )
    await send(planning_api, "POST", f"/plans/{w['plan_id']}/goals", counsellor, a_goal(), 201)
    await agree_both(planning_api, counsellor, w["plan_id"])
    later = await send(
        planning_api,
        "POST",
        f"/plans/{w['plan_id']}/insights",
        counsellor,
        {"text": "A second thought", "date": days(0)},
        201,
    )
    assert later["status"] == "revised"
    r = await planning_api.get(f"{BASE}/plans/{w['plan_id']}/versions/1", headers=counsellor)
    assert r.status_code == 200, r.text
    content = r.json()["content"]
    assert content["career_question"] == w["question"]
    assert [i["text"] for i in content["insights"]] == [w["insight"]]
    assert content["decisions"][0]["reasons"] == w["reasons"]
    assert content["support_needs"]["kinds"] == ["language", "childcare"]

    # The printed plan shows them, in the client's language or the one asked for.
    r = await planning_api.get(
        f"{BASE}/plans/{w['plan_id']}/document", params={"lang": "nl"}, headers=counsellor
    )
    assert r.status_code == 200, r.text
    page = r.text
    for text in (w["question"], w["insight"], w["decision"], w["reasons"], w["notes"]):
        assert text in page, text
    assert "<h2>Reflecties en inzichten</h2>" in page
    assert "<h2>Keuzes en beslissingen</h2>" in page
    assert "<li>taal</li><li>kinderopvang</li>" in page


async def test_bad_input_is_refused_naming_the_field_and_a_stale_version_conflicts(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
    for method, path, body, field in (
        ("PUT", "career-question", {"question": ""}, "question"),
        ("PUT", "career-question", {"question": "  "}, "question"),
        ("POST", "insights", {"text": "x", "date": days(1)}, "date"),
        ("POST", "insights", {"text": "x"}, "date"),
        ("POST", "decisions", {"kind": "wish", "text": "x", "reasons": "y"}, "kind"),
        ("POST", "decisions", {"kind": "choice", "text": "x", "reasons": " "}, "reasons"),
        ("PUT", "support-needs", {"kinds": ["tea"]}, "kinds"),
        ("PUT", "support-needs", {"kinds": ["language", "language"]}, "kinds"),
        ("PUT", "support-needs", {"kinds": ["other"]}, "notes"),
    ):
        r = await planning_api.request(
            method, f"{BASE}/plans/{plan_id}/{path}", json=body, headers=counsellor
        )
        assert_problem(r, 422, INVALID, (field,))
    assert (await get_plan(planning_api, plan_id, counsellor)).json()["version"] == 1

    r = await planning_api.put(
        f"{BASE}/plans/{plan_id}/support-needs",
        json={"kinds": ["mobility"]},
        headers={**counsellor, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    r = await planning_api.post(
        f"{BASE}/plans/{plan_id}/insights",
        json={"text": "Too late", "date": days(0)},
        headers={**counsellor, "If-Match": '"1"'},
    )
    assert_problem(r, 409, "version-conflict")


async def test_the_parts_are_published_sealed_and_exported_opened(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    counsellor: dict[str, str],
    js: Any,
) -> None:
    # (Follow-up and referral run too: the export is complete or not given.)
    w = await a_rich_plan(api, planning_api, counsellor)
    planning = planning_app.state.application

    # Stored sealed: the event store holds none of the texts.
    rows = await planning_app.state.runtime.pool.fetch(
        "SELECT topic, state FROM planning.planning_events WHERE originator_id = $1",
        uuid.UUID(w["plan_id"]),
    )
    assert {get_topic(getattr(Plan, n)) for n in NEW_EVENTS} <= {r["topic"] for r in rows}
    assert not any(w["marker"].encode() in bytes(r["state"]) for r in rows)

    # Published, each text sealed with the client's key and opening to what was written.
    async def all_published() -> list[dict[str, Any]]:
        found = [
            envelope(m)
            for m in await stream_messages(js, "GUIDANCE_PLANNING")
            if envelope(m)["subject"] == w["case_id"]
        ]
        types = {e["type"].split(".")[2] for e in found}
        return found if set(NEW_EVENTS) <= types else []

    published = await eventually(all_published, "the new parts on GUIDANCE_PLANNING")
    by_type = {e["type"].split(".")[2]: e for e in published}
    assert by_type["InsightRecorded"]["data"]["insight_id"] == w["insight_id"]
    assert by_type["InsightRecorded"]["data"]["dated"] == days(-2)
    assert by_type["DecisionRecorded"]["data"]["kind"] == "choice"
    for event_type, name, plain in (
        ("CareerQuestionStated", "question", w["question"]),
        ("InsightRecorded", "text", w["insight"]),
        ("DecisionRecorded", "text", w["decision"]),
        ("DecisionRecorded", "reasons", w["reasons"]),
        ("SupportNeedsRecorded", "kinds", ["language", "childcare"]),
        ("SupportNeedsRecorded", "notes", w["notes"]),
    ):
        event = by_type[event_type]
        sealed = event["data"][name]
        assert (sealed["$sealed"], sealed["kid"]) == ("A256GCM", w["client_id"])
        opened = open_sealed(planning.vault, sealed, uuid.UUID(event["id"]), name)
        assert opened is not None
        assert planning.sealing.transcoder.decode(opened)["v"] == plain
    for m in await stream_messages(js, "GUIDANCE_PLANNING"):
        assert w["marker"] not in m.data.decode()

    # The client's export holds them, opened.
    r = await api.get(f"{INTAKE}/clients/{w['client_id']}/export", headers=counsellor)
    assert r.status_code == 200, r.text
    [plan] = r.json()["services"]["planning"]["plans"]
    assert plan["career_question"] == w["question"]
    assert [i["text"] for i in plan["insights"]] == [w["insight"]]
    assert [(d["text"], d["reasons"]) for d in plan["decisions"]] == [(w["decision"], w["reasons"])]
    assert plan["support_needs"] == {
        "kinds": ["language", "childcare"],
        "notes": w["notes"],
        "recorded_at": plan["support_needs"]["recorded_at"],
    }
