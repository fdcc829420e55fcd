"""Planning's reads: the organisation's plans, one plan, its agreed versions, its printable page.

Every read shows the client's goals and actions, so each is recorded as a read of the
client's data (`shared.audit.access`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from services.planning.api.answers import (
    InstrumentOut,
    PartyAgreementOut,
    PlanOut,
    PlanVersionOut,
    PlanVersionSummary,
    plan_out,
)
from services.planning.api.dependencies import App
from services.planning.application import PlanningApplication
from services.planning.consumers import case_record, client_record
from services.planning.document import esco_uris, language_for, render
from services.planning.domain import Plan
from services.planning.esco import concepts
from services.planning.projections import handed_over, list_plans
from shared.audit.access import record_read, record_reads
from shared.auth import Principal, Staff
from shared.commands import set_etag
from shared.errors import NotFound
from shared.paging import Paging, page_headers
from shared.privacy import ERASED
from shared.schemas import CounsellorFilter

router = APIRouter(tags=["planning"])


@router.get("/instruments", response_model=list[InstrumentOut])
async def get_instruments(who: Staff, app: App) -> list[InstrumentOut]:
    """The agency's instruments (tests, questionnaires) a plan may record the results of:
    `GUIDANCE_INSTRUMENTS`. No personal data: no read is recorded."""
    return [InstrumentOut(**i.model_dump()) for i in app.settings.instruments]


@router.get("/plans", response_model=list[PlanOut])
async def get_plans(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    page: Paging,
    case_id: Annotated[
        uuid.UUID | None, Query(description="The plan of this intake case (at most one).")
    ] = None,
    status_: Annotated[
        Literal["draft", "agreed", "revised", "closed"] | None,
        Query(alias="status", description="Only plans in this status."),
    ] = None,
    counsellor: CounsellorFilter = None,
) -> list[PlanOut]:
    """Plans of the organisation: the case's one plan with `case_id`, else all, newest
    first; `counsellor` keeps those of one counsellor's cases."""
    counsellor = who.counsellor_filter(counsellor)
    pool = request.app.state.runtime.pool
    if case_id is not None:
        plan = await run_in_threadpool(app.plan_for_case, case_id, who.org)
        now = await handed_over(pool, [case_id])
        plans = (
            [plan]
            if plan is not None
            and status_ in (None, plan.status)
            and counsellor in (None, now.get(case_id, plan.counsellor))
            else []
        )
        await run_in_threadpool(_listed, app, who, plans)
        response.headers["X-Total-Count"] = str(len(plans))
        return [_carried(plan_out(p), now) for p in plans]
    listed = await list_plans(
        request.app.state.runtime.pool, who.org, status=status_, counsellor=counsellor, page=page
    )
    page_headers(request, response, page, listed)
    ids = [r["plan_id"] for r in listed.rows]

    def load() -> list[Plan]:
        plans = [app.plan(plan_id, who.org) for plan_id in ids]
        _listed(app, who, plans)
        return plans

    plans = await run_in_threadpool(load)
    now = await handed_over(pool, [p.case_id for p in plans])
    return [_carried(plan_out(p), now) for p in plans]


def _carried(out: PlanOut, handed: dict[uuid.UUID, str]) -> PlanOut:
    """The plan as listed: its `counsellor` the one its case was handed to, if it was."""
    if out.case_id in handed:
        return out.model_copy(update={"counsellor": handed[out.case_id]})
    return out


def _listed(app: PlanningApplication, who: Principal, plans: list[Plan]) -> None:
    """A list of plans shows each one's goals and actions (the client's data): one read
    per listed client recorded, all in one write."""
    record_reads(
        app,
        who,
        client_ids=[p.client_id for p in plans],
        resource="plan-list",
        categories=["plan"],
    )


def _read(
    app: PlanningApplication, plan_id: uuid.UUID, who: Principal, resource: str, kinds: list[str]
) -> Plan:
    """The plan, its read recorded (goals, actions and notes are the client's data)."""
    plan = app.plan(plan_id, who.org)
    record_read(
        app,
        who,
        client_id=plan.client_id,
        case_id=plan.case_id,
        resource=resource,
        categories=kinds,
    )
    return plan


@router.get("/plans/{plan_id}", response_model=PlanOut)
async def get_plan(
    plan_id: uuid.UUID, who: Staff, app: App, request: Request, response: Response
) -> PlanOut:
    """One plan with its goals by priority, their actions, analysis, portfolio, agreement;
    its `counsellor` the one its case was handed to, if it was."""
    plan = await run_in_threadpool(_read, app, plan_id, who, "plan", ["plan"])
    set_etag(response, plan.version)
    now = await handed_over(request.app.state.runtime.pool, [plan.case_id])
    return _carried(plan_out(plan), now)


