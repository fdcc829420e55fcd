"""Intake's HTTP API for the team lead's figures: the caseload per counsellor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.intake.api.answers import CaseloadReport
from services.intake.projections import caseload
from shared.auth import TeamLead
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
