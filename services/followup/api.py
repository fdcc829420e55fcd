"""Follow-up's HTTP API: follow-ups, the worklist, contacts, action checks, outcome, feedback."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from services.followup.projections import accepted_on, list_followups, outcomes_report, worklist
from shared.audit.access import record_read, record_reads
from shared.auth import Counsellor, Principal, Staff, TeamLead
from shared.commands import Projection, change, set_etag
from shared.http import page_headers
from shared.idempotency import new_id
from shared.messaging.follower import LogFollower
from shared.periods import Period
from shared.periods import period as period_parameter
from shared.schemas import (
    Answer,
    CounsellorFilter,
    Day,
    Id,
    IfMatch,
    Limit,
    MultiLine,
    Offset,
    SingleLine,
    Strict,
)
from shared.vocabulary import GuidanceOutcome

router = APIRouter(tags=["followup"])

Note = Annotated[StrictStr, Field(max_length=4000), MultiLine]
Text = Annotated[StrictStr, Field(min_length=1, max_length=2000), MultiLine]


class ContactIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"channel": "phone", "reached": True, "notes": "Started the course; doing well."}
            ]
        }
    )

    channel: Literal["phone", "email", "meeting", "video"]
    """How the counsellor tried to reach the client: `phone`, `email`, `meeting` or `video`."""
    reached: StrictBool
    """Whether the client was reached (three failures in a row raise a bottleneck)."""
    notes: Note | None = None
    """Notes on the contact (at most 4000 characters)."""


class ActionCheckIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action_id": "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
                    "status": "partly",
                    "bottleneck": "Waiting for the course to start.",
                }
            ]
        }
    )

    action_id: Id
    """The plan action checked (one of the follow-up's `actions`)."""
    status: Literal["realised", "partly", "not_realised"]
    """Whether it was realised: `realised`, `partly` or `not_realised`."""
    bottleneck: Note | None = None
    """What stood in the way (at most 4000 characters); recorded as a bottleneck linked to the
    action.
    """


class OutcomeIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"outcome": "employed", "on": "2026-06-15"}]}
    )

    outcome: GuidanceOutcome
    """Where the client ended up: `employed`, `education`, `self_employed`, `other` or `none`."""
    on: Day
    """The day of the outcome (ISO date): not in the future, not before the case was accepted."""


class FeedbackIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "satisfaction": 4,
                    "self_knowledge_improved": True,
                    "confidence_improved": True,
                    "comments": "The competence test helped me most.",
                }
            ]
        }
    )

    satisfaction: StrictInt = Field(ge=1, le=5)
    """The client's satisfaction, 1 (very dissatisfied) to 5 (very satisfied)."""
    self_knowledge_improved: StrictBool
    """Whether the client knows themselves better now."""
    confidence_improved: StrictBool
    """Whether the client is more confident about their career."""
    comments: Note | None = None
    """The client's comments (at most 4000 characters)."""


class CloseIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "completed", "notes": "Client works as a care assistant."}]
        }
    )

    reason: Literal["completed", "client_withdrew", "unreachable", "other"]
    """Why it closes: `completed`, `client_withdrew`, `unreachable` or `other`."""
    notes: Note | None = None
    """Notes on the closing (at most 4000 characters)."""


class AftercareIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"due_on": "2030-03-01"}]})

    due_on: Day
    """The day of the requested aftercare check-in (ISO date)."""


class ToDoIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "goal_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "description": "Apply for two care-assistant vacancies.",
                    "owner": "client",
                    "due_date": "2030-04-01",
                }
            ]
        }
    )

    goal_id: Id
    """The plan goal the to-do belongs to."""
    description: Text
    """What is to be done (1-2000 characters)."""
    owner: Literal["client", "counsellor", "partner"]
    """Who does it: `client`, `counsellor` or `partner`."""
    due_date: Day
    """When it is due (ISO date)."""


