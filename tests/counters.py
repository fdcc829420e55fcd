"""The counters the read models keep by triggers (`shared/ddl.py`'s `kept_by_triggers`),
each as (what the counters say, a count of the rows they count), for every organisation:
the two must be equal whatever wrote the rows (projection, rebuild, erasure, the seed)."""

from __future__ import annotations

# intake.caseload_open: open and accepted cases per organisation, counsellor and phase.
CASELOAD_OPEN = (
    "SELECT organisation, counsellor, phase, cases, hours_budget FROM intake.caseload_open "
    "WHERE cases <> 0 ORDER BY 1, 2, 3",
    "SELECT organisation, coalesce(counsellor, opened_by) AS counsellor, phase, "
    "count(*) AS cases, sum(hours_budget::numeric) AS hours_budget FROM intake.cases_view "
    "WHERE status IN ('open', 'accepted') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
)
# intake.caseload_days: cases opened and closed per organisation, UTC day and counsellor.
CASELOAD_DAYS = (
    "SELECT organisation, day, counsellor, opened, closed FROM intake.caseload_days "
    "WHERE opened <> 0 OR closed <> 0 ORDER BY 1, 2, 3",
    "SELECT organisation, day, counsellor, sum(opened), sum(closed) "
    "FROM (SELECT organisation, (opened_at AT TIME ZONE 'UTC')::date AS day, "
    "coalesce(counsellor, opened_by) AS counsellor, 1 AS opened, 0 AS closed "
    "FROM intake.cases_view UNION ALL SELECT organisation, (closed_at AT TIME ZONE 'UTC')::date, "
    "coalesce(counsellor, opened_by), 0, 1 FROM intake.cases_view WHERE closed_at IS NOT NULL) "
    "AS m GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
)
# followup.worklist_due: open check-ins of open follow-ups per organisation, counsellor and
# due day.
WORKLIST_DUE = (
    "SELECT organisation, counsellor, due_on, checkins FROM followup.worklist_due "
    "WHERE checkins <> 0 ORDER BY 1, 2, 3",
    "SELECT organisation, counsellor, due_on, count(*) FROM followup.checkins_view "
    "WHERE NOT done AND followup_open GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
)
EVERY = (CASELOAD_OPEN, CASELOAD_DAYS, WORKLIST_DUE)
