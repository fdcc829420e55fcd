"""Closing a case's file and handing cases over (#16 item 4), on the real PostgreSQL and
NATS: the file closes with a sealed summary and a reason its status allows (listed as
closed, refusing more work, nothing said of the summary on the stream); a team lead (only)
hands one case, or all of a counsellor's open cases, to another counsellor; the case
list, the caseload report and the other services' lists follow the current counsellor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.scenarios import an_accepted_case, an_agreed_plan, an_open_case, post_case
from tests.support import INVALID, assert_problem, bearer, eventually, messages_of_case, new_org

INTAKE = "/intake/v1"
SUMMARY = "Summary-7c1e: found work as a teacher's assistant; goals met."
WHY = "Handover-4b2d: Anna is on long-term leave."
CALL = {"kind": "deepening", "channel": "phone", "minutes": 45}


def soon(hours: int = 72) -> str:
    """A moment some days ahead (or `hours` from now), whole seconds, as the API takes it."""
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


async def case_of(api: httpx.AsyncClient, headers: dict[str, str], case_id: str) -> Any:
    r = await api.get(f"{INTAKE}/cases/{case_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def listed(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> set[str]:
    r = await api.get(f"{INTAKE}/cases", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return {str(c["case_id"]) for c in r.json()}


async def test_the_file_closes_with_a_sealed_summary_and_a_reason_its_status_allows(
    api: httpx.AsyncClient, intake_app: Any, token: Any, js: Any
) -> None:
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="c-anna"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    elsewhere = bearer(token("counsellor", org=new_org(), sub="c-anna"))
    _, accepted = await an_accepted_case(api, anna)
    in_intake = await an_open_case(api, anna)
    declined = await an_open_case(api, anna)
    await post_case(api, anna, declined, "decision", {"decision": "decline"}, 200)
    path = f"{INTAKE}/cases/{accepted}/closure"
    planned = (
        await post_case(api, anna, accepted, "appointments", {**CALL, "starts_at": soon()}, 201)
    ).json()

    # Refused, nothing changed: a reason the status does not allow, a blank summary, an
    # unknown reason, another organisation's case, an auditor.
    before = await case_of(api, anna, accepted)
    for body, field in (
        ({"reason": "declined", "summary": SUMMARY}, "reason"),
        ({"reason": "client_withdrew", "summary": "   "}, "summary"),
        ({"reason": "finished", "summary": SUMMARY}, "reason"),
        ({"reason": "client_withdrew"}, "summary"),
    ):
        r = await api.post(path, json=body, headers=anna)
        assert_problem(r, 422, INVALID, (field,))
    r = await api.post(path, json={"reason": "client_withdrew", "summary": "x"}, headers=elsewhere)
    assert_problem(r, 404, "not-found")
    r = await api.post(
        f"{INTAKE}/cases/{in_intake}/closure",
        json={"reason": "referred_out", "summary": SUMMARY},
        headers=anna,
    )
    assert_problem(r, 422, INVALID, ("reason",))
    assert await case_of(api, anna, accepted) == before

    r = await api.post(path, json={"reason": "client_withdrew", "summary": SUMMARY}, headers=anna)
    assert r.status_code == 200, r.text
    case = await case_of(api, anna, accepted)
    assert (case["status"], case["phase"]) == ("closed", "closed")
    closure = case["closure"]
    assert (closure["reason"], closure["summary"], closure["actor"]) == (
        "client_withdrew",
        SUMMARY,
        "c-anna",
    )
    assert (closure["followup_id"], closure["rule"], closure["closed_by"]) == (
        None,
        "file",
        "counsellor",
    )
    assert case["closed_at"] == closure["closed_at"]
    assert accepted in await listed(api, anna, status="closed")
    # The appointment still planned was cancelled by the agency as the file closed.
    [appointment] = (await case_of(api, anna, f"{accepted}/appointments"))["appointments"]
    assert (appointment["appointment_id"], appointment["status"]) == (
        planned["appointment_id"],
        "cancelled",
    )
    assert appointment["cancelled_by"] == "agency"
    r = await api.post(path, json={"reason": "client_withdrew", "summary": "again"}, headers=anna)
    assert_problem(r, 409, "case-decided")
    r = await api.post(
        f"{INTAKE}/cases/{accepted}/sessions",
        json={"kind": "aftercare", "held_at": closure["closed_at"], "minutes": 30},
        headers=anna,
    )
    assert "its file was closed" in assert_problem(r, 409, "case-decided")["detail"]

    # A declined case closes as declined, by a team lead too.
    r = await api.post(
        f"{INTAKE}/cases/{declined}/closure",
        json={"reason": "declined", "summary": "Outside our remit."},
        headers=lead,
    )
    assert r.status_code == 200, r.text
    assert (await case_of(api, lead, declined))["closure"]["actor"] == "lead-1"

    # The summary is sealed where it is stored, and never published.
    stored = await intake_app.state.runtime.pool.fetch(
        "SELECT state FROM intake.intake_events WHERE topic LIKE '%Case.FileClosed'"
    )
    assert stored and not any(b"Summary-7c1e" in bytes(r["state"]) for r in stored)

    async def published() -> list[Any]:
        return [
            m
            for m in await messages_of_case(js, "GUIDANCE_INTAKE", accepted)
            if m.subject == "guidance.intake.CaseFileClosed"
        ]

    [message] = await eventually(published, "CaseFileClosed on GUIDANCE_INTAKE")
    assert b"client_withdrew" in message.data and b"Summary-7c1e" not in message.data


async def test_a_team_lead_hands_cases_over_and_the_lists_follow(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
    js: Any,
) -> None:
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="c-anna"))
    bram = bearer(token("counsellor", org=org, sub="c-bram"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    other_lead = bearer(token("team_lead", org=new_org(), sub="lead-1"))
    agreed = await an_agreed_plan(api, planning_api, followup_api, anna)
    in_intake = await an_open_case(api, anna)
    _, another = await an_accepted_case(api, anna)
    ended = await an_open_case(api, anna)
    await post_case(api, anna, ended, "decision", {"decision": "decline"}, 200)
    one = f"{INTAKE}/cases/{agreed.case_id}/reassignment"
    planned = (
        await post_case(
            api, anna, agreed.case_id, "appointments", {**CALL, "starts_at": soon()}, 201
        )
    ).json()

    # Only a team lead of the organisation; a counsellor is refused (403, problem+json).
    r = await api.post(one, json={"counsellor": "c-bram", "reason": WHY}, headers=anna)
    assert_problem(r, 403, "forbidden")
    r = await api.post(one, json={"counsellor": "c-bram", "reason": WHY}, headers=other_lead)
    assert_problem(r, 404, "not-found")
    for body, field in (
        ({"counsellor": "c-bram"}, "reason"),
        ({"counsellor": "", "reason": WHY}, "counsellor"),
        ({"counsellor": "c-bram", "reason": "  "}, "reason"),
    ):
        r = await api.post(one, json=body, headers=lead)
        assert_problem(r, 422, INVALID, (field,))
    r = await api.post(
        f"{INTAKE}/cases/{ended}/reassignment",
        json={"counsellor": "c-bram", "reason": WHY},
        headers=lead,
    )
    assert_problem(r, 409, "case-decided")

    r = await api.post(one, json={"counsellor": "c-bram", "reason": WHY}, headers=lead)
    assert r.status_code == 200, r.text
    case = await case_of(api, bram, agreed.case_id)
    assert (case["counsellor"], case["opened_by"]) == ("c-bram", "c-anna")
    [handover] = case["reassignments"]
    assert (handover["previous"], handover["reason"], handover["actor"]) == (
        "c-anna",
        WHY,
        "lead-1",
    )
    assert agreed.case_id in await listed(api, bram, counsellor="me")
    assert agreed.case_id not in await listed(api, anna, counsellor="me")
    # The appointment still planned went with the case into Bram's calendar.
    window = {"from": soon(hours=-1), "to": soon(hours=24 * 4)}
    for who, sees in ((bram, True), (anna, False)):
        r = await api.get(f"{INTAKE}/appointments", params=window, headers=who)
        assert r.status_code == 200, r.text
        ids = {a["appointment_id"] for a in r.json()}
        assert (planned["appointment_id"] in ids) is sees

    # The other services' lists follow the published CaseReassigned (without its reason).
    async def followed() -> bool:
        plans = await planning_api.get(
            "/planning/v1/plans", params={"counsellor": "me"}, headers=bram
        )
        followups = await followup_api.get(
            "/followup/v1/followups", params={"counsellor": "me"}, headers=bram
        )
        checkins = await followup_api.get(
            "/followup/v1/worklist",
            params={"counsellor": "c-bram", "due_before": "2100-01-01"},
            headers=bram,
        )
        return (
            agreed.plan_id in {p["plan_id"] for p in plans.json()}
            and agreed.followup_id in {f["followup_id"] for f in followups.json()}
            and agreed.case_id in {str(c["case_id"]) for c in checkins.json()}
        )

    await eventually(followed, "planning and follow-up list the case under c-bram")
    # Each listed item names the counsellor it was handed to, also asked by its case.
    for client, path in (
        (planning_api, "/planning/v1/plans"),
        (followup_api, "/followup/v1/followups"),
    ):
        for params in ({"counsellor": "me"}, {"case_id": agreed.case_id, "counsellor": "me"}):
            r = await client.get(path, params=params, headers=bram)
            [item] = [i for i in r.json() if i["case_id"] == agreed.case_id]
            assert item["counsellor"] == "c-bram", (path, params, item["counsellor"])
        r = await client.get(
            path, params={"case_id": agreed.case_id, "counsellor": "me"}, headers=anna
        )
        assert r.json() == [], path
    # And each read on its own says so too.
    for client, path in (
        (planning_api, f"/planning/v1/plans/{agreed.plan_id}"),
        (followup_api, f"/followup/v1/followups/{agreed.followup_id}"),
    ):
        r = await client.get(path, headers=bram)
        assert r.status_code == 200 and r.json()["counsellor"] == "c-bram", (path, r.text)
    [message] = [
        m
        for m in await messages_of_case(js, "GUIDANCE_INTAKE", agreed.case_id)
        if m.subject == "guidance.intake.CaseReassigned"
    ]
    assert b"c-bram" in message.data and b"Handover-4b2d" not in message.data

    # All of Anna's open cases at once: the accepted one and the one in intake, not the
    # declined one; the caseload report counts them as Bram's.
    r = await api.post(
        f"{INTAKE}/reassignments",
        json={"from_counsellor": "c-anna", "to_counsellor": "c-bram", "reason": WHY},
        headers=anna,
    )
    assert_problem(r, 403, "forbidden")
    r = await api.post(
        f"{INTAKE}/reassignments",
        json={"from_counsellor": "c-anna", "to_counsellor": "c-bram", "reason": WHY},
        headers=lead,
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["case_ids"]) == sorted([in_intake, another])
    assert (await case_of(api, lead, ended))["counsellor"] == "c-anna"
    assert await listed(api, bram, counsellor="me") == {agreed.case_id, in_intake, another}
    assert await listed(api, anna, counsellor="me") == {ended}
    r = await api.get(f"{INTAKE}/reports/caseload", headers=lead)
    assert r.status_code == 200, r.text
    load = {row["counsellor"]: row for row in r.json()["counsellors"]}
    assert load["c-bram"]["open_cases"] == 3
    assert "c-anna" not in load or load["c-anna"]["open_cases"] == 0
    # Nothing left to hand over: an empty list.
    r = await api.post(
        f"{INTAKE}/reassignments",
        json={"from_counsellor": "c-anna", "to_counsellor": "c-bram", "reason": WHY},
        headers=lead,
    )
    assert r.json()["case_ids"] == []
