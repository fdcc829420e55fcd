"""Follow-up's HTTP API, its commands: each one `FollowUpCommand` on one follow-up."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from services.followup.api.answers import changed, created
from services.followup.api.dependencies import FollowUpCommand
from services.followup.api.schemas import (
    ActionCheckIn,
    AftercareIn,
    Changed,
    CloseIn,
    ContactIn,
    Created,
    FeedbackIn,
    OutcomeIn,
    ToDoIn,
)
from services.followup.queries import accepted_on
from shared.idempotency import new_id

router = APIRouter(tags=["followup"])


@router.post(
    "/followups/{followup_id}/contacts", status_code=status.HTTP_201_CREATED, response_model=Created
)
async def record_contact(body: ContactIn, cmd: FollowUpCommand) -> Created:
    """A contact attempt; three failed attempts in a row raise a bottleneck."""
    contact_id = new_id()
    found = await cmd.run(
        lambda f, at: f.record_contact(
            contact_id=contact_id,
            channel=body.channel,
            reached=body.reached,
            notes=body.notes,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return created(found, contact_id)


@router.post(
    "/followups/{followup_id}/action-checks",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
)
async def check_action(body: ActionCheckIn, cmd: FollowUpCommand) -> Created:
    """Whether a plan action was realised; a bottleneck text is linked to it."""
    check_id = new_id()
    found = await cmd.run(
        lambda f, at: f.check_action(
            check_id=check_id,
            action_id=body.action_id,
            status=body.status,
            bottleneck=body.bottleneck,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return created(found, check_id)


@router.post("/followups/{followup_id}/checkins/{checkin_id}/complete", response_model=Changed)
async def complete_checkin(checkin_id: uuid.UUID, cmd: FollowUpCommand) -> Changed:
    """A check-in was held (the last one closes the follow-up)."""
    found = await cmd.run(
        lambda f, at: f.complete_checkin(checkin_id=checkin_id, actor=cmd.who.sub, at=at)
    )
    return changed(found)


@router.post("/followups/{followup_id}/outcome", response_model=Changed)
async def record_outcome(body: OutcomeIn, cmd: FollowUpCommand, request: Request) -> Changed:
    """The outcome of the guidance, with its date: not in the future, not before the case
    was accepted (422 naming `on`). With the feedback given it closes the follow-up: the
    answer then says `status` "closed", `closed_by` "outcome"."""
    case_id = (await run_in_threadpool(cmd.load)).case_id
    accepted = await accepted_on(request.app.state.runtime.pool, case_id)
    found = await cmd.run(
        lambda f, at: f.record_outcome(
            outcome=body.outcome,
            contract=body.contract,
            on=body.on,
            actor=cmd.who.sub,
            at=at,
            accepted_on=accepted,
        )
    )
    return changed(found)


@router.post(
    "/followups/{followup_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=Changed
)
async def give_feedback(body: FeedbackIn, cmd: FollowUpCommand) -> Changed:
    """The client's feedback at the end of the process. With the outcome recorded it
    closes the follow-up: the answer then says `status` "closed", `closed_by` "feedback"."""
    found = await cmd.run(
        lambda f, at: f.give_feedback(
            satisfaction=body.satisfaction,
            self_knowledge_improved=body.self_knowledge_improved,
            confidence_improved=body.confidence_improved,
            comments=body.comments,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return changed(found)


@router.post(
    "/followups/{followup_id}/todos", status_code=status.HTTP_201_CREATED, response_model=Created
)
async def agree_todo(body: ToDoIn, cmd: FollowUpCommand) -> Created:
    """A new to-do agreed in aftercare; planning adds it to the plan."""
    todo_id = new_id()
    found = await cmd.run(
        lambda f, at: f.agree_todo(
            todo_id=todo_id,
            goal_id=body.goal_id,
            description=body.description,
            owner=body.owner,
            due_date=body.due_date,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return created(found, todo_id)


@router.post("/followups/{followup_id}/close", response_model=Changed)
async def close_followup(body: CloseIn, cmd: FollowUpCommand) -> Changed:
    """Close the follow-up, with a reason (`completed` | `client_withdrew` | `unreachable`
    | `other`) and optional notes; a closed follow-up answers 409 followup-closed."""
    found = await cmd.run(
        lambda f, at: f.close(reason=body.reason, notes=body.notes, actor=cmd.who.sub, at=at)
    )
    return changed(found)


@router.post(
    "/followups/{followup_id}/aftercare-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
)
async def request_aftercare(body: AftercareIn, cmd: FollowUpCommand) -> Created:
    """The client asks for aftercare: a new check-in; a closed follow-up reopens."""
    checkin_id, found = await cmd.result_of(
        lambda f, at: f.request_aftercare(due_on=body.due_on, actor=cmd.who.sub, at=at)
    )
    return created(found, checkin_id)
