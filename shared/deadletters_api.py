"""The dead-letter admin API every service mounts at `/<prefix>/v1/admin/dead-letters`.

An admin lists what was set aside (see `shared/messaging/deadletters.py`) and re-drives it
once the cause is removed. A letter names an aggregate and may quote it, so an admin sees
(and re-drives) the letters of aggregates owned by the organisations of their audit scope:
their own organisation, or those the token's `audit_scope` names; a platform operator's
token carries `audit_scope: "*"` and sees every letter, those of no known owner too.
Another organisation's letter answers 404, as an unknown one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from shared.auth import Principal, require
from shared.errors import Conflict, NotFound, Problem
from shared.http import page_headers
from shared.messaging.deadletters import DeadLetters
from shared.messaging.redrive import RedriveRefused, UnknownLetter, redrive
from shared.schemas import Answer

Admin = Annotated[Principal, Depends(require("admin"))]
LetterId = Annotated[int, Path(ge=1, le=2**62, description="The dead letter's id.")]


class DeadLetter(Answer):
    id: int
    """The dead letter's id (for re-driving it)."""
    service: str
    """The service that set it aside: `intake`, `planning`, `followup` or `referral`."""
    follower: str
    """The projection, audit trail or NATS consumer that failed on it."""
    kind: str
    """`follower` (an event of the service's own log) or `consumer` (a NATS message)."""
    position: int | None
    """The event's position in the service's log (followers); null for a message."""
    event_id: str | None
    """The event's (or message's CloudEvent) id, where known."""
    event_type: str | None
    """The event's type (its topic, or the CloudEvent type)."""
    aggregate_id: str | None
    """The aggregate (case, plan, ...) the event belongs to, where known."""
    held_behind: int | None
    """Set on an event not tried because an earlier event of its aggregate is a dead letter: that
    letter's id (re-driving it applies this one too).
    """
    error: str
    """The last error, as `ExceptionType: message` (at most 2000 characters)."""
    attempts: int
    """How many times it was tried."""
    first_failed_at: datetime
    """When it first failed (UTC)."""
    last_failed_at: datetime
    """When it last failed (UTC)."""
    resolved_at: datetime | None
    """When it was applied after all (re-driven or retried); null while open."""
    resolved_by: str | None
    """Who re-drove it (token subject), or `retry` when a later attempt went through."""


class Redriven(Answer):
    resolved: list[DeadLetter]
    """The dead letters applied and resolved by the re-drive: the one asked for and those held
    behind it, in log order.
    """


def _store(request: Request) -> DeadLetters:
    runtime = request.app.state.runtime
    store: DeadLetters | None = getattr(runtime, "dead_letters", None)
    if store is None:
        raise Problem("The service is not running yet.", status=503, code="not-ready")
    return store


def _letter(item: dict[str, Any]) -> DeadLetter:
    event_id = item.get("event_id")
    return DeadLetter(**{**item, "event_id": str(event_id) if event_id else None})


def _orgs(who: Principal) -> list[str] | None:
    scope = who.audit_scope
    return None if scope.everyone else sorted(scope.orgs)


def dead_letters_router() -> APIRouter:
    router = APIRouter(prefix="/admin/dead-letters", tags=["admin"])

    @router.get("")
    async def list_dead_letters(
        request: Request,
        response: Response,
        who: Admin,
        resolved: Annotated[bool, Query(description="Resolved ones too.")] = False,
        limit: Annotated[
            int, Query(ge=1, le=200, description="The most dead letters to answer (1-200).")
        ] = 50,
        offset: Annotated[
            int, Query(ge=0, le=10**9, description="How many dead letters to skip (paging).")
        ] = 0,
    ) -> list[DeadLetter]:
        """Events and messages set aside after repeated failures (unresolved by default)."""
        items, total = await _store(request).page(
            resolved=resolved, limit=limit, offset=offset, orgs=_orgs(who)
        )
        page_headers(request, response, total, limit, offset)
        return [_letter(i) for i in items]

    @router.post("/{letter_id}/redrive")
    async def redrive_dead_letter(letter_id: LetterId, request: Request, who: Admin) -> Redriven:
        """Apply a dead letter (and what is held behind it) again; resolved on success."""
        runtime = request.app.state.runtime
        if not await _store(request).visible(letter_id, _orgs(who)):
            raise NotFound(f"There is no dead letter {letter_id}.")
        try:
            done = await redrive(
                _store(request), letter_id, who.sub, runtime.followers, runtime.consumers
            )
        except UnknownLetter:
            raise NotFound(f"There is no dead letter {letter_id}.") from None
        except RedriveRefused as e:
            raise Conflict(str(e), code=e.code) from None
        return Redriven(resolved=[_letter(i) for i in done])

    return router
