"""Session notes and the reflection-and-action report through intake's API on real
PostgreSQL and NATS: notes with a session and amended afterwards (their history kept), the
report drafted from them, revised, agreed and agreed again after a revision, its printable
page; refused input naming the field; the reads in the access log; the texts never
published; both in intake's part of the client's export (their erasure is in
test_erasure_everywhere.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.intake.export import gather
from shared.contracts.export import IntakeSection as ExportIntake
from tests.scenarios import an_accepted_case, an_open_case
from tests.support import assert_problem, bearer, new_org

INTAKE = "/intake/v1"


def held_at(hours_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()


async def ok(api: httpx.AsyncClient, method: str, path: str, headers: Any, **kw: Any) -> Any:
    r = await api.request(method, f"{INTAKE}{path}", headers=headers, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r


async def reads_of(intake_app: Any, case_id: str) -> list[tuple[str, str]]:
    """(resource, actor) of the recorded reads of the case's notes and report."""
    rows = await intake_app.state.runtime.pool.fetch(
        "SELECT state FROM intake.intake_events WHERE topic LIKE '%DataAccess%' "
        "ORDER BY notification_id"
    )
    app = intake_app.state.application
    out = []
    for row in rows:
        state = app.sealing.transcoder.decode(bytes(row["state"]))
        if str(state.get("case_id")) == case_id and state["resource"] in (
            "session-notes",
            "report",
            "report-document",
        ):
            out.append((state["resource"], state["actor"]))
    return out


