"""Referral's HTTP API for the team lead's figures: the organisation's network of partners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.referral.api.partner_schemas import NetworkReport
from services.referral.queries import network_report
from shared.auth import TeamLead
from shared.periods import Period
from shared.periods import period as period_parameter

reports = APIRouter(tags=["referrals"])


@reports.get("/reports/network", response_model=NetworkReport, response_model_by_alias=True)
async def get_network_report(
    who: TeamLead,
    request: Request,
    period: Annotated[Period, Depends(period_parameter)],
) -> NetworkReport:
    """For each partner the organisation sent referrals to in the period [from, to) (see
    the parameters; default: the last 90 days), by name: the partner's figures as
    `GET /partners/{partner_id}/figures` gives them, counted over the organisation's
    referrals sent in the period, but those of clients who withdrew the `statistics`
    consent. Partners without such a referral are left out."""
    partners = await network_report(
        request.app.state.runtime.pool, who.org, period.start, period.end
    )
    return NetworkReport.model_validate(
        {"from": period.start, "to": period.end, "partners": partners}
    )