def _summary(agreed: dict[str, Any]) -> PlanVersionSummary:
    content = agreed["content"]
    opened = isinstance(content, dict)
    return PlanVersionSummary(
        version=agreed["version"],
        revision=agreed["revision"],
        agreed_at=agreed["agreed_at"],
        agreements={p: PartyAgreementOut(**a) for p, a in agreed["agreements"].items()},
        plan_type=content.get("plan_type") if opened else None,
        goals=len(content.get("goals", [])) if opened else None,
    )


def _which_exist(plan: Plan) -> str:
    count = len(plan.agreed_versions)
    if count == 0:
        return "This plan has no agreed version yet."
    if count == 1:
        return "This plan has agreed version 1."
    return f"This plan has agreed versions 1\u2013{count}."


@router.get("/plans/{plan_id}/versions", response_model=list[PlanVersionSummary])
async def get_agreed_versions(plan_id: uuid.UUID, who: Staff, app: App) -> list[PlanVersionSummary]:
    """The plan's agreed versions, first agreement first: `version` counts agreements
    (1 = the first agreed version), `revision` is the plan's revision it was agreed on."""
    plan = await run_in_threadpool(_read, app, plan_id, who, "plan-versions", ["plan"])
    return [_summary(v) for v in plan.agreed_in_order()]


@router.get("/plans/{plan_id}/versions/{version}", response_model=PlanVersionOut)
async def get_agreed_version(
    plan_id: uuid.UUID,
    version: Annotated[
        int,
        Path(
            ge=1,
            le=1_000_000,
            description="The agreed version: 1 = the first agreement, 2 = the second (not the "
            "plan's revision; `GET .../versions` lists them).",
        ),
    ],
    who: Staff,
    app: App,
) -> PlanVersionOut:
    """Agreed version `version` of the plan (1 = the first agreement), as both parties
    agreed to it; it says the revision it was agreed on."""
    plan = await run_in_threadpool(_read, app, plan_id, who, "plan-version", ["plan"])
    agreed = plan.agreed_version(version)
    if agreed is None:
        raise NotFound(f"Plan {plan_id} has no agreed version {version}. {_which_exist(plan)}")
    return PlanVersionOut(plan_id=plan.id, **agreed)


@router.get("/plans/{plan_id}/document", response_class=HTMLResponse)
async def get_document(
    plan_id: uuid.UUID,
    who: Staff,
    app: App,
    request: Request,
    lang: Annotated[
        Literal["nl", "fr", "en"] | None,
        Query(
            description="The page's language: Dutch, French or English; absent: the client's "
            "preferred one (`fr-BE` is French), else English."
        ),
    ] = None,
) -> HTMLResponse:
    """The plan as a printable page for the client, in their preferred language: the career
    question (the plan's own words, else the case's), the competences to work on, the
    competence analysis (ESCO's labels in the page's language, each skill's levels), the
    client's insights, choices and decisions with their reasons, the goals with their SMART
    measures and target dates, the actions with who does them and by when, what they
    produced (CVs, job applications and where they stand), the support the client needs,
    and the agreement with its version.
    The console prints it as PDF."""
    plan = await run_in_threadpool(
        _read, app, plan_id, who, "plan-document", ["identity", "career_question", "plan"]
    )
    pool = request.app.state.runtime.pool
    client = await client_record(pool, plan.client_id)
    case = await case_record(pool, plan.case_id)
    name = await run_in_threadpool(_client_name, app, client)
    question = await run_in_threadpool(_career_question, app, case)
    content = plan.content()
    if content["career_question"] not in (None, ERASED):  # the plan's own words first
        question = content["career_question"]
    agreed = plan.agreed_in_order()
    language = language_for(client["preferred_language"] if client else None, lang)
    # ESCO's labels of the analysis in the plan's language (English where it has none).
    found = await concepts(pool, esco_uris(content), language)
    esco = {c["uri"]: c["label"] for c in found if c["label"]}
    page = render(
        {
            **content,
            "status": plan.status,
            "gaps": plan.suggested_focus["gaps"],
            "last_agreed": agreed[-1] if agreed else None,
            "products": plan.products_list(),
        },
        client_name=name,
        career_question=question,
        lang=language,
        printed=app.clock().date(),
        esco=esco,
    )
    return HTMLResponse(page, headers={"ETag": f'"{plan.version}"'})


def _career_question(app: PlanningApplication, case: dict[str, Any] | None) -> str | None:
    """The case's career question, opened from intake's sealed copy (None once erased or
    not yet known here)."""
    if case is None or not isinstance(case["career_question"], dict):
        return None
    value = app.sealing.open_field(case["career_question"], case["event_id"], "career_question")
    return None if value == ERASED else str(value)


def _client_name(app: PlanningApplication, client: dict[str, Any] | None) -> str | None:
    """The client's name, opened from intake's sealed copy (None once erased or unknown)."""
    if client is None:
        return None
    parts = []
    for field in ("given_name", "family_name"):
        sealed = client.get(field)
        if not isinstance(sealed, dict):
            return None
        value = app.sealing.open_field(sealed, client["event_id"], field)
        if value == ERASED:
            return None
        parts.append(str(value))
    return " ".join(parts)
