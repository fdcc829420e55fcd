"""Rights and duties and complaints through intake's API on real PostgreSQL and NATS:
informing the client (flagged until then on the client search and the case list), a
complaint registered, assigned, handled, answered; the team lead's list (open, overdue,
answered) and figures; refused input naming the field; reads of a complaint's text in
the access log; the complaint in intake's part of the client's export (its erasure is in
test_erasure_everywhere.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from eventsourcing.persistence import StoredEvent

from services.intake.export import gather
from shared.contracts.export import IntakeSection as ExportIntake
from tests.scenarios import a_registered_client, an_open_case, days
from tests.support import assert_problem, bearer, eventually, new_org

INTAKE = "/intake/v1"


async def complaint_reads(intake_app: Any, client_id: str) -> list[dict[str, Any]]:
    """The DataAccess records of complaint reads of this client in intake's event store."""
    app = intake_app.state.application
    rows = await intake_app.state.runtime.pool.fetch(
        "SELECT originator_id, originator_version, topic, state FROM intake.intake_events "
        "WHERE topic LIKE '%DataAccess%' ORDER BY notification_id"
    )
    out = []
    for row in rows:
        state = app.sealing.decode_state(
            StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
        )
        resource = state.get("resource")
        if str(state.get("client_id")) == client_id and resource in ("complaint", "complaint-list"):
            out.append(state)
    return out


async def ok(api: httpx.AsyncClient, method: str, path: str, headers: Any, **kw: Any) -> Any:
    r = await api.request(method, f"{INTAKE}{path}", headers=headers, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r


async def test_informing_the_client_clears_the_flag_and_shows_on_the_client(
    api: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org, sub="c-anna"))
    case_id = await an_open_case(api, counsellor)
    client_id = (await ok(api, "GET", f"/cases/{case_id}", counsellor)).json()["client_id"]

    async def flags() -> tuple[Any, Any]:
        [found] = (await ok(api, "GET", "/clients", counsellor)).json()
        [case] = (await ok(api, "GET", "/cases", counsellor)).json()
        return found["rights_informed_at"], case["client_informed_of_rights"]

    assert await flags() == (None, False)
    client = (await ok(api, "GET", f"/clients/{client_id}", counsellor)).json()
    assert client["informed_of_rights"] is None and client["rights_information"] == []

    versions = (await ok(api, "GET", "/rights-information/versions", counsellor)).json()
    assert versions == ["2026-01"]
    r = await ok(
        api,
        "POST",
        f"/clients/{client_id}/rights-information",
        {**counsellor, "If-Match": f'"{client["version"]}"'},
        json={"version": "2026-01", "language": "fr"},
    )
    assert r.json()["version"] == client["version"] + 1
    client = (await ok(api, "GET", f"/clients/{client_id}", counsellor)).json()
    informed = client["informed_of_rights"]
    assert (informed["version"], informed["language"], informed["actor"]) == (
        "2026-01",
        "fr",
        "c-anna",
    )
    at, flag = await flags()
    assert at is not None and flag is True

    for body, field in (
        ({"version": "1999-01", "language": "nl"}, "version"),
        ({"version": "2026-01", "language": "de"}, "language"),
        ({"version": "2026-01"}, "language"),
    ):
        r = await api.post(
            f"{INTAKE}/clients/{client_id}/rights-information", json=body, headers=counsellor
        )
        assert_problem(r, 422, "validation-error", (field,))
    stale = {**counsellor, "If-Match": '"1"'}
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/rights-information",
        json={"version": "2026-01", "language": "nl"},
        headers=stale,
    )
    assert_problem(r, 409, "version-conflict")


