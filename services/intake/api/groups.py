"""Intake's HTTP API for group sessions: planning one (topic, when, how long, where, its
participants' cases), adding and removing participants, cancelling it, recording it held
(who came, each one's own notes) and reading them.

A group session's own record holds only case ids and non-personal facts, so its answers
record no read. What a participant said stays on their own case (a session of kind
`group` with their notes, sealed there): `GET /cases/{id}` and `GET /cases/{id}/notes`
show a client their own part, never the other participants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from services.intake.api.answers import (
    Created,
    GroupCreated,
    GroupOut,
    GroupSummary,
    ParticipantOut,
)
from services.intake.api.dependencies import App, GroupCommand
from services.intake.api.schemas import AddParticipant, HoldGroup, PlanGroup
from services.intake.domain import GroupSession, IntakeError
from services.intake.projections import list_groups
from shared.auth import Counsellor, Staff
from shared.commands import Projection, expected_version, run_command, set_etag
from shared.paging import Paging, page_headers
from shared.schemas import IfMatch

groups = APIRouter(tags=["intake"])

NOTE_PARTS = ("discussed", "insights", "agreements", "homework")


def group_out(g: GroupSession) -> GroupOut:
    attendance = {a.case_id: "present" if a.present else "absent" for a in g.attendance}
    return GroupOut(
        group_id=g.id,
        organisation=g.organisation,
        topic=g.topic,
        starts_at=g.starts_at,
        minutes=g.minutes,
        place=g.place,
        counsellor=g.counsellor,
        status=g.status,
        participants=len(g.participants),
        held_at=g.held_at,
        held_by=g.held_by,
        cases=[
            ParticipantOut(case_id=c, attendance=attendance.get(c, "expected"))
            for c in g.participants
        ],
        version=g.version,
    )


@groups.post("/groups", status_code=status.HTTP_201_CREATED, response_model=GroupCreated)
async def plan_group(
    body: PlanGroup, who: Counsellor, app: App, proj: Projection, response: Response
) -> GroupCreated:
    """Plan a group session: its topic, when, how long, where, and its first participants
    (cases of the organisation still in guidance; more can be added until it is held)."""
    group = await run_command(
        app,
        proj,
        lambda: app.plan_group(
            organisation=who.org,
            actor=who.sub,
            topic=body.topic,
            starts_at=body.starts_at,
            minutes=body.minutes,
            place=body.place,
            case_ids=list(dict.fromkeys(body.case_ids)),
        ),
    )
    set_etag(response, group.version)
    response.headers["Location"] = f"/intake/v1/groups/{group.id}"
    return GroupCreated(group_id=group.id, version=group.version)


@groups.get("/groups", response_model=list[GroupSummary])
async def find_groups(
    who: Staff,
    request: Request,
    response: Response,
    page: Paging,
    status: Annotated[
        Literal["planned", "held", "cancelled"] | None,
        Query(description="Only the group sessions of this status."),
    ] = None,
    case_id: Annotated[
        uuid.UUID | None, Query(description="Only the group sessions this case takes part in.")
    ] = None,
) -> list[GroupSummary]:
    """The organisation's group sessions, the latest first (no participant's name: the
    group holds none); `X-Total-Count` and `Link` paginate."""
    listed = await list_groups(
        request.app.state.runtime.pool, who.org, status=status, case_id=case_id, page=page
    )
    page_headers(request, response, page, listed)
    return [GroupSummary(**r) for r in listed.rows]


@groups.get("/groups/{group_id}", response_model=GroupOut)
async def get_group(group_id: uuid.UUID, who: Staff, app: App, response: Response) -> GroupOut:
    """A group session of the caller's organisation: its facts and its participants' case
    ids with their attendance."""
    group = await run_in_threadpool(app.group, group_id, who.org)
    set_etag(response, group.version)
    return group_out(group)


@groups.post("/groups/{group_id}/participants", response_model=Created)
async def add_participant(body: AddParticipant, cmd: GroupCommand) -> Created:
    """Add a case of the organisation still in guidance (one taking part already changes
    nothing); until the session is held."""
    app = cmd.app

    def command(group: GroupSession, at: datetime) -> None:
        app.participant(body.case_id, cmd.who.org)
        group.add_participant(case_id=body.case_id, actor=cmd.who.sub, at=at)

    group = await cmd.run(command)
    return Created(version=group.version)


@groups.delete("/groups/{group_id}/participants/{case_id}", response_model=Created)
async def remove_participant(case_id: uuid.UUID, cmd: GroupCommand) -> Created:
    """Take a case out of the group session, until it is held."""
    group = await cmd.run(
        lambda g, at: g.remove_participant(case_id=case_id, actor=cmd.who.sub, at=at)
    )
    return Created(version=group.version)


@groups.post("/groups/{group_id}/cancellation", response_model=Created)
async def cancel_group(cmd: GroupCommand) -> Created:
    """The group session will not be held."""
    group = await cmd.run(lambda g, at: g.cancel(actor=cmd.who.sub, at=at))
    return Created(version=group.version)


@groups.post("/groups/{group_id}/held", response_model=Created)
async def hold_group(
    group_id: uuid.UUID,
    body: HoldGroup,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Created:
    """Record the group session held: each participant present (with their own notes,
    sealed on their own case) or absent (a participant not named was absent). On each
    present client's case a session of kind `group` counts in the hours used; an absent
    one's case records the absence. The group and all its participants' cases are saved
    in one transaction."""
    present: dict[uuid.UUID, dict[str, str | None]] = {}
    seen: set[uuid.UUID] = set()
    for i, row in enumerate(body.attendance):
        if row.case_id in seen:
            raise IntakeError("invalid", f"Case {row.case_id} is named twice.", f"attendance.{i}")
        seen.add(row.case_id)
        notes = {part: getattr(row, part) for part in NOTE_PARTS}
        if row.present:
            present[row.case_id] = notes
        elif any(v and v.strip() for v in notes.values()):
            raise IntakeError("invalid", "An absent participant has no notes.", f"attendance.{i}")
    group = await run_command(
        app,
        proj,
        lambda: app.hold_group(
            group_id,
            organisation=who.org,
            actor=who.sub,
            held_at=body.held_at,
            minutes=body.minutes,
            present=present,
            expected_version=expected_version(if_match),
        ),
    )
    set_etag(response, group.version)
    return Created(version=group.version)
