"""Intake's HTTP API for a case's appointments and a counsellor's calendar: planning
(proposed by the agency's rhythm), rescheduling, cancelling, marking missed and holding an
appointment (which records the session); the case's appointments with the next proposed
dates; a counsellor's appointments of a period; their iCalendar feed.

A cancellation's reason is personal (sealed in its event): the case's appointments are a
recorded read (resource `appointments`). A counsellor's list and feed name no client (the
case's id or short reference, the kind, the time, the channel and the place); the feed's
read is recorded all the same (resource `calendar`, one entry per client in it)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import Field, StrictStr
from starlette.concurrency import run_in_threadpool

from services.intake.api.answers import (
    AppointmentCreated,
    AppointmentOut,
    CaseAgenda,
    Created,
    DayAppointment,
    SessionCreated,
)
from services.intake.api.dependencies import App, CaseCommand
from services.intake.api.schemas import (
    AppointmentHeldIn,
    AppointmentIn,
    CancellationIn,
    NoShowIn,
    RescheduleIn,
)
from services.intake.calendar_feed import feed
from services.intake.domain import Case, IntakeError, plain, propose
from services.intake.projections import list_appointments
from shared.audit.access import record_read, record_reads
from shared.auth import Principal, Staff
from shared.errors import Forbidden, InvalidInput
from shared.idempotency import new_id
from shared.schemas import AwareMoment, SingleLine
from shared.settings import Settings

agenda = APIRouter(tags=["intake"])

APPOINTMENT_CATEGORIES = ["appointments"]
# The widest period one list answers, and the feed's window.
MOST_DAYS = 62
FEED_PAST_DAYS = 30
FEED_AHEAD_DAYS = 365
CALENDAR = "text/calendar; charset=utf-8"
# A counsellor as the paths and queries name them: their token's `sub`.
Whose = Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine]


def agency_zone(settings: Settings) -> tzinfo | None:
    """The agency's time zone (the one its console shows), for office hours."""
    try:
        return ZoneInfo(settings.console_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _whose(who: Principal, counsellor: str | None) -> str:
    """Whose appointments the caller may read: a counsellor their own, a team lead any
    counsellor's of their organisation."""
    wanted = counsellor or who.sub
    if wanted != who.sub and not who.has("team_lead"):
        raise Forbidden("A counsellor reads their own appointments only.")
    return wanted


# -- a case's appointments --------------------------------------------------------------------
@agenda.post(
    "/cases/{case_id}/appointments",
    status_code=status.HTTP_201_CREATED,
    response_model=AppointmentCreated,
)
async def plan_appointment(body: AppointmentIn, cmd: CaseCommand) -> AppointmentCreated:
    """Plan an appointment ahead in the caller's calendar (the case open or accepted; no
    overlap with another planned one of the case: 409 `appointment-overlaps`). `GET
    .../appointments` proposes dates by the agency's rhythm."""
    appointment_id = new_id()
    minutes = body.minutes or cmd.app.settings.appointment_minutes_default
    case = await cmd.run(
        lambda case, at: case.plan_appointment(
            appointment_id=appointment_id,
            kind=body.kind,
            starts_at=body.starts_at,
            minutes=minutes,
            channel=body.channel,
            place=body.place,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return AppointmentCreated(appointment_id=appointment_id, version=case.version)


@agenda.get("/cases/{case_id}/appointments", response_model=CaseAgenda)
async def get_appointments(
    case_id: uuid.UUID,
    who: Staff,
    app: App,
    count: Annotated[int, Query(ge=1, le=12, description="How many dates to propose.")] = 3,
) -> CaseAgenda:
    """The case's appointments by their start, its no-shows, and the next `count` dates the
    agency's rhythm proposes. A recorded read (resource `appointments`: a cancellation's
    reason is personal)."""

    def read() -> Case:
        case = app.case(case_id, who.org)
        record_read(
            app,
            who,
            client_id=case.client_id,
            case_id=case.id,
            resource="appointments",
            categories=APPOINTMENT_CATEGORIES,
        )
        return case

    case = await run_in_threadpool(read)
    rhythm = list(app.settings.appointment_rhythm_days)
    return CaseAgenda(
        case_id=case.id,
        appointments=[
            AppointmentOut(**plain(a))
            for a in sorted(case.appointments.values(), key=lambda a: a.starts_at)
        ],
        no_shows=case.no_shows,
        proposed=propose(
            rhythm, case.meetings(), now=app.clock(), count=count, zone=agency_zone(app.settings)
        ),
        rhythm_days=rhythm,
        version=case.version,
    )


@agenda.put("/cases/{case_id}/appointments/{appointment_id}", response_model=Created)
async def reschedule_appointment(
    appointment_id: uuid.UUID, body: RescheduleIn, cmd: CaseCommand
) -> Created:
    """Move a planned appointment (its length, channel and place kept unless given); a
    held, cancelled or missed one is refused with 409 `appointment-not-planned`."""
    case = await cmd.run(
        lambda case, at: case.reschedule_appointment(
            appointment_id=appointment_id,
            starts_at=body.starts_at,
            minutes=body.minutes,
            channel=body.channel,
            place=body.place,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Created(version=case.version)


@agenda.post("/cases/{case_id}/appointments/{appointment_id}/cancellation", response_model=Created)
async def cancel_appointment(
    appointment_id: uuid.UUID, body: CancellationIn, cmd: CaseCommand
) -> Created:
    """Cancel a planned appointment: by the client or the agency, and why (sealed)."""
    case = await cmd.run(
        lambda case, at: case.cancel_appointment(
            appointment_id=appointment_id,
            by=body.by,
            reason=body.reason,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Created(version=case.version)


@agenda.post("/cases/{case_id}/appointments/{appointment_id}/no-show", response_model=Created)
async def mark_missed(appointment_id: uuid.UUID, body: NoShowIn, cmd: CaseCommand) -> Created:
    """The client did not come: a no-show, counted on the case (not before its start:
    409 `appointment-ahead`)."""
    case = await cmd.run(
        lambda case, at: case.mark_missed(appointment_id=appointment_id, actor=cmd.who.sub, at=at)
    )
    return Created(version=case.version)


@agenda.post(
    "/cases/{case_id}/appointments/{appointment_id}/held",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionCreated,
)
async def hold_appointment(
    appointment_id: uuid.UUID, body: AppointmentHeldIn, cmd: CaseCommand
) -> SessionCreated:
    """The appointment took place: it becomes a session (held at its start, of its kind,
    its minutes the planned ones unless given, counted against the hours budget), with its
    notes if given (sealed). Not before its start (409 `appointment-ahead`)."""
    session_id = new_id()
    notes = body.notes

    def command(case: Case, at: datetime) -> None:
        case.hold_appointment(
            appointment_id=appointment_id,
            session_id=session_id,
            minutes=body.minutes,
            actor=cmd.who.sub,
            at=at,
        )
        if notes is not None:
            try:
                case.record_session_notes(
                    session_id=session_id, actor=cmd.who.sub, at=at, **notes.model_dump()
                )
            except IntakeError as e:  # the field is the body's: `notes.discussed`
                raise IntakeError(e.code, e.message, f"notes.{e.field}") from None

    case = await cmd.run(command)
    return SessionCreated(session_id=session_id, version=case.version)


# -- a counsellor's appointments ----------------------------------------------------------------
@agenda.get("/appointments", response_model=list[DayAppointment])
async def counsellor_appointments(
    request: Request,
    who: Staff,
    starts_from: Annotated[
        AwareMoment, Query(alias="from", description="The period's start (RFC 3339).")
    ],
    starts_before: Annotated[
        AwareMoment, Query(alias="to", description="The period's end, exclusive (RFC 3339).")
    ],
    counsellor: Annotated[
        Whose | None,
        Query(description="Whose (a team lead's choice; a counsellor reads their own: absent)."),
    ] = None,
) -> list[DayAppointment]:
    """A counsellor's appointments starting in [`from`, `to`) (at most 62 days), by their
    start: the worklist's day. No client's name or text: not a recorded read."""
    if starts_before <= starts_from or starts_before - starts_from > timedelta(days=MOST_DAYS):
        raise InvalidInput(
            f"`to` must follow `from`, at most {MOST_DAYS} days later.",
            errors=[{"field": "to", "message": "out of range"}],
        )
    whose = _whose(who, counsellor)
    rows = await list_appointments(
        request.app.state.runtime.pool,
        who.org,
        whose,
        starts_from=starts_from,
        starts_before=starts_before,
    )
    return [DayAppointment(**{k: r[k] for k in DayAppointment.model_fields}) for r in rows]


@agenda.get(
    "/counsellors/{counsellor}/calendar",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "RFC 5545 calendar"}},
)
async def calendar_feed(
    counsellor: Annotated[Whose, Path(description="The counsellor (their token's `sub`).")],
    request: Request,
    who: Staff,
    app: App,
) -> Response:
    """The counsellor's appointments as an iCalendar feed (`text/calendar`, RFC 5545): from
    30 days ago to a year ahead, cancelled ones marked `CANCELLED`. Each event names the
    session's kind, the case's short reference, the channel and the place; no client's
    name. A counsellor reads their own feed, a team lead any counsellor's of their
    organisation (403 otherwise). A recorded read (resource `calendar`, one entry per
    client in it)."""
    whose = _whose(who, counsellor)
    now = app.clock()
    rows = await list_appointments(
        request.app.state.runtime.pool,
        who.org,
        whose,
        starts_from=now - timedelta(days=FEED_PAST_DAYS),
        starts_before=now + timedelta(days=FEED_AHEAD_DAYS),
        limit=5000,
    )
    await run_in_threadpool(
        record_reads,
        app,
        who,
        client_ids=[r["client_id"] for r in rows],
        resource="calendar",
        categories=APPOINTMENT_CATEGORIES,
    )
    return Response(
        feed(whose, rows, now=now),
        media_type=CALENDAR,
        headers={"Content-Disposition": 'inline; filename="appointments.ics"'},
    )
