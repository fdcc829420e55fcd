"""Group sessions through intake's API on real PostgreSQL and NATS: planned with its
participants (cases of the organisation), held with each present client's own notes and an
absent one; each case shows its own part (a `group` session counted in the hours used, its
notes) and never another participant's name or notes, in the case's answers and in the
client's export; refused input and commands; another organisation sees nothing. (Erasing
one participant: test_erasure_everywhere.py.)"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.intake.export import gather
from shared.contracts.export import IntakeSection as ExportIntake
from tests.scenarios import a_registered_client, an_accepted_case, an_open_case
from tests.support import assert_problem, bearer, new_org

INTAKE = "/intake/v1"


def hours_ago(n: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=n)).isoformat()


async def ok(api: httpx.AsyncClient, method: str, path: str, headers: Any, **kw: Any) -> Any:
    r = await api.request(method, f"{INTAKE}{path}", headers=headers, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.json()


async def test_a_group_session_leaves_each_client_only_their_own_part(
    api: httpx.AsyncClient, intake_app: Any, token: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org, sub="c-groups"))
    elsewhere = bearer(token("counsellor", org=new_org()))
    client_a, case_a = await an_accepted_case(api, counsellor, given_name="Annelies")
    client_b, case_b = await an_accepted_case(api, counsellor, given_name="Bartholomeus")
    case_c = await an_open_case(api, counsellor)

    planned = await ok(
        api,
        "POST",
        "/groups",
        counsellor,
        json={
            "topic": "Writing a CV",
            "starts_at": hours_ago(3),
            "minutes": 90,
            "place": "Room 2",
            "case_ids": [case_a, case_b],
        },
    )
    group = f"/groups/{planned['group_id']}"
    await ok(api, "POST", f"{group}/participants", counsellor, json={"case_id": case_c})
    got = await ok(api, "GET", group, counsellor)
    assert [p["case_id"] for p in got["cases"]] == [case_a, case_b, case_c]
    assert {p["attendance"] for p in got["cases"]} == {"expected"}
    listed = await ok(api, "GET", f"/groups?case_id={case_c}", counsellor)
    assert [g["group_id"] for g in listed] == [planned["group_id"]]
    assert listed[0]["participants"] == 3

    # Another organisation sees nothing and changes nothing.
    r = await api.get(f"{INTAKE}{group}", headers=elsewhere)
    assert r.status_code == 404
    r = await api.post(f"{INTAKE}{group}/held", headers=elsewhere, json={"attendance": []})
    assert r.status_code == 404
    assert await ok(api, "GET", "/groups", elsewhere) == []

    # A stranger's case cannot be named at the session; nothing is recorded.
    stranger = await an_open_case(api, counsellor)
    r = await api.post(
        f"{INTAKE}{group}/held",
        headers=counsellor,
        json={"attendance": [{"case_id": stranger, "present": True}]},
    )
    assert_problem(r, 422, "validation-error", ("attendance",))
    r = await api.post(
        f"{INTAKE}{group}/held",
        headers=counsellor,
        json={"attendance": [{"case_id": case_c, "present": False, "discussed": "x"}]},
    )
    assert_problem(r, 422, "validation-error", ("attendance.0",))
    assert (await ok(api, "GET", f"/cases/{case_a}", counsellor))["group_sessions"] == []

    await ok(
        api,
        "POST",
        f"{group}/held",
        counsellor,
        json={
            "attendance": [
                {"case_id": case_a, "present": True, "insights": "Annelies-inzicht-geheim."},
                {"case_id": case_b, "present": True, "discussed": "Bart-besproken-geheim."},
            ]
        },
    )
    got = await ok(api, "GET", group, counsellor)
    assert got["status"] == "held"
    assert {p["case_id"]: p["attendance"] for p in got["cases"]} == {
        case_a: "present",
        case_b: "present",
        case_c: "absent",
    }
    # Held once: again is refused.
    r = await api.post(f"{INTAKE}{group}/held", headers=counsellor, json={"attendance": []})
    assert_problem(r, 409, "group-not-planned")

    # The team lead's caseload: the counsellor held one session of 90 minutes (not one per
    # participant), though each present client's hours count 1.5 on their own case.
    lead = bearer(token("team_lead", org=org))
    caseload = await ok(api, "GET", "/reports/caseload", lead)
    [row] = [c for c in caseload["counsellors"] if c["counsellor"] == "c-groups"]
    assert (row["sessions"], row["hours_used"]) == (1, 1.5)

    # Each case: its own part; the others' names and notes nowhere.
    answers = {}
    for case_id in (case_a, case_b, case_c):
        case = await ok(api, "GET", f"/cases/{case_id}", counsellor)
        notes = await ok(api, "GET", f"/cases/{case_id}/notes", counsellor)
        answers[case_id] = json.dumps([case, notes])
        [part] = case["group_sessions"]
        assert part["topic"] == "Writing a CV" and part["minutes"] == 90
        assert part["present"] is (case_id != case_c)
    a = json.loads(answers[case_a])[0]
    assert a["hours_used"] == 1.5
    assert [s["kind"] for s in a["sessions"]] == ["group"]
    assert json.loads(answers[case_c])[0]["sessions"] == []
    assert "Annelies-inzicht-geheim." in answers[case_a]
    assert "Bart-besproken-geheim." in answers[case_b]
    for case_id, text in answers.items():
        others = {case_a, case_b, case_c} - {case_id}
        for other in others:
            assert other not in text
        assert ("Annelies" in text) is (case_id == case_a)
        assert ("Bart" in text) is (case_id == case_b)

    # The export: the same, the client's own part only.
    state = intake_app.state
    for client_id, mine, theirs in (
        (client_a, "Annelies-inzicht-geheim.", "Bart"),
        (client_b, "Bart-besproken-geheim.", "Annelies"),
    ):
        section = await gather(
            state.application, state.runtime.pool, uuid.UUID(client_id), state.projection
        )
        ExportIntake.model_validate(section)
        [exported] = section["cases"]
        assert [g["topic"] for g in exported["group_sessions"]] == ["Writing a CV"]
        text = json.dumps(section, default=str)
        assert mine in text and theirs not in text
        for other in (case_a, case_b, case_c):
            assert (other in text) is (other == exported["case_id"])

    # The notes are sealed on the case: not in its stored events in the clear.
    rows = await state.runtime.pool.fetch(
        "SELECT state FROM intake.intake_events WHERE originator_id = $1", uuid.UUID(case_a)
    )
    assert b"Annelies-inzicht" not in b"".join(bytes(r["state"]) for r in rows)


async def test_group_commands_refused_naming_the_field(api: httpx.AsyncClient, token: Any) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org))
    lead = bearer(token("team_lead", org=org))
    case_id = await an_open_case(api, counsellor)
    body = {"topic": "Netwerken", "starts_at": hours_ago(-24), "minutes": 60}
    for bad, field in (
        ({**body, "topic": "  "}, "topic"),
        ({**body, "minutes": 0}, "minutes"),
        ({**body, "starts_at": "2026-12-01T10:00:00"}, "starts_at"),
        ({**body, "case_ids": [str(uuid.uuid4())]}, "case_id"),
        ({**body, "place": "a\nb"}, "place"),
    ):
        r = await api.post(f"{INTAKE}/groups", json=bad, headers=counsellor)
        assert_problem(r, 422, "validation-error", (field,))
    r = await api.post(f"{INTAKE}/groups", json=body, headers=lead)
    assert r.status_code == 403
    planned = await ok(api, "POST", "/groups", counsellor, json=body)
    group = f"{INTAKE}/groups/{planned['group_id']}"
    client_only = await a_registered_client(api, counsellor)
    r = await api.post(f"{group}/participants", json={"case_id": client_only}, headers=counsellor)
    assert_problem(r, 422, "validation-error", ("case_id",))
    r = await api.post(f"{group}/held", json={"attendance": []}, headers=counsellor)
    assert_problem(r, 422, "validation-error", ("attendance",))
    await ok(
        api,
        "POST",
        f"/groups/{planned['group_id']}/participants",
        counsellor,
        json={"case_id": case_id},
    )
    await ok(api, "DELETE", f"/groups/{planned['group_id']}/participants/{case_id}", counsellor)
    await ok(api, "POST", f"/groups/{planned['group_id']}/cancellation", counsellor)
    r = await api.post(f"{group}/participants", json={"case_id": case_id}, headers=counsellor)
    assert_problem(r, 409, "group-not-planned")
