"""The audit API every service mounts at `/<prefix>/v1/audit`: read-only for auditors
(and admins); only an admin may sign a checkpoint on demand.

Case events, case state and the access log show only cases and clients of the
organisations in the caller's audit scope (the token's `audit_scope` claim, else the
caller's own organisation); another organisation's case reads as one this service does
not know (404). The chain's verification, checkpoints and public key reveal no personal
data and no organisation's cases: they stay open to every auditor and admin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from shared.audit.context import Audit
from shared.audit.queries import access_log, case_events, case_first_event, case_state
from shared.audit.queries import events_table as table_of
from shared.audit.verify import verify_chain
from shared.auth import Principal, require
from shared.errors import Conflict, NotFound
from shared.http import page_headers
from shared.schemas import Moment, Offset

AuditReader = Annotated[Principal, Depends(require("auditor", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def _audit(request: Request) -> Audit:
    audit: Audit | None = getattr(request.app.state, "audit", None)
    if audit is None:
        raise NotFound("This service keeps no audit trail.")
    return audit


# Examples of the answers, for the API docs (their shape is not a model's).
_CHECKPOINT = {
    "service": "intake",
    "store": "waypoint",
    "position": 1200,
    "hash": "3f1c9a0e5b7d2c4f6a8e0b1d3c5e7f9a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e",
    "signed_at": "2026-03-02T10:00:00+00:00",
    "signature": "mNjg24Wrs+1Mi1OsiP8zSFE/TqECdYT95NYKCc6iWYm6Yjc5ftHeZSlJzag65mOf"
    "yINKARnMW3TcxH15u7deMg==",
}
_ACCESS = {
    "access_id": "2b7c4e1a-9d3f-4c8b-a5e6-0f1d2c3b4a59",
    "position": 1187,
    "client_id": "0b8f7c1e-3d2a-4f5b-9c6d-7e8f9a0b1c2d",
    "case_id": "5c2e1a7b-8d4f-4b6a-9e3c-1f2a3b4c5d6e",
    "referral_id": None,
    "actor": "counsellor-17",
    "role": "counsellor",
    "organisation": "org-utrecht",
    "partner_id": None,
    "purpose": "guidance",
    "resource": "case",
    "categories": ["career_question", "assessments"],
    "occurred_at": "2026-03-02T10:04:12.123456+00:00",
}


def _answer(example: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": example}}}}


def audit_router() -> APIRouter:
    """The audit endpoints; the service sets `app.state.audit` (see context.start_audit)."""
    router = APIRouter(prefix="/audit", tags=["audit"])

    @router.get("/cases/{case_id}/events")
    async def events(
        case_id: uuid.UUID,
        request: Request,
        who: AuditReader,
        include_state: Annotated[bool, Query(description="Add the stored bytes (base64).")] = False,
    ) -> list[dict[str, Any]]:
        """This service's events of a case in the caller's audit scope, each with its link."""
        audit = _audit(request)
        await audit.caught_up()
        scope = who.audit_scope
        items = await case_events(audit.pool, audit.app, case_id, scope, with_state=include_state)
        if not items:
            raise NotFound(f"This service has no events of case {case_id}.")
        client_id = next((i["client_id"] for i in items if i.get("client_id")), None)
        if client_id is not None:
            opened = {f for i in items for f in i.get("personal_fields", ())}
            await audit.record_read(
                who,
                client_id=uuid.UUID(client_id),
                case_id=case_id,
                resource="audit-events",
                categories=sorted(opened) or ["case-history"],
            )
        return items

    @router.get("/cases/{case_id}/state")
    async def state(
        case_id: uuid.UUID,
        request: Request,
        who: AuditReader,
        as_of: Annotated[Moment | None, Query(description="RFC 3339; default now.")] = None,
    ) -> dict[str, Any]:
        """A case's state (in the caller's audit scope) as of a moment, from its events."""
        audit = _audit(request)
        moment = as_of or datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        await audit.caught_up()
        scope = who.audit_scope
        aggregates = await case_state(audit.pool, audit.app, case_id, moment, scope)
        if aggregates is None:
            first = await case_first_event(audit.pool, audit.schema, case_id, scope)
            if first is None:
                raise NotFound(f"This service has no events of case {case_id}.")
            raise NotFound(
                f"Case {case_id} had no events here by {moment.isoformat()}; "
                f"its first is of {first.isoformat()}."
            )
        client_id = next(
            (a["state"]["client_id"] for a in aggregates if a["state"].get("client_id")), None
        )
        if client_id is not None:
            await audit.record_read(
                who,
                client_id=uuid.UUID(client_id),
                case_id=case_id,
                resource="audit-state",
                categories=["case-state"],
            )
        return {
            "case_id": str(case_id),
            "service": audit.service,
            "as_of": moment.isoformat(),
            "aggregates": aggregates,
        }

    @router.get(
        "/verify",
        responses=_answer(
            {
                "service": "intake",
                "ok": True,
                "checked": 1200,
                "unchained": 0,
                "checkpoints_checked": 3,
                "checkpoints_source": "nats",
            }
        ),
    )
    async def verify(request: Request, who: AuditReader) -> dict[str, Any]:
        """Recompute the whole hash chain and check it against the signed checkpoints."""
        audit = _audit(request)
        async with audit.pool.acquire() as conn:
            checkpoints, source = await audit.checkpoints.known(conn)
        schema, table = table_of(audit.app)
        result = await run_in_threadpool(
            verify_chain,
            audit.settings.pg.dsn(),
            schema,
            table,
            checkpoints,
            audit.checkpoints.signer.public_key,
        )
        return {"service": audit.service, **result.as_dict(), "checkpoints_source": source}

    @router.get("/access-log", responses=_answer([_ACCESS]))
    async def accesses(
        request: Request,
        response: Response,
        who: AuditReader,
        client_id: Annotated[
            uuid.UUID | None, Query(description="Only the reads of this client's data.")
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=500, description="The most entries to answer (1-500).")
        ] = 50,
        offset: Offset = 0,
    ) -> list[dict[str, Any]]:
        """Recorded reads of personal data of clients in the caller's scope, newest first."""
        audit = _audit(request)
        await audit.caught_up()
        found = await access_log(
            audit.pool, audit.schema, who.audit_scope, client_id, limit, offset
        )
        if found is None:
            raise NotFound(f"This service has no records of client {client_id}.")
        items, total = found
        page_headers(request, response, total, limit, offset)
        return items

    @router.get("/checkpoints", responses=_answer([_CHECKPOINT]))
    async def checkpoints(
        request: Request, response: Response, who: AuditReader
    ) -> list[dict[str, Any]]:
        """The signed checkpoints of this service's chain (the stream's copy when it answers)."""
        audit = _audit(request)
        async with audit.pool.acquire() as conn:
            found, source = await audit.checkpoints.known(conn)
        response.headers["X-Checkpoint-Source"] = source
        return [c.to_json() for c in found]

    @router.post(
        "/checkpoints",
        status_code=201,
        responses={201: {"content": {"application/json": {"example": _CHECKPOINT}}}},
    )
    async def sign_now(request: Request, who: Admin) -> dict[str, Any]:
        """Sign the chain's head now, store and publish it (admin only)."""
        audit = _audit(request)
        await audit.caught_up()
        async with audit.pool.acquire() as conn:
            checkpoint = await audit.checkpoints.sign_head(conn)
        if checkpoint is None:
            raise Conflict("The chain is empty: there is nothing to sign yet.")
        return checkpoint.to_json()

    @router.get(
        "/public-key",
        responses=_answer(
            {
                "service": "intake",
                "algorithm": "Ed25519",
                "public_key": "MI0Zz8YxmrHWs1azz4oU8Oi0IUP6AzQXT8XDQWMHfAw=",
                "key_id": "136fc1d863f335f5",
            }
        ),
    )
    async def public_key(request: Request, who: AuditReader) -> dict[str, str]:
        """The Ed25519 key that checks this service's checkpoints."""
        return {
            "service": _audit(request).service,
            **_audit(request).checkpoints.signer.public_key_json(),
        }

    return router
