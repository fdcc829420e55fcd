"""Appointments and the counsellor's calendar through intake's API on real PostgreSQL and
NATS: dates proposed by the agency's rhythm, an appointment planned, moved, cancelled with
its reason (sealed, never published), missed (counted) and held (its session recorded with
its notes); the counsellor's day and iCalendar feed (their own; a team lead any of the
organisation; no client's name), the reads in the access log, refused input naming the
field, another organisation's 404, the appointments in the client's export (their erasure
is in test_erasure_everywhere.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from icalendar import Calendar

from services.intake.export import gather
from shared.contracts.export import IntakeSection as ExportIntake
from tests.scenarios import an_accepted_case
from tests.support import assert_problem, bearer, eventually, new_org, subject_messages

INTAKE = "/intake/v1"
REASON = "Ziek; vraagt een nieuwe afspraak volgende week"


async def ok(api: httpx.AsyncClient, method: str, path: str, headers: Any, **kw: Any) -> Any:
    r = await api.request(method, f"{INTAKE}{path}", headers=headers, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def read_resources(intake_app: Any, org: str) -> list[tuple[str, str]]:
    """(resource, actor) of the organisation's recorded reads of appointments."""
    rows = await intake_app.state.runtime.pool.fetch(
        "SELECT state FROM intake.intake_events WHERE topic LIKE '%DataAccess%' "
        "ORDER BY notification_id"
    )
    app = intake_app.state.application
    out = []
    for row in rows:
        state = app.sealing.transcoder.decode(bytes(row["state"]))
        if state.get("organisation") == org and state["resource"] in ("appointments", "calendar"):
            out.append((state["resource"], state["actor"]))
    return out


