"""Follow-up's reads of its read models: the list, the worklist, the outcomes report."""

from __future__ import annotations

import uuid
from datetime import UTC, date, timedelta
from typing import Any

import asyncpg

from services.followup.consumers import in_statistics
from shared.paging import Column, Listed, Order, Page, fetch_page
from shared.periods import Period
from shared.runtime import snapshot


async def list_followups(
    pool: asyncpg.Pool,
    organisation: str,
    *,
    counsellor: str | None,
    page: Page | None = None,
    status: str | None = None,
    with_bottleneck: bool | None = None,
) -> tuple[list[uuid.UUID], Listed]:
    """The organisation's follow-ups (of one counsellor, with a status, with or without a
    bottleneck raised), newest first (`FOLLOWUP_ORDER`), and the page with its capped
    total."""
    where, args = ["organisation = $1"], [organisation]
    if counsellor is not None:
        args.append(counsellor)
        where.append(f"counsellor = ${len(args)}")
    if status is not None:
        args.append(status)
        where.append(f"status = ${len(args)}")
    if with_bottleneck is not None:
        where.append("bottlenecks > 0" if with_bottleneck else "bottlenecks = 0")
    async with snapshot(pool) as conn:
        listed = await fetch_page(
            conn,
            select="followup_id",
            source="FROM followup.followups_view",
            where=where,
            args=args,
            order=FOLLOWUP_ORDER,
            page=page or Page(),
        )
    return [uuid.UUID(str(r["followup_id"])) for r in listed.rows], listed


# The follow-up list's order: newest first, those without an opening moment (projected
# before it was kept) last, ties by id (descending too: one index read backwards serves
# it: `followups_view_listed`, `followups_view_carried`, `followups_view_status`).
FOLLOWUP_ORDER = Order(
    "followups",
    (
        Column("coalesce(opened_at, to_timestamp(0))", "timestamptz", True),
        Column("followup_id", "uuid", True),
    ),
)
# The worklist's order: most urgent first (`checkins_view_due_open`).
WORKLIST_ORDER = Order("worklist", (Column("c.due_on", "date"), Column("c.checkin_id", "uuid")))


async def worklist(
    pool: asyncpg.Pool,
    organisation: str,
    *,
    due_before: date,
    today: date,
    counsellor: str | None,
    page: Page | None = None,
) -> Listed:
    """Open check-ins of open follow-ups due before a date, most urgent first, with the
    total (exact, from the counters `worklist_due`)."""
    where = ["c.organisation = $1", "NOT c.done", "c.followup_open", "c.due_on < $2"]
    args: list[Any] = [organisation, due_before]
    count = (
        "SELECT sum(checkins) FROM followup.worklist_due WHERE organisation = $1 AND due_on < $2"
    )
    if counsellor:
        args.append(counsellor)
        where.append("c.counsellor = $3")
        count += " AND counsellor = $3"
    async with snapshot(pool) as conn:
        listed = await fetch_page(
            conn,
            select="c.checkin_id, c.followup_id, c.case_id, f.client_id, c.counsellor, "
            "c.number, c.due_on",
            source="FROM followup.checkins_view c "
            "JOIN followup.followups_view f USING (followup_id)",
            # Counted from the counters the check-ins' triggers keep (as many rows as due
            # days and counsellors): every check-in's follow-up has its row (the same
            # aggregate's events, and erasure deletes both), so the join changes no count.
            count_sql=count,
            where=where,
            args=args,
            order=WORKLIST_ORDER,
            page=page or Page(),
        )
    for item in listed.rows:
        item["days_overdue"] = max((today - item["due_on"]).days, 0)
    return listed


async def accepted_on(pool: asyncpg.Pool, case_id: uuid.UUID) -> date | None:
    """The day intake accepted the case, as follow-up learned it (None until it has): the
    same date the report counts the days to an outcome from."""
    async with pool.acquire() as conn:
        found: date | None = await conn.fetchval(
            "SELECT accepted_on FROM followup.accepted_cases WHERE case_id = $1", case_id
        )
    return found


# The organisation's ($1) outcome figures: its follow-ups in the statistics, and the
# anonymised figures of erased clients (the `statistics` purpose's archive).
FIGURES = (
    "WITH f AS (SELECT f.outcome, f.outcome_on, f.outcome_on - a.accepted_on AS days, "
    "f.bottlenecks, f.satisfaction, f.self_knowledge_improved, f.confidence_improved, "
    "f.feedback_on FROM followup.followups_view f "
    "LEFT JOIN followup.accepted_cases a USING (case_id) "
    f"WHERE f.organisation = $1 AND {in_statistics('f')} "
    "UNION ALL SELECT outcome, outcome_on, days_to_outcome, bottlenecks, satisfaction, "
    "self_knowledge_improved, confidence_improved, feedback_on "
    "FROM followup.statistics_archive WHERE organisation = $1)"
)


