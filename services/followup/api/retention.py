"""Follow-up's retention receipts: the rules per purpose, the organisation's anonymised
archive (the `statistics` purpose) and the runs that deleted from it, for the team lead
and the auditor. No personal data: counts, days, rules."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.followup.api.schemas import StatisticsPurgeOut, StatisticsRetention
from shared.privacy.retention_answers import RetentionReader, rules_out

router = APIRouter(tags=["retention"])


@router.get("/retention", response_model=StatisticsRetention)
async def get_retention(who: RetentionReader, request: Request) -> StatisticsRetention:
    """The retention rules per purpose; how many anonymised outcome figures of erased
    clients the organisation's figures still count (and the oldest's day); the receipts
    of the `statistics` retention's runs that deleted some (the organisation's and those
    of every organisation at once), the latest first."""
    pool = request.app.state.runtime.pool
    archive = await pool.fetchrow(
        "SELECT count(*) AS n, min(figure_on) AS oldest FROM followup.statistics_archive "
        "WHERE organisation = $1",
        who.org,
    )
    purges = await pool.fetch(
        "SELECT purge_id, purged_at, rule, cutoff, figures, bottlenecks, actor "
        "FROM followup.statistics_purges WHERE organisation = $1 OR organisation IS NULL "
        "ORDER BY purged_at DESC, purge_id LIMIT 50",
        who.org,
    )
    return StatisticsRetention(
        rules=rules_out(request.app.state.runtime.settings),
        archived_figures=int(archive["n"]),
        oldest_figure_on=archive["oldest"],
        purges=[StatisticsPurgeOut(**dict(p)) for p in purges],
    )