async def test_appointments_from_proposal_to_session_and_the_counsellors_calendar(
    api: httpx.AsyncClient, intake_app: Any, token: Any, js: Any
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org, sub="c-anna"))
    colleague = bearer(token("counsellor", org=org, sub="c-bart"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    elsewhere = bearer(token("counsellor", org=new_org(), sub="c-anna"))
    client_id, case_id = await an_accepted_case(api, counsellor, given_name="Wendelien")
    case = f"/cases/{case_id}"

    agenda = (await ok(api, "GET", f"{case}/appointments", counsellor)).json()
    assert (agenda["appointments"], agenda["no_shows"], agenda["rhythm_days"]) == (
        [],
        0,
        [7, 7, 7, 14],
    )
    first, second, _ = (datetime.fromisoformat(d) for d in agenda["proposed"])
    assert (second - first).days in (7, 8, 9) and first > datetime.now(UTC)
    # Each at a quarter hour, within the agency's office hours.
    assert all((d.minute % 15, d.second, d.microsecond) == (0, 0, 0) for d in (first, second))

    body = {"kind": "deepening", "starts_at": iso(first), "channel": "in_person"}
    assert_problem(
        await api.post(f"{INTAKE}{case}/appointments", json=body, headers=counsellor),
        422,
        "validation-error",
        ("place",),
    )
    past = {**body, "place": "Gent", "starts_at": iso(datetime.now(UTC) - timedelta(hours=1))}
    assert_problem(
        await api.post(f"{INTAKE}{case}/appointments", json=past, headers=counsellor),
        422,
        "validation-error",
        ("starts_at",),
    )
    planned = (
        await ok(
            api,
            "POST",
            f"{case}/appointments",
            counsellor,
            json={**body, "place": "Kantoor Gent, lokaal 2"},
        )
    ).json()
    moved_to = first + timedelta(days=1)
    await ok(
        api,
        "PUT",
        f"{case}/appointments/{planned['appointment_id']}",
        counsellor,
        json={"starts_at": iso(moved_to)},
    )
    clash = {"kind": "synthesis", "starts_at": iso(moved_to), "channel": "phone"}
    assert_problem(
        await api.post(f"{INTAKE}{case}/appointments", json=clash, headers=counsellor),
        409,
        "appointment-overlaps",
    )
    later = (
        await ok(
            api,
            "POST",
            f"{case}/appointments",
            counsellor,
            json={**clash, "starts_at": iso(second + timedelta(days=1))},
        )
    ).json()
    await ok(
        api,
        "POST",
        f"{case}/appointments/{later['appointment_id']}/cancellation",
        counsellor,
        json={"by": "client", "reason": REASON},
    )
    assert_problem(
        await api.post(
            f"{INTAKE}{case}/appointments/{later['appointment_id']}/no-show",
            json={},
            headers=counsellor,
        ),
        409,
        "appointment-not-planned",
    )
    assert_problem(
        await api.post(
            f"{INTAKE}{case}/appointments/{planned['appointment_id']}/held",
            json={},
            headers=counsellor,
        ),
        409,
        "appointment-ahead",
    )

    # Two appointments of today that have begun: planned on a clock set three hours back.
    now = datetime.now(UTC)
    app = intake_app.state.application
    app.clock = lambda: now - timedelta(hours=3)
    try:
        missed, held = [
            (
                await ok(
                    api,
                    "POST",
                    f"{case}/appointments",
                    counsellor,
                    json={
                        "kind": "deepening",
                        "starts_at": iso(now - timedelta(minutes=m)),
                        "minutes": 30,
                        "channel": "video",
                        "place": "https://meet.example.org/x",
                    },
                )
            ).json()["appointment_id"]
            for m in (120, 60)
        ]
    finally:
        del app.clock
    await ok(api, "POST", f"{case}/appointments/{missed}/no-show", counsellor, json={})
    session = (
        await ok(
            api,
            "POST",
            f"{case}/appointments/{held}/held",
            counsellor,
            json={"minutes": 40, "notes": {"insights": "Wil met jongeren werken."}},
        )
    ).json()
    got = (await ok(api, "GET", case, counsellor)).json()
    [s] = got["sessions"]
    assert (s["session_id"], s["minutes"], s["has_notes"]) == (session["session_id"], 40, True)

    agenda = (await ok(api, "GET", f"{case}/appointments", lead)).json()
    statuses = {a["appointment_id"]: a for a in agenda["appointments"]}
    assert statuses[planned["appointment_id"]]["reschedules"] == 1
    assert statuses[later["appointment_id"]]["cancel_reason"] == REASON
    assert statuses[missed]["status"] == "missed" and agenda["no_shows"] == 1
    assert statuses[held]["session_id"] == session["session_id"]
    # The rhythm goes on from the last meeting (the appointment still planned).
    assert datetime.fromisoformat(agenda["proposed"][0]) > moved_to

    # The counsellor's day: their own; a colleague may not, a team lead may.
    window = {"from": iso(now - timedelta(hours=12)), "to": iso(now + timedelta(hours=12))}
    day = (await ok(api, "GET", "/appointments", counsellor, params=window)).json()
    assert {a["appointment_id"] for a in day} == {missed, held}
    assert all(set(a) >= {"case_id", "kind", "starts_at", "status"} for a in day)
    assert (
        b"Wendelien"
        not in (await api.get(f"{INTAKE}/appointments", params=window, headers=counsellor)).content
    )
    assert_problem(
        await api.get(
            f"{INTAKE}/appointments", params={**window, "counsellor": "c-anna"}, headers=colleague
        ),
        403,
        "forbidden",
    )
    for_lead = (
        await ok(api, "GET", "/appointments", lead, params={**window, "counsellor": "c-anna"})
    ).json()
    assert len(for_lead) == 2
    assert_problem(
        await api.get(
            f"{INTAKE}/appointments", params={**window, "to": window["from"]}, headers=counsellor
        ),
        422,
        "validation-error",
        ("to",),
    )

    # The feed: RFC 5545, no name, the cancelled one marked.
    r = await ok(api, "GET", "/counsellors/c-anna/calendar", counsellor)
    assert r.headers["content-type"].startswith("text/calendar")
    assert b"Wendelien" not in r.content and b"Peeters" not in r.content
    assert REASON.encode() not in r.content
    calendar = Calendar.from_ical(r.content)
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert len(events) == 4
    cancelled = events[f"{later['appointment_id']}@waypoint"]
    assert str(cancelled["status"]) == "CANCELLED"
    moved = events[f"{planned['appointment_id']}@waypoint"]
    assert moved.decoded("dtstart") == moved_to and int(moved["sequence"]) == 1
    assert str(moved["location"]) == "Kantoor Gent, lokaal 2"
    assert case_id[:8] in str(moved["summary"])
    assert_problem(
        await api.get(f"{INTAKE}/counsellors/c-anna/calendar", headers=colleague), 403, "forbidden"
    )
    assert_problem(
        await api.get(f"{INTAKE}/counsellors/c%00anna/calendar", headers=lead),
        422,
        "validation-error",
        ("counsellor",),
    )
    await ok(api, "GET", "/counsellors/c-anna/calendar", lead)
    # Another organisation's counsellor of the same name sees an empty calendar.
    other = await ok(api, "GET", "/counsellors/c-anna/calendar", elsewhere)
    assert not Calendar.from_ical(other.content).walk("VEVENT")
    assert_problem(
        await api.get(f"{INTAKE}{case}/appointments", headers=elsewhere), 404, "not-found"
    )
    assert_problem(
        await api.post(
            f"{INTAKE}{case}/appointments/{uuid.uuid4()}/no-show", json={}, headers=counsellor
        ),
        404,
        "not-found",
    )

    assert await read_resources(intake_app, org) == [
        ("appointments", "c-anna"),
        ("appointments", "lead-1"),
        ("calendar", "c-anna"),
        ("calendar", "lead-1"),
    ]

    # The reason is sealed in the store and never published.
    rows = await intake_app.state.runtime.pool.fetch(
        "SELECT state FROM intake.intake_events WHERE originator_id = $1", uuid.UUID(case_id)
    )
    assert REASON.encode() not in b"".join(bytes(r["state"]) for r in rows)

    async def published() -> list[dict[str, Any]] | None:
        found = [
            m
            for m in await subject_messages(js, "AppointmentCancelled", "intake")
            if m["data"]["case_id"] == case_id
        ]
        return found or None

    [message] = await eventually(published, "the published cancellation")
    assert message["data"]["by"] == "client" and "reason" not in message["data"]

    state = intake_app.state
    section = await gather(
        state.application, state.runtime.pool, uuid.UUID(client_id), state.projection
    )
    [exported] = section["cases"]
    assert len(exported["appointments"]) == 4 and exported["no_shows"] == 1
    assert REASON in [a["cancel_reason"] for a in exported["appointments"]]
    ExportIntake.model_validate(section)