class Changed(Answer):
    version: int
    """The follow-up's version now (its `ETag`; send it as `If-Match`)."""
    status: str
    """The follow-up's status now: `open` or `closed`."""
    closed_by: str | None = Field(
        None,
        description="While closed: the command that closed it "
        "(`feedback` | `outcome` | `checkin` | `close`).",
    )
    closure_reason: str | None = Field(None, description="While closed: why.")


class Created(Changed):
    id: uuid.UUID
    """The id of what was recorded (contact, action check or to-do)."""


class CheckInOut(Answer):
    checkin_id: uuid.UUID
    """The check-in's id."""
    number: int
    """Its number, 1 for the first."""
    due_on: date
    """The day it is due."""
    done: bool
    """Whether it was held."""
    done_at: datetime | None
    """When it was recorded as held."""
    requested: bool
    """Asked for by the client (aftercare), not scheduled by the agreement."""


class FollowUpOut(Answer):
    followup_id: uuid.UUID
    """The follow-up's id."""
    case_id: uuid.UUID
    """The intake case."""
    client_id: uuid.UUID
    """The case's client."""
    organisation: str
    """The organisation it belongs to."""
    counsellor: str
    """Its counsellor: who agreed the plan (`sub`)."""
    status: str
    """`open` or `closed`."""
    plan_version: int
    """The agreed plan version it follows."""
    plan_status: str
    """`agreed`, or `revised` while a change awaits both agreements."""
    checkins: list[CheckInOut]
    """The check-ins, earliest first."""
    actions: list[dict[str, Any]]
    """The plan's actions: [{action_id, goal_id, owner, due_date, status (`open` | `completed` |
    `cancelled`), check}].
    """
    action_checks: list[dict[str, Any]]
    """The action checks: whether each action was realised, with bottleneck."""
    contacts: list[dict[str, Any]]
    """Contact attempts: [{contact_id, channel, reached, notes, at, actor}]."""
    bottlenecks: list[dict[str, Any]]
    """Bottlenecks raised: [{bottleneck_id, key, kind, action_id, checkin_id, description,
    detected_at, actor}].
    """
    todos: list[dict[str, Any]]
    """To-dos agreed in aftercare: [{todo_id, action_id, goal_id, description, owner, due_date,
    agreed_at, actor}].
    """
    outcome: dict[str, Any] | None
    """The outcome: {outcome, on, recorded_at, actor}; null before it."""
    feedback: dict[str, Any] | None
    """The client's feedback: {satisfaction, self_knowledge_improved, confidence_improved, comments,
    given_at, actor}; null before it.
    """
    closed: dict[str, Any] | None
    """While closed: {reason, rule (`outcome_and_feedback` | `last_checkin` | `early`),
    closed_by, notes, at}; null while open."""
    closed_at: datetime | None
    """While closed: when."""
    closure_reason: str | None
    """While closed: why (`completed`, `client_withdrew`, `unreachable`, `other`)."""
    closed_by: str | None
    """While closed: the command that closed it (`feedback` | `outcome` | `checkin` | `close`)."""
    version: int
    """The follow-up's version (its `ETag`)."""


class WorkItem(Answer):
    checkin_id: uuid.UUID
    """The check-in due."""
    followup_id: uuid.UUID
    """Its follow-up."""
    case_id: uuid.UUID
    """The intake case."""
    client_id: uuid.UUID
    """The case's client."""
    counsellor: str
    """The follow-up's counsellor (`sub`)."""
    number: int
    """The check-in's number."""
    due_on: date
    """The day it is due."""
    days_overdue: int
    """Days past its due day; 0 when not yet past it."""


async def followups(request: Request) -> FollowUpApplication:
    app: FollowUpApplication = request.app.state.followup
    return app


App = Annotated[FollowUpApplication, Depends(followups)]