async def test_a_complaint_from_registration_to_answer_with_the_team_leads_list_and_figures(
    api: httpx.AsyncClient, intake_app: Any, token: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org, sub="c-anna"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    elsewhere = bearer(token("team_lead", org=new_org(), sub="lead-2"))
    case_id = await an_open_case(api, counsellor)
    client_id = (await ok(api, "GET", f"/cases/{case_id}", counsellor)).json()["client_id"]

    r = await ok(
        api,
        "POST",
        f"/clients/{client_id}/complaints",
        counsellor,
        json={"subject": "Twee afspraken\nafgezegd.", "case_id": case_id},
    )
    created = r.json()
    complaint_id = created["complaint_id"]
    assert r.status_code == 201 and created["version"] == 1
    assert created["deadline"] == (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    other = (
        await ok(api, "POST", f"/clients/{client_id}/complaints", counsellor, json={"subject": "x"})
    ).json()["complaint_id"]
    await ok(api, "POST", f"/complaints/{other}/withdrawal", {**counsellor, "If-Match": '"1"'})

    path = f"/complaints/{complaint_id}"
    await ok(api, "POST", f"{path}/assignment", lead, json={"team_lead": "lead-1"})
    await ok(api, "POST", f"{path}/handling", {**lead, "If-Match": '"2"'})

    async def listed(which: str) -> list[str]:
        rows = (await ok(api, "GET", "/complaints", lead, params={"status": which})).json()
        return [row["complaint_id"] for row in rows]

    assert await listed("open") == [complaint_id]
    assert await listed("overdue") == []
    assert await listed("withdrawn") == [other]
    [row] = (await ok(api, "GET", "/complaints", lead, params={"status": "open"})).json()
    assert (row["status"], row["assigned_to"], row["case_id"]) == ("in_handling", "lead-1", case_id)
    assert "subject" not in row

    await ok(
        api,
        "POST",
        f"{path}/answer",
        {**lead, "If-Match": '"3"'},
        json={"answer": "Excuses; vaste afspraak voortaan."},
    )
    r = await api.post(f"{INTAKE}{path}/withdrawal", headers=lead)
    assert_problem(r, 409, "complaint-closed")
    assert await listed("answered") == [complaint_id]
    assert await listed("open") == []

    got = (await ok(api, "GET", path, counsellor)).json()
    assert got["subject"] == "Twee afspraken\nafgezegd."
    assert got["answer"] == "Excuses; vaste afspraak voortaan."
    assert got["answered_on"] == date.today().isoformat() and got["status"] == "answered"
    [first, second] = (await ok(api, "GET", f"/clients/{client_id}/complaints", lead)).json()
    assert {first["complaint_id"], second["complaint_id"]} == {complaint_id, other}
    reads = await complaint_reads(intake_app, client_id)
    assert [(a["resource"], a["actor"]) for a in reads] == [
        ("complaint", "c-anna"),
        ("complaint-list", "lead-1"),
    ]

    report = (
        await ok(api, "GET", "/reports/complaints", lead, params={"from": days(-1), "to": days(0)})
    ).json()
    assert report["figures"] == {
        "registered": 2,
        "received": 0,
        "in_handling": 0,
        "answered": 1,
        "withdrawn": 1,
        "overdue": 0,
        "answered_in_time": 1,
    }
    assert report["from"] == f"{days(-1)}T00:00:00Z"
    # Another organisation sees none of it.
    assert (await ok(api, "GET", "/complaints", elsewhere)).json() == []
    assert_problem(await api.get(f"{INTAKE}{path}", headers=elsewhere), 404, "not-found")
    # A counsellor does not list the organisation's complaints.
    assert (await api.get(f"{INTAKE}/complaints", headers=counsellor)).status_code == 403

    # Intake's part of the client's export (the whole export asks the other services too).
    state = intake_app.state
    section = await gather(
        state.application, state.runtime.pool, uuid.UUID(client_id), state.projection
    )
    texts = {c["subject"]: c["answer"] for c in section["complaints"]}
    assert texts["Twee afspraken\nafgezegd."]["text"] == "Excuses; vaste afspraak voortaan."
    assert texts["x"] is None
    assert section["rights_information"] == []
    ExportIntake.model_validate(section)


async def test_an_open_complaint_past_its_deadline_is_overdue(
    api: httpx.AsyncClient, intake_app: Any, token: Any
) -> None:
    """Registered 31 days ago (the application's clock set back for the registration)."""
    org = new_org()
    counsellor = bearer(token("counsellor", org=org))
    lead = bearer(token("team_lead", org=org))
    client_id = await a_registered_client(api, counsellor)
    app = intake_app.state.application
    earlier = datetime.now(UTC) - timedelta(days=31)
    app.clock = lambda: earlier
    try:
        complaint = app.register_complaint(
            client_id=uuid.UUID(client_id), organisation=org, actor="c-1", subject="Slow."
        )
    finally:
        del app.clock

    async def overdue() -> list[dict[str, Any]] | None:
        rows = (await ok(api, "GET", "/complaints", lead, params={"status": "overdue"})).json()
        return rows or None

    [row] = await eventually(overdue, "the overdue complaint")
    assert row["complaint_id"] == str(complaint.id) and row["overdue"] is True
    report = (await ok(api, "GET", "/reports/complaints", lead, params={"from": days(-40)})).json()
    assert report["figures"]["overdue"] == 1 and report["figures"]["received"] == 1


async def test_bad_complaints_are_refused_naming_the_field(
    api: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org))
    client_id = await a_registered_client(api, counsellor)
    url = f"{INTAKE}/clients/{client_id}/complaints"
    for body, field in (
        ({}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 4001}, "subject"),
        ({"subject": "x", "case_id": "nope"}, "case_id"),
    ):
        assert_problem(
            await api.post(url, json=body, headers=counsellor), 422, "validation-error", (field,)
        )
    r = await api.post(url, json={"subject": "x", "case_id": str(client_id)}, headers=counsellor)
    assert_problem(r, 422, "validation-error", ("case_id",))
    complaint_id = (await api.post(url, json={"subject": "x"}, headers=counsellor)).json()[
        "complaint_id"
    ]
    answer = f"{INTAKE}/complaints/{complaint_id}/answer"
    ahead = (date.today() + timedelta(days=2)).isoformat()
    for body, field in (
        ({}, "answer"),
        ({"answer": "ok", "answered_on": "2026-13-01"}, "answered_on"),
        ({"answer": "ok", "answered_on": ahead}, "answered_on"),
    ):
        r = await api.post(answer, json=body, headers=counsellor)
        assert_problem(r, 422, "validation-error", (field,))
    assign = f"{INTAKE}/complaints/{complaint_id}/assignment"
    assert_problem(
        await api.post(assign, json={"team_lead": ""}, headers=counsellor),
        422,
        "validation-error",
        ("team_lead",),
    )
    r = await api.get(
        f"{INTAKE}/complaints",
        params={"status": "late"},
        headers=bearer(token("team_lead", org=org)),
    )
    assert_problem(r, 422, "validation-error", ("status",))