async def outcomes_report(pool: asyncpg.Pool, organisation: str, period: Period) -> dict[str, Any]:
    """The team lead's figures for a period [start, end).

    Outcomes (in all and per calendar month), the days from acceptance to outcome (median
    and histogram) and the share with a bottleneck count the follow-ups whose outcome date
    lies in the period; the feedback figures count the feedback given in the period, the
    bottlenecks per kind those detected in it. Those dates are days: a day counts when its
    start (UTC) lies in the period (`Period.days`). All figures come from one snapshot, so
    they agree with each other even while events are being applied. Erased clients count
    through their anonymised figures (`FIGURES`) until the statistics retention lets
    them go.
    """
    start, end = period.days()  # [start, end): the days counted
    async with snapshot(pool) as conn:
        outcomes = await conn.fetch(
            f"{FIGURES} SELECT outcome, count(*) AS n FROM f "
            "WHERE outcome_on >= $2 AND outcome_on < $3 GROUP BY outcome",
            organisation,
            start,
            end,
        )
        contracts = await conn.fetch(
            "SELECT coalesce(outcome_contract, 'unknown') AS contract, count(*) AS n "
            "FROM followup.followups_view WHERE organisation = $1 AND outcome = 'employed' "
            f"AND outcome_on >= $2 AND outcome_on < $3 AND {in_statistics()} GROUP BY 1",
            organisation,
            start,
            end,
        )
        # The median and the histogram of the days from acceptance to outcome, in one pass.
        buckets = ", ".join(
            f"count(*) FILTER (WHERE days >= {low}"
            + (f" AND days < {high}" if high is not None else "")
            + f") AS b{i}"
            for i, (low, high) in enumerate(DAYS_TO_OUTCOME)
        )
        durations = await conn.fetchrow(
            f"{FIGURES} SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY days) "
            f"AS median, count(*) AS n, {buckets} FROM f "
            "WHERE outcome_on >= $2 AND outcome_on < $3 AND days IS NOT NULL",
            organisation,
            start,
            end,
        )
        bottlenecks = await conn.fetchrow(
            f"{FIGURES} SELECT count(*) AS n, count(*) FILTER (WHERE bottlenecks > 0) "
            "AS with_bottleneck FROM f WHERE outcome_on >= $2 AND outcome_on < $3",
            organisation,
            start,
            end,
        )
        months = await conn.fetch(
            f"{FIGURES} SELECT date_trunc('month', outcome_on)::date AS month, outcome, "
            "count(*) AS n FROM f WHERE outcome_on >= $2 AND outcome_on < $3 GROUP BY 1, 2",
            organisation,
            start,
            end,
        )
        kinds = await conn.fetch(
            "SELECT kind, count(*) AS n FROM ("
            "SELECT kind FROM followup.bottlenecks_view b "
            "WHERE organisation = $1 AND detected_on >= $2 AND detected_on < $3 "
            f"AND {in_statistics('b')} UNION ALL "
            "SELECT kind FROM followup.bottleneck_archive "
            "WHERE organisation = $1 AND detected_on >= $2 AND detected_on < $3"
            ") k GROUP BY kind",
            organisation,
            start,
            end,
        )
        feedback = await conn.fetchrow(
            f"{FIGURES} SELECT count(*) AS n, avg(satisfaction) AS satisfaction, "
            "avg(self_knowledge_improved::int) AS self_knowledge, "
            "avg(confidence_improved::int) AS confidence FROM f "
            "WHERE feedback_on >= $2 AND feedback_on < $3",
            organisation,
            start,
            end,
        )
    total = int(bottlenecks["n"])
    return {
        "from": period.start,
        "to": period.end,
        "followups_with_outcome": total,
        "outcomes": {r["outcome"]: int(r["n"]) for r in outcomes},
        "employment_contracts": {r["contract"]: int(r["n"]) for r in contracts},
        "median_days_acceptance_to_outcome": (
            float(durations["median"]) if durations["median"] is not None else None
        ),
        "share_with_bottleneck": (
            round(int(bottlenecks["with_bottleneck"]) / total, 3) if total else None
        ),
        "feedback": {
            "count": int(feedback["n"]),
            "satisfaction_average": _round(feedback["satisfaction"]),
            "self_knowledge_improved_share": _round(feedback["self_knowledge"]),
            "confidence_improved_share": _round(feedback["confidence"]),
        },
        "by_month": _by_month(period, months),
        "days_to_outcome": [
            {"from_days": low, "to_days": high, "count": int(durations[f"b{i}"])}
            for i, (low, high) in enumerate(DAYS_TO_OUTCOME)
        ],
        "bottlenecks": {r["kind"]: int(r["n"]) for r in kinds},
    }


# The histogram's buckets of days from acceptance to outcome: [from, to), None an open end.
DAYS_TO_OUTCOME: tuple[tuple[int, int | None], ...] = (
    (0, 30),
    (30, 60),
    (60, 90),
    (90, 180),
    (180, None),
)


def months_of(period: Period) -> list[date]:
    """The first day of every calendar month (UTC) the period [start, end) intersects,
    oldest first: a month without outcomes still gets its (empty) entry."""
    first = period.start.astimezone(UTC).date().replace(day=1)
    last = (period.end.astimezone(UTC) - timedelta(microseconds=1)).date().replace(day=1)
    months = []
    while first <= last:
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def _by_month(period: Period, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    counted: dict[date, dict[str, int]] = {}
    for r in rows:
        counted.setdefault(r["month"], {})[r["outcome"]] = int(r["n"])
    return [{"month": f"{m:%Y-%m}", "outcomes": counted.get(m, {})} for m in months_of(period)]


def _round(value: Any) -> float | None:
    return round(float(value), 3) if value is not None else None


async def handed_over(pool: asyncpg.Pool, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The counsellor each of these cases was handed to (intake's `CaseReassigned`, the
    latest); a case never handed over is absent."""
    if not case_ids:
        return {}
    rows = await pool.fetch(
        "SELECT case_id, counsellor FROM followup.case_counsellors WHERE case_id = ANY($1)",
        case_ids,
    )
    return {uuid.UUID(str(r["case_id"])): str(r["counsellor"]) for r in rows}
