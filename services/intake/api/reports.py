"""Intake's HTTP API for the team lead's figures: the caseload per counsellor, the report
to the funder per programme, and the organisation's objectives measured in it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from starlette.concurrency import run_in_threadpool

from services.intake.api.answers import (
    CaseloadReport,
    Created,
    FunderReport,
    ObjectiveCreated,
    ObjectiveOut,
    ObjectiveProgress,
    ObjectivesOut,
)
from services.intake.api.dependencies import App
from services.intake.api.schemas import SetObjective
from services.intake.domain import METRICS, Objective
from services.intake.funder import OTHER_HOURS, in_days, metric_value, progress, report
from services.intake.projections import caseload, funder_cases
from shared.auth import TeamLead
from shared.commands import Projection, run_command
from shared.errors import InvalidInput
from shared.periods import Period
from shared.periods import period as period_parameter

reports = APIRouter(tags=["intake"])


@reports.get("/reports/caseload", response_model=CaseloadReport, response_model_by_alias=True)
async def get_caseload_report(
    who: TeamLead,
    request: Request,
    period: Annotated[Period, Depends(period_parameter)],
) -> CaseloadReport:
    """Each counsellor's caseload: open cases now (per phase, with their hours budget), and
    cases opened, cases closed, sessions held and their hours in the period [from, to) (see
    the parameters; default: the last 90 days). Workload, not statistics: every case of the
    organisation counts, whatever its client's `statistics` consent."""
    counsellors = await caseload(request.app.state.runtime.pool, who.org, period)
    return CaseloadReport.model_validate(
        {"from": period.start, "to": period.end, "counsellors": counsellors}
    )


def objective_out(o: Objective) -> ObjectiveOut:
    metric = METRICS[o.metric]
    return ObjectiveOut(
        objective_id=o.objective_id,
        metric=o.metric,
        unit=metric.unit,
        target=o.target,
        at_least=metric.at_least,
        starts_on=o.starts_on,
        ends_on=o.ends_on,
        programme=o.programme,
        set_by=o.set_by,
    )


def _progress(o: Objective, rows: list[dict[str, Any]]) -> ObjectiveProgress:
    """The objective's metric over the cases of its programme accepted in the report's
    period and its own."""
    mine = [
        r
        for r in rows
        if (o.programme is None or (r["programme"] or OTHER_HOURS) == o.programme)
        and in_days(r, o.starts_on, o.ends_on)
    ]
    value = metric_value(o.metric, mine)
    met, share = progress(value, o.target, METRICS[o.metric].at_least)
    return ObjectiveProgress(
        **objective_out(o).model_dump(), value=value, met=met, progress=round(share, 4)
    )


@reports.get("/reports/funder", response_model=FunderReport, response_model_by_alias=True)
async def get_funder_report(
    who: TeamLead,
    app: App,
    request: Request,
    period: Annotated[Period, Depends(period_parameter)],
    programme: Annotated[
        str | None,
        Query(
            max_length=100,
            description="A programme's key (`GUIDANCE_BUDGET_PROGRAMMES`), or `other` for "
            "the cases accepted with other hours; absent: every programme.",
        ),
    ] = None,
) -> FunderReport:
    """The report to the funder: of the cases accepted in the period [from, to) (see the
    parameters; default: the last 90 days), the clients started, the hours used so far
    (sessions and aftercare), the plans agreed within the budget, the outcomes by code,
    the median days from acceptance to outcome and the clients' satisfaction; in total
    and per programme; and the organisation's objectives whose period meets this one,
    each with its progress. Counts only, no personal data: not a recorded read. An
    unknown `programme` is refused (422 naming it)."""
    known = app.settings.budget_programmes
    if programme is not None and programme != OTHER_HOURS and programme not in known:
        raise InvalidInput(
            f"Unknown programme {programme!r}.",
            errors=[{"field": "programme", "message": "unknown programme"}],
        )
    rows = await funder_cases(request.app.state.runtime.pool, who.org, period, None)
    chosen = [r for r in rows if programme is None or (r["programme"] or OTHER_HOURS) == programme]
    objectives, _ = await run_in_threadpool(app.objectives, who.org)
    first, last = period.start.date(), (period.end - timedelta(microseconds=1)).date()
    applying = [
        o
        for o in objectives
        if o.starts_on <= last
        and o.ends_on >= first
        and (programme is None or o.programme == programme)
    ]
    return FunderReport.model_validate(
        {
            "from": period.start,
            "to": period.end,
            "programme": programme,
            **report(chosen),
            "objectives": [_progress(o, rows) for o in applying],
        }
    )


@reports.get("/objectives", response_model=ObjectivesOut)
async def get_objectives(who: TeamLead, app: App) -> ObjectivesOut:
    """The organisation's objectives (no personal data: not a recorded read)."""
    objectives, version = await run_in_threadpool(app.objectives, who.org)
    return ObjectivesOut(objectives=[objective_out(o) for o in objectives], version=version)


@reports.post("/objectives", status_code=status.HTTP_201_CREATED, response_model=ObjectiveCreated)
async def set_objective(
    body: SetObjective, who: TeamLead, app: App, proj: Projection
) -> ObjectiveCreated:
    """Set one of the organisation's objectives: a metric from the fixed list, its target,
    the period it holds for and optionally its programme (an unknown one: 422 naming
    `programme`; a target outside the metric's range: 422 naming `target`; a period
    ending before it starts: 422 naming `ends_on`)."""
    objective_id, version = await run_command(
        app,
        proj,
        lambda: app.set_objective(
            organisation=who.org,
            actor=who.sub,
            metric=body.metric,
            target=body.target,
            starts_on=body.starts_on,
            ends_on=body.ends_on,
            programme=body.programme,
        ),
    )
    return ObjectiveCreated(objective_id=objective_id, version=version)


@reports.post("/objectives/{objective_id}/withdrawal", response_model=Created)
async def withdraw_objective(
    objective_id: uuid.UUID, who: TeamLead, app: App, proj: Projection
) -> Created:
    """Withdraw one of the organisation's objectives (it leaves the list and the report)."""
    version = await run_command(
        app,
        proj,
        lambda: app.withdraw_objective(
            organisation=who.org, actor=who.sub, objective_id=objective_id
        ),
    )
    return Created(version=version)
