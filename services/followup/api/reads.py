"""Follow-up's HTTP API, its reads: follow-ups, the worklist, the outcomes report."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field, StrictStr
from starlette.concurrency import run_in_threadpool

from services.followup.api.answers import followup_out
from services.followup.api.dependencies import App
from services.followup.api.schemas import FollowUpOut, OutcomesReport, WorkItem
from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from services.followup.queries import handed_over, list_followups, outcomes_report, worklist
from shared.audit.access import record_read, record_reads
from shared.auth import Principal, Staff, TeamLead
from shared.commands import set_etag
from shared.paging import Paging, page_headers
from shared.periods import Period
from shared.periods import period as period_parameter
from shared.schemas import CounsellorFilter, Day, SingleLine

router = APIRouter(tags=["followup"])


@router.get("/followups", response_model=list[FollowUpOut])
async def get_followups(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    page: Paging,
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
) -> list[FollowUpOut]:
    """The case's follow-up with `case_id` (a list of one, or empty before its plan is
    agreed), else the organisation's follow-ups, newest first (`X-Total-Count` and `Link`
    paginate); `status=open&with_bottleneck=true` lists the open bottlenecks' follow-ups.
    A follow-up's `counsellor` is its own: who agreed the plan, whose check-ins
    they are (normally the case's counsellor), or the one a team lead handed the case
    to. Each listed follow-up is a read of its client's data: one read per listed client
    is recorded, all in one write."""
    counsellor = who.counsellor_filter(counsellor)
    pool = request.app.state.runtime.pool
    if case_id is not None:
        now = await handed_over(pool, [case_id])

        def one() -> list[FollowUp]:
            found = app.followup_for_case(case_id, who.org)
            carried = now.get(case_id, found.counsellor) if found else None
            shown = [found] if found and counsellor in (None, carried) else []
            _listed(app, who, shown)
            return shown

        shown = await run_in_threadpool(one)
        response.headers["X-Total-Count"] = str(len(shown))
        return [_carried(followup_out(f), now) for f in shown]
    ids, listed = await list_followups(
        request.app.state.runtime.pool,
        who.org,
        counsellor=counsellor,
        status=status,
        with_bottleneck=with_bottleneck,
        page=page,
    )

    def load() -> list[FollowUp]:
        shown = [app.followup(i, who.org) for i in ids]
        _listed(app, who, shown)
        return shown

    shown = await run_in_threadpool(load)
    page_headers(request, response, page, listed)
    now = await handed_over(pool, [f.case_id for f in shown])
    return [_carried(followup_out(f), now) for f in shown]


def _carried(out: FollowUpOut, handed: dict[uuid.UUID, str]) -> FollowUpOut:
    """The follow-up as listed: its `counsellor` the one its case was handed to, if it was."""
    if out.case_id in handed:
        return out.model_copy(update={"counsellor": handed[out.case_id]})
    return out


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
    followup_id: uuid.UUID, who: Staff, app: App, request: Request, response: Response
) -> FollowUpOut:
    """One follow-up: check-ins, the plan's actions and their checks, contacts, bottlenecks;
    its `counsellor` the one its case was handed to, if it was."""

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
    now = await handed_over(request.app.state.runtime.pool, [found.case_id])
    return _carried(followup_out(found), now)


@router.get("/worklist", response_model=list[WorkItem])
async def get_worklist(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    page: Paging,
    due_before: Annotated[
        Day | None,
        Query(description="Check-ins due before this day; absent: today + 15 days."),
    ] = None,
    counsellor: Annotated[
        Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine] | None,
        Query(description="Only this counsellor's check-ins (a token's `sub`)."),
    ] = None,
) -> list[WorkItem]:
    """Check-ins due before a date (default: within the next two weeks) and overdue,
    most urgent first."""
    today = app.clock().date()
    listed = await worklist(
        request.app.state.runtime.pool,
        who.org,
        due_before=due_before or today + timedelta(days=15),
        today=today,
        counsellor=counsellor,
        page=page,
    )
    page_headers(request, response, page, listed)
    return [WorkItem(**i) for i in listed.rows]


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