def followup_out(f: FollowUp) -> FollowUpOut:
    return FollowUpOut(
        followup_id=f.id,
        case_id=f.case_id,
        client_id=f.client_id,
        organisation=f.organisation,
        counsellor=f.counsellor,
        status=f.status,
        plan_version=f.plan_version,
        plan_status=f.plan_status,
        checkins=[CheckInOut(**{k: c.get(k) for k in CheckInOut.model_fields}) for c in f.checkins],
        actions=list(f.actions.values()),
        action_checks=list(f.action_checks.values()),
        contacts=f.contacts,
        bottlenecks=list(f.bottlenecks.values()),
        todos=list(f.todos.values()),
        outcome=f.outcome,
        feedback=f.feedback,
        closed=f.closed,
        **_closure(f),
        version=f.version,
    )


def _closure(f: FollowUp) -> dict[str, Any]:
    """When, why and by which command the follow-up closed (all None while open)."""
    closed = f.closed if f.status == "closed" else None
    return {
        "closed_at": closed and closed["at"],
        "closure_reason": closed and closed["reason"],
        "closed_by": closed and closed["closed_by"],
    }


@router.get("/followups", response_model=list[FollowUpOut])
async def get_followups(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    case_id: Annotated[
        uuid.UUID | None, Query(description="The follow-up of this intake case (at most one).")
    ] = None,
    counsellor: CounsellorFilter = None,
    status: Annotated[
        Literal["open", "closed"] | None,
        Query(description="Only the follow-ups with this status: `open` or `closed`."),
    ] = None,
    with_bottleneck: Annotated[
        bool | None,
        Query(
            description="`true`: only the follow-ups with a bottleneck raised; `false`: only "
            "those without one."
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[FollowUpOut]:
    """The case's follow-up with `case_id` (a list of one, or empty before its plan is
    agreed), else the organisation's follow-ups, newest first (`X-Total-Count` and `Link`
    paginate); `status=open&with_bottleneck=true` lists the open bottlenecks' follow-ups.
    A follow-up's `counsellor` is its own: who agreed the plan, whose check-ins
    they are (normally the case's counsellor). Each listed follow-up is a read of its
    client's data: one read per listed client is recorded, all in one write."""
    counsellor = who.counsellor_filter(counsellor)
    if case_id is not None:

        def one() -> list[FollowUp]:
            found = app.followup_for_case(case_id, who.org)
            shown = [found] if found and counsellor in (None, found.counsellor) else []
            _listed(app, who, shown)
            return shown

        shown = await run_in_threadpool(one)
        response.headers["X-Total-Count"] = str(len(shown))
        return [followup_out(f) for f in shown]
    ids, total = await list_followups(
        request.app.state.runtime.pool,
        who.org,
        counsellor=counsellor,
        status=status,
        with_bottleneck=with_bottleneck,
        limit=limit,
        offset=offset,
    )

    def load() -> list[FollowUp]:
        shown = [app.followup(i, who.org) for i in ids]
        _listed(app, who, shown)
        return shown

    shown = await run_in_threadpool(load)
    page_headers(request, response, total, limit, offset)
    return [followup_out(f) for f in shown]


def _listed(app: FollowUpApplication, who: Principal, shown: list[FollowUp]) -> None:
    record_reads(
        app,
        who,
        client_ids=[f.client_id for f in shown],
        resource="followup-list",
        categories=["followup"],
    )


@router.get("/followups/{followup_id}", response_model=FollowUpOut)
async def get_followup(
    followup_id: uuid.UUID, who: Staff, app: App, response: Response
) -> FollowUpOut:
    """One follow-up: check-ins, the plan's actions and their checks, contacts, bottlenecks."""

    def read() -> FollowUp:
        found = app.followup(followup_id, who.org)
        record_read(
            app,
            who,
            client_id=found.client_id,
            case_id=found.case_id,
            resource="followup",
            categories=["followup"],
        )
        return found

    found = await run_in_threadpool(read)
    set_etag(response, found.version)
    return followup_out(found)


@router.get("/worklist", response_model=list[WorkItem])
async def get_worklist(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    due_before: Annotated[
        Day | None,
        Query(description="Check-ins due before this day; absent: today + 15 days."),
    ] = None,
    counsellor: Annotated[
        Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine] | None,
        Query(description="Only this counsellor's check-ins (a token's `sub`)."),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[WorkItem]:
    """Check-ins due before a date (default: within the next two weeks) and overdue,
    most urgent first."""
    today = app.clock().date()
    items, total = await worklist(
        request.app.state.runtime.pool,
        who.org,
        due_before=due_before or today + timedelta(days=15),
        today=today,
        counsellor=counsellor,
        limit=limit,
        offset=offset,
    )
    page_headers(request, response, total, limit, offset)
    return [WorkItem(**i) for i in items]


class OutcomesReport(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    """The period's start (inclusive)."""
    to: datetime
    """The period's end (exclusive)."""
    followups_with_outcome: int
    """Follow-ups with an outcome dated in the period (clients who withdrew the `statistics` consent
    left out, as everywhere here).
    """
    outcomes: dict[str, int]
    """Those follow-ups per outcome, e.g. {"employed": 4, "education": 2}."""
    median_days_acceptance_to_outcome: float | None
    """Median days from the case's acceptance to the outcome; null when none."""
    share_with_bottleneck: float | None
    """Share (0-1) of those follow-ups with a bottleneck; null when none."""
    feedback: dict[str, Any]
    """Feedback given in the period: {count, satisfaction_average (1-5),
    self_knowledge_improved_share, confidence_improved_share (0-1)}.
    """


@router.get("/reports/outcomes", response_model=OutcomesReport, response_model_by_alias=True)
async def get_outcomes_report(
    who: TeamLead,
    request: Request,
    period: Annotated[Period, Depends(period_parameter)],
) -> OutcomesReport:
    """Outcomes, days from acceptance to outcome, feedback and bottlenecks in a period
    [from, to) (see the parameters; default: the last 90 days). Outcome and feedback
    dates are days: a day counts when its start (UTC) lies in the period, so `from` and
    `to` given as dates count exactly those days, both included."""
    report = await outcomes_report(request.app.state.runtime.pool, who.org, period)
    return OutcomesReport.model_validate(report)


async def _change(
    app: FollowUpApplication,
    proj: LogFollower | None,
    followup_id: uuid.UUID,
    who: Principal,
    if_match: str | None,
    response: Response,
    command: Any,
) -> tuple[Any, dict[str, Any]]:
    result, found = await change(
        app, proj, lambda: app.followup(followup_id, who.org), if_match, response, command
    )
    closure = _closure(found)
    del closure["closed_at"]
    return result, {"version": found.version, "status": found.status, **closure}


@router.post(
    "/followups/{followup_id}/contacts", status_code=status.HTTP_201_CREATED, response_model=Created
)
async def record_contact(
    followup_id: uuid.UUID,
    body: ContactIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Created:
    """A contact attempt; three failed attempts in a row raise a bottleneck."""
    contact_id = new_id()
    _, out = await _change(
        app,
        proj,
        followup_id,
        who,
        if_match,
        response,
        lambda f, at: f.record_contact(
            contact_id=contact_id,
            channel=body.channel,
            reached=body.reached,
            notes=body.notes,
            actor=who.sub,
            at=at,
        ),
    )
    return Created(id=contact_id, **out)


@router.post(
    "/followups/{followup_id}/action-checks",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
)
async def check_action(
    followup_id: uuid.UUID,
    body: ActionCheckIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Created:
    """Whether a plan action was realised; a bottleneck text is linked to it."""
    check_id = new_id()
    _, out = await _change(
        app,
        proj,
        followup_id,
        who,
        if_match,
        response,
        lambda f, at: f.check_action(
            check_id=check_id,
            action_id=body.action_id,
            status=body.status,
            bottleneck=body.bottleneck,
            actor=who.sub,
            at=at,
        ),
    )
    return Created(id=check_id, **out)


@router.post("/followups/{followup_id}/checkins/{checkin_id}/complete", response_model=Changed)
async def complete_checkin(
    followup_id: uuid.UUID,
    checkin_id: uuid.UUID,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """A check-in was held (the last one closes the follow-up)."""
    _, out = await _change(
        app,
        proj,
        followup_id,
        who,
        if_match,
        response,
        lambda f, at: f.complete_checkin(checkin_id=checkin_id, actor=who.sub, at=at),
    )
    return Changed(**out)


@router.post("/followups/{followup_id}/outcome", response_model=Changed)
async def record_outcome(
    followup_id: uuid.UUID,
    body: OutcomeIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """The outcome of the guidance, with its date: not in the future, not before the case
    was accepted (422 naming `on`). With the feedback given it closes the follow-up: the
    answer then says `status` "closed", `closed_by` "outcome"."""
    case_id = (await run_in_threadpool(app.followup, followup_id, who.org)).case_id
    accepted = await accepted_on(request.app.state.runtime.pool, case_id)
    _, out = await _change(
        app,
        proj,
        followup_id,
        who,
        if_match,
        response,
        lambda f, at: f.record_outcome(
            outcome=body.outcome, on=body.on, actor=who.sub, at=at, accepted_on=accepted
        ),
    )
    return Changed(**out)


@router.post(
    "/followups/{followup_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=Changed
)
async def give_feedback(
    followup_id: uuid.UUID,
    body: FeedbackIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """The client's feedback at the end of the process. With the outcome recorded it
    closes the follow-up: the answer then says `status` "closed", `closed_by` "feedback"."""
    _, out = await _change(
        app,
        proj,
        followup_id,
        who,
        if_match,
        response,
        lambda f, at: f.give_feedback(
            satisfaction=body.satisfaction,
            self_knowledge_improved=body.self_knowledge_improved,
            confidence_improved=body.confidence_improved,
            comments=body.comments,
            actor=who.sub,
            at=at,
        ),
    )
    return Changed(**out)


@router.post(
    "/followups/{followup_id}/todos", status_code=status.HTTP_201_CREATED, response_model=Created
)
async def agree_todo(
    followup_id: uuid.UUID,
    body: ToDoIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Created:
    """A new to-do agreed in aftercare; planning adds it to the plan."""
    todo_id = new_id()
    _, out = await _change(
        app,
        proj,
        followup_id,
        who,
        if_match,
        response,
        lambda f, at: f.agree_todo(
            todo_id=todo_id,
            goal_id=body.goal_id,
            description=body.description,
            owner=body.owner,
            due_date=body.due_date,
            actor=who.sub,
            at=at,
        ),
    )
    return Created(id=todo_id, **out)


@router.post("/followups/{followup_id}/close", response_model=Changed)
async def close_followup(
    followup_id: uuid.UUID,
    body: CloseIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """Close the follow-up, with a reason (`completed` | `client_withdrew` | `unreachable`
    | `other`) and optional notes; a closed follow-up answers 409 followup-closed."""
    _, out = await _change(
        app,
        proj,
        followup_id,
        who,
        if_match,
        response,
        lambda f, at: f.close(reason=body.reason, notes=body.notes, actor=who.sub, at=at),
    )
    return Changed(**out)


@router.post(
    "/followups/{followup_id}/aftercare-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
)
async def request_aftercare(
    followup_id: uuid.UUID,
    body: AftercareIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Created:
    """The client asks for aftercare: a new check-in; a closed follow-up reopens."""
    checkin_id, out = await _change(
        app,
        proj,
        followup_id,
        who,
        if_match,
        response,
        lambda f, at: f.request_aftercare(due_on=body.due_on, actor=who.sub, at=at),
    )
    return Created(id=checkin_id, **out)
