"""The report to the funder (#16 item 12): what a programme's cases came to in a period.

Pure: the figures of the cases accepted in the period, one row each, as the read models
hold them (`projections.funder_cases`). A row: `client_id`, `programme` (None: other
hours), `accepted_at`, `minutes_used` (sessions and aftercare check-ins), `plan_agreed_at`
(None: no plan agreed yet), `plan_within_budget` (whether the hours used were within the
budget when the plan was agreed), `outcome` and `outcome_on` (follow-up's, None: none
yet), `satisfaction` (the client's feedback score 1 to 5, None: no feedback).

Nothing in a row or a figure names a client: the report is counts, sums, shares, a median.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

# A programme's key in the report for cases accepted with other hours (no programme).
OTHER_HOURS = "other"


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def days_to_outcome(row: Mapping[str, Any]) -> int | None:
    """Days from the acceptance to the outcome (never negative); None without an outcome."""
    outcome_on = row.get("outcome_on")
    if outcome_on is None or row.get("outcome") is None:
        return None
    return max(0, (_day(outcome_on) - _day(row["accepted_at"])).days)


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def share(part: int, whole: int) -> float | None:
    """part / whole, rounded to four decimals; None when there is no whole."""
    return round(part / whole, 4) if whole else None


def figures(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of a set of cases (see the module's docstring for a row)."""
    cases = list(rows)
    agreed = [r for r in cases if r.get("plan_agreed_at") is not None]
    within = sum(1 for r in agreed if r.get("plan_within_budget"))
    outcomes: dict[str, int] = {}
    for r in cases:
        if r.get("outcome") is not None:
            outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    days = [d for d in (days_to_outcome(r) for r in cases) if d is not None]
    scores = [int(r["satisfaction"]) for r in cases if r.get("satisfaction") is not None]
    return {
        "clients_started": len({r["client_id"] for r in cases}),
        "cases_started": len(cases),
        "hours_used": round(sum(int(r.get("minutes_used") or 0) for r in cases) / 60, 2),
        "plans_agreed": len(agreed),
        "plans_agreed_within_budget": within,
        "share_plans_within_budget": share(within, len(agreed)),
        "outcomes": dict(sorted(outcomes.items())),
        "median_days_to_outcome": median(days),
        "feedback_given": len(scores),
        "satisfaction_average": round(statistics.fmean(scores), 2) if scores else None,
    }


def report(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of all the cases, and per programme (by its key, other hours as
    `OTHER_HOURS`), programmes in key order."""
    cases = list(rows)
    by_programme: dict[str, list[Mapping[str, Any]]] = {}
    for r in cases:
        by_programme.setdefault(r.get("programme") or OTHER_HOURS, []).append(r)
    return {
        "total": figures(cases),
        "programmes": [
            {"programme": key, **figures(by_programme[key])} for key in sorted(by_programme)
        ],
    }


# -- the objectives: each metric's value over a set of cases, and the progress to a target ---
# Outcomes that count as a job or study (an own business is a job).
JOB_OR_STUDY = ("employed", "self_employed", "education")
SIX_WEEKS_DAYS = 42


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def metric_value(metric: str, rows: Sequence[Mapping[str, Any]]) -> float | None:
    """The value of one of the objectives' metrics (`domain.objectives.METRICS`) over the
    cases: a percentage (0 to 100), a score, days or a count; None when there is nothing
    to measure (no case, no plan agreed, no feedback, no outcome)."""
    if metric == "clients_started":
        return float(len({r["client_id"] for r in rows}))
    if metric == "plans_agreed_within_6_weeks":
        soon = sum(
            1
            for r in rows
            if r.get("plan_agreed_at") is not None
            and (_day(r["plan_agreed_at"]) - _day(r["accepted_at"])).days <= SIX_WEEKS_DAYS
        )
        return _percent(soon, len(rows))
    if metric == "plans_agreed_within_budget":
        agreed = [r for r in rows if r.get("plan_agreed_at") is not None]
        return _percent(sum(1 for r in agreed if r.get("plan_within_budget")), len(agreed))
    if metric == "job_or_study_outcome":
        return _percent(sum(1 for r in rows if r.get("outcome") in JOB_OR_STUDY), len(rows))
    if metric == "satisfaction_average":
        scores = [int(r["satisfaction"]) for r in rows if r.get("satisfaction") is not None]
        return round(statistics.fmean(scores), 2) if scores else None
    if metric == "median_days_to_outcome":
        return median([d for d in (days_to_outcome(r) for r in rows) if d is not None])
    raise ValueError(f"Unknown metric {metric!r}")


def progress(value: float | None, target: float, at_least: bool) -> tuple[bool | None, float]:
    """Whether the value meets the target (None: nothing measured yet), and how far it
    is on the way (0 to 1, for a bar): value / target when more is better, target / value
    when less is (a number of days)."""
    if value is None:
        return None, 0.0
    met = value >= target if at_least else value <= target
    if met:
        return True, 1.0
    if at_least:
        return False, max(0.0, value / target) if target else 1.0
    return False, target / value if value else 1.0


def in_days(row: Mapping[str, Any], first: date, last: date) -> bool:
    """Whether the case was accepted on a day from `first` to `last` (both included)."""
    return first <= _day(row["accepted_at"]) <= last