async def test_notes_make_the_report_the_client_agrees_to_and_prints(
    api: httpx.AsyncClient, intake_app: Any, token: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org, sub="c-anna"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    elsewhere = bearer(token("counsellor", org=new_org()))
    client_id, case_id = await an_accepted_case(api, counsellor, preferred_language="fr")
    case = f"/cases/{case_id}"

    first = await ok(
        api,
        "POST",
        f"{case}/sessions",
        counsellor,
        json={
            "kind": "deepening",
            "held_at": held_at(48),
            "minutes": 60,
            "notes": {"discussed": "Waarden.", "insights": "Autonomie telt\nmeer dan loon."},
        },
    )
    first_id = first.json()["session_id"]
    second_id = (
        await ok(
            api,
            "POST",
            f"{case}/sessions",
            counsellor,
            json={"kind": "synthesis", "held_at": held_at(2), "minutes": 45},
        )
    ).json()["session_id"]
    got = (await ok(api, "GET", case, counsellor)).json()
    assert [s["has_notes"] for s in got["sessions"]] == [True, False]
    assert got["report_status"] is None
    await ok(
        api,
        "POST",
        f"{case}/sessions/{second_id}/notes",
        counsellor,
        json={"insights": "Plannen ligt haar.", "homework": "Een planner interviewen."},
    )
    await ok(
        api,
        "POST",
        f"{case}/sessions/{second_id}/notes",
        counsellor,
        json={"insights": "Plannen ligt haar echt.", "agreements": "Cursus zoeken."},
    )
    [one, two] = (await ok(api, "GET", f"{case}/notes", lead)).json()
    assert (
        one["session_id"] == first_id
        and one["notes"]["insights"] == "Autonomie telt\nmeer dan loon."
    )
    assert [h["insights"] for h in two["history"]] == [
        "Plannen ligt haar.",
        "Plannen ligt haar echt.",
    ]
    assert two["notes"]["amendment"] == 1 and two["notes"]["homework"] is None

    # No report yet; the draft is prefilled from the question and the notes.
    assert_problem(await api.get(f"{INTAKE}{case}/report", headers=counsellor), 404, "not-found")
    await ok(api, "POST", f"{case}/report", counsellor, json={})
    report = (await ok(api, "GET", f"{case}/report", counsellor)).json()
    assert report["starting_question"] == "Should I move from logistics?"
    assert report["insights"] == ["Autonomie telt\nmeer dan loon.", "Plannen ligt haar echt."]
    assert (report["status"], report["revision"], report["agreements"]) == ("draft", 1, [])
    r = await api.post(f"{INTAKE}{case}/report/agreement", json={"revision": 1}, headers=counsellor)
    assert_problem(r, 409, "report-incomplete")
    texts = {
        "starting_question": report["starting_question"],
        "insights": report["insights"],
        "conclusions": "Plannen in de logistiek past.",
        "actions": ["Inschrijven voor de cursus planner."],
    }
    await ok(api, "PUT", f"{case}/report", counsellor, json=texts)
    r = await api.post(f"{INTAKE}{case}/report/agreement", json={"revision": 1}, headers=counsellor)
    assert_problem(r, 409, "report-changed")
    await ok(api, "POST", f"{case}/report/agreement", counsellor, json={"revision": 2})
    report = (await ok(api, "GET", f"{case}/report", counsellor)).json()
    assert report["status"] == "agreed" and report["agreements"][0]["revision"] == 2
    assert report["agreements"][0]["recorded_by"] == "c-anna"
    await ok(api, "PUT", f"{case}/report", counsellor, json={**texts, "actions": ["Anders."]})
    assert (await ok(api, "GET", case, counsellor)).json()["report_status"] == "revised"

    page = await ok(api, "GET", f"{case}/report/document", lead)
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in page.text and "Rapport de réflexion et d'action" in page.text
    assert "Plannen in de logistiek past." in page.text and "Anders." in page.text
    assert "révisé, à approuver à nouveau" in page.text
    english = await ok(api, "GET", f"{case}/report/document", lead, params={"lang": "en"})
    assert "Reflection and action report" in english.text

    # Another organisation sees nothing and changes nothing.
    for path in (f"{case}/notes", f"{case}/report", f"{case}/report/document"):
        assert_problem(await api.get(f"{INTAKE}{path}", headers=elsewhere), 404, "not-found")
    r = await api.post(
        f"{INTAKE}{case}/sessions/{first_id}/notes", json={"discussed": "x"}, headers=elsewhere
    )
    assert_problem(r, 404, "not-found")

    assert await reads_of(intake_app, case_id) == [
        ("session-notes", "lead-1"),
        ("report", "c-anna"),  # the 404 before the draft read the case too
        ("report", "c-anna"),
        ("report", "c-anna"),
        ("report-document", "lead-1"),
        ("report-document", "lead-1"),
    ]

    # The texts stay in intake: no published event carries them.
    rows = await intake_app.state.runtime.pool.fetch(
        "SELECT state FROM intake.intake_events WHERE originator_id = $1", uuid.UUID(case_id)
    )
    stored = b"".join(bytes(r["state"]) for r in rows)
    assert b"Autonomie" not in stored and b"Plannen in de logistiek" not in stored

    state = intake_app.state
    section = await gather(
        state.application, state.runtime.pool, uuid.UUID(client_id), state.projection
    )
    [exported] = section["cases"]
    assert [n["insights"] for n in exported["session_notes"]] == [
        "Autonomie telt\nmeer dan loon.",
        "Plannen ligt haar.",
        "Plannen ligt haar echt.",
    ]
    assert exported["report"]["actions"] == ["Anders."]
    assert exported["report"]["status"] == "revised"
    assert [a["revision"] for a in exported["report"]["agreements"]] == [2]
    ExportIntake.model_validate(section)


async def test_bad_notes_and_reports_are_refused_naming_the_field(
    api: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org))
    _, case_id = await an_accepted_case(api, counsellor)
    case = f"{INTAKE}/cases/{case_id}"
    session = f"{case}/sessions"
    for body, field in (
        ({"kind": "deepening", "held_at": held_at(1), "minutes": 30, "notes": "x"}, "notes"),
        (
            {"kind": "deepening", "held_at": held_at(1), "minutes": 30, "notes": {"mood": "x"}},
            "notes.mood",
        ),
    ):
        assert_problem(
            await api.post(session, json=body, headers=counsellor),
            422,
            "validation-error",
            (field,),
        )
    r = await api.post(
        session,
        json={"kind": "deepening", "held_at": held_at(1), "minutes": 30, "notes": {}},
        headers=counsellor,
    )
    assert_problem(r, 422, "validation-error", ("notes.discussed",))
    r = await api.post(
        session,
        json={"kind": "deepening", "held_at": held_at(1), "minutes": 30},
        headers=counsellor,
    )
    session_id = r.json()["session_id"]
    notes = f"{session}/{session_id}/notes"
    for body, field in (
        ({"discussed": "x" * 4001}, "discussed"),
        ({"homework": 3}, "homework"),
        ({"insights": "  "}, "discussed"),
    ):
        assert_problem(
            await api.post(notes, json=body, headers=counsellor), 422, "validation-error", (field,)
        )
    r = await api.post(
        f"{session}/{uuid.uuid4()}/notes", json={"discussed": "x"}, headers=counsellor
    )
    assert_problem(r, 404, "not-found")
    for body, field in (
        ({"insights": "x"}, "insights"),
        ({"actions": [""]}, "actions.0"),
        ({"conclusions": "x" * 4001}, "conclusions"),
    ):
        assert_problem(
            await api.post(f"{case}/report", json=body, headers=counsellor),
            422,
            "validation-error",
            (field,),
        )
    r = await api.put(
        f"{case}/report",
        json={"starting_question": "q", "insights": [], "conclusions": "", "actions": []},
        headers=counsellor,
    )
    assert_problem(r, 409, "no-report")
    assert (await api.post(f"{case}/report", json={}, headers=counsellor)).status_code == 201
    for body, field in (
        (
            {"starting_question": "", "insights": [], "conclusions": "", "actions": []},
            "starting_question",
        ),
        ({"starting_question": "q", "conclusions": "", "actions": []}, "insights"),
    ):
        assert_problem(
            await api.put(f"{case}/report", json=body, headers=counsellor),
            422,
            "validation-error",
            (field,),
        )
    for body, field in (
        ({}, "revision"),
        ({"revision": "2"}, "revision"),
        ({"revision": 0}, "revision"),
    ):
        assert_problem(
            await api.post(f"{case}/report/agreement", json=body, headers=counsellor),
            422,
            "validation-error",
            (field,),
        )
    # A case not yet accepted has no report.
    open_case = await an_open_case(api, counsellor)
    r = await api.post(f"{INTAKE}/cases/{open_case}/report", json={}, headers=counsellor)
    assert_problem(r, 409, "case-not-accepted")
