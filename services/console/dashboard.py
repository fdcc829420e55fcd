"""The team lead's dashboard: the organisation's figures over a period (outcomes, days to
an outcome, bottlenecks, caseload and hours per counsellor, the referral network per
partner, feedback), each as a chart drawn on the server, the table of the same figures
and a CSV of them.

The figures come from three report APIs (follow-up, intake, referral), asked at once; a
service that does not answer leaves its figures out with a notice, the rest shows. Each
figure is built once (`Figure`: its columns and rows) and shown three ways, so the chart,
the table and the CSV cannot tell different numbers."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from services.console.aftercare import CONTRACTS
from services.console.aftercare import OUTCOMES as FOLLOWUP_OUTCOMES
from services.console.api import ApiError, FormErrors
from services.console.charts import bars
from services.console.forms import api, token
from services.console.i18n import N_, Localised
from services.console.pages import BOTTLENECK_KINDS, PHASE_NAMES
from services.console.referrals import OUTCOMES as REFERRAL_OUTCOMES
from services.console.web import SignedIn, View

router = APIRouter()

HOME = "/dashboard"
DEFAULT_DAYS = 90
# The years a date of the form may name (the APIs' own bounds are wider).
FIRST_YEAR, LAST_YEAR = 2000, 2100
# A cell of a figure's table: its text, or a number (formatted on the page, plain in CSV).
Cell = str | int | float | None
# Cells a spreadsheet would read as a formula (and run): written with a leading '.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

PERIOD_FIELDS = {
    "from": N_("Enter the first day of the period as a date, for example 2026-01-31."),
    "to": N_("Enter the last day of the period as a date, for example 2026-03-31."),
}
BEFORE_START = N_("The last day cannot lie before the first day.")
# The services whose reports the figures come from, and what a page says when one fails.
UNAVAILABLE = {
    "followup": N_("The follow-up figures cannot be read just now; try again in a moment."),
    "intake": N_("The caseload figures cannot be read just now; try again in a moment."),
    "referral": N_("The referral network figures cannot be read just now; try again in a moment."),
}
REPORTS = {
    "followup": "/followup/v1/reports/outcomes",
    "intake": "/intake/v1/reports/caseload",
    "referral": "/referral/v1/reports/network",
}
# The histogram's buckets of days, as the follow-up report gives them.
BUCKET = N_("%(low)s to %(high)s days")
LAST_BUCKET = N_("%(low)s days or more")


@dataclass
class Figure:
    """One figure of the dashboard: what its chart, its table and its CSV show."""

    name: str  # in the CSV's address and file name, and the section's id
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    chart: Markup | None = None
    empty: str | None = None  # said instead of a chart when there are no rows
    notes: list[str] = field(default_factory=list)  # said under it (a median, a share)
    missing: str | None = None  # the notice when its service did not answer

    def draw(
        self,
        columns: slice,
        empty: str,
        number: Callable[[float | int], str],
        **options: Any,
    ) -> None:
        """Its chart: a bar per row (labelled by the row's first cell) of the `columns`,
        with the `options` of `bars`; with no row, `empty` is said instead."""
        if not self.rows:
            self.empty = empty
            return
        self.chart = bars(
            self.title,
            [str(r[0]) for r in self.rows],
            self.columns[columns],
            [r[columns] for r in self.rows],  # type: ignore[misc]
            number=number,
            **options,
        )

    def csv(self) -> str:
        """The table as CSV: a header row, then the rows, numbers as numbers (a dot for
        decimals); a text cell that a spreadsheet would take for a formula is quoted."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([safe_cell(c) for c in self.columns])
        for row in self.rows:
            writer.writerow([safe_cell(c) for c in row])
        return out.getvalue()


def safe_cell(value: Cell) -> Cell:
    """A cell safe to open in a spreadsheet: text starting with = + - @ (or a tab or a
    carriage return) gets a leading ' so that it stays text (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


# -- the period --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    first: date
    last: date

    def query(self) -> str:
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}"


def today() -> date:
    return datetime.now(UTC).date()


def period_of(
    first_given: str | None, last_given: str | None, local: Localised
) -> tuple[Period, dict[str, str], FormErrors]:
    """The period the form asks for (both days included; default the last 90 days), the
    form's values as given, and what is wrong with them (at their fields)."""
    values = {"from": (first_given or "").strip(), "to": (last_given or "").strip()}
    errors = FormErrors()
    end = today()
    days: dict[str, date] = {}
    for name, given in values.items():
        if not given:
            continue
        try:
            day = date.fromisoformat(given) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", given) else None
        except ValueError:
            day = None
        if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
            errors.add(f"period-{name}", local.gettext(PERIOD_FIELDS[name]))
        else:
            days[name] = day
    last = days.get("to", end)
    start = days.get("from", last - timedelta(days=DEFAULT_DAYS))
    if not errors and start > last:
        errors.add("period-to", local.gettext(BEFORE_START))
    values = {
        "from": values["from"] or start.isoformat(),
        "to": values["to"] or last.isoformat(),
    }
    return Period(start, last), values, errors


# -- the figures, from the reports -------------------------------------------------------------
def names_of(found: Sequence[str], known: dict[str, str]) -> list[str]:
    """The kinds a report names, in the order the console knows them, then any other."""
    return [k for k in known if k in found] + sorted(k for k in found if k not in known)


def label(kind: str, known: dict[str, str], local: Localised) -> str:
    return local.gettext(known[kind]) if kind in known else kind


def month_label(month: str, local: Localised) -> str:
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        return month
    return format_date(first, "MMM y", locale=local.locale)


def percent(share: Any) -> float | None:
    return None if share is None else round(float(share) * 100, 1)


def rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def outcome_figures(report: dict[str, Any] | None, local: Localised) -> list[Figure]:
    """Outcomes per month and by kind, days from acceptance to outcome, bottlenecks and
    feedback: from the follow-up report (None: it did not answer)."""
    g = local.gettext
    number = local.number
    figures = [
        Figure("outcomes-by-month", g(N_("Outcomes per month, by kind"))),
        Figure("outcomes", g(N_("Outcomes by kind"))),
        Figure("jobs-by-contract", g(N_("Jobs by contract"))),
        Figure("days-to-outcome", g(N_("Days from acceptance to outcome"))),
        Figure("bottlenecks", g(N_("Bottlenecks by kind"))),
        Figure("feedback", g(N_("Feedback"))),
    ]
    if report is None:
        for f in figures:
            f.missing = g(UNAVAILABLE["followup"])
        return figures
    by_month, by_kind, jobs, days, stuck, feedback = figures
    no_outcomes = g(N_("No outcomes in this period."))

    # Per month: a stacked bar per month, a column per kind.
    months = report.get("by_month")
    if months is None:
        by_month.missing = g(UNAVAILABLE["followup"])
    else:
        kinds = names_of(
            sorted({k for m in months for k in m.get("outcomes", {})}), FOLLOWUP_OUTCOMES
        )
        by_month.columns = [
            g(N_("Month")),
            *(label(k, FOLLOWUP_OUTCOMES, local) for k in kinds),
            g(N_("Total")),
        ]
        for m in months:
            counts = [int(m.get("outcomes", {}).get(k, 0)) for k in kinds]
            by_month.rows.append([month_label(str(m["month"]), local), *counts, sum(counts)])
        if not any(r[-1] for r in by_month.rows):
            by_month.rows = []
        by_month.draw(slice(1, -1), no_outcomes, number, stacked=True)

    # By kind.
    outcomes: dict[str, int] = report.get("outcomes") or {}
    by_kind.columns = [g(N_("Outcome")), g(N_("Follow-ups"))]
    for k in names_of(list(outcomes), FOLLOWUP_OUTCOMES):
        if outcomes[k]:
            by_kind.rows.append([label(k, FOLLOWUP_OUTCOMES, local), int(outcomes[k])])
    by_kind.draw(slice(1, 2), no_outcomes, number)

    # The jobs (`employed`) by their contract; `unknown` where none was given.
    contracts: dict[str, int] = report.get("employment_contracts") or {}
    known = {**CONTRACTS, "unknown": N_("contract not known")}
    jobs.columns = [g(N_("Contract")), g(N_("Follow-ups"))]
    for k in names_of(list(contracts), known):
        if contracts[k]:
            jobs.rows.append([label(k, known, local), int(contracts[k])])
    jobs.draw(slice(1, 2), g(N_("No jobs in this period.")), number)

    # Days to outcome: the histogram, the median's bucket marked.
    buckets = report.get("days_to_outcome")
    median = rounded(report.get("median_days_acceptance_to_outcome"))
    if buckets is None:
        days.missing = g(UNAVAILABLE["followup"])
    else:
        days.columns = [g(N_("Days")), g(N_("Follow-ups"))]
        marked = None
        for b in buckets:
            low, high = b.get("from_days"), b.get("to_days")
            text = (
                g(LAST_BUCKET, low=number(low))
                if high is None
                else g(BUCKET, low=number(low), high=number(high))
            )
            days.rows.append([text, int(b.get("count", 0))])
            inside = median is not None and low <= median and (high is None or median < high)
            if inside and marked is None:
                marked = len(days.rows) - 1
        note = None
        if not any(r[1] for r in days.rows):
            days.rows = []
        elif median is not None:
            note = g(N_("Median: %(days)s days"), days=number(median))
            days.notes.append(note)
        days.draw(slice(1, 2), no_outcomes, number, marked=marked, note=note)

    # Bottlenecks by kind, and the share of the follow-ups with one.
    kinds_found = report.get("bottlenecks")
    share = percent(report.get("share_with_bottleneck"))
    if kinds_found is None:
        stuck.missing = g(UNAVAILABLE["followup"])
    else:
        stuck.columns = [g(N_("Bottleneck")), g(N_("Bottlenecks"))]
        for k in names_of(list(kinds_found), BOTTLENECK_KINDS):
            if kinds_found[k]:
                stuck.rows.append([label(k, BOTTLENECK_KINDS, local), int(kinds_found[k])])
        stuck.draw(slice(1, 2), g(N_("No bottlenecks in this period.")), number)
    if share is not None:
        stuck.notes.append(
            g(
                N_("%(share)s %% of the follow-ups with an outcome in this period had one."),
                share=number(share),
            )
        )

    # Feedback: figures as text (and a one-row CSV).
    given = report.get("feedback") or {}
    count = int(given.get("count") or 0)
    feedback.columns = [
        g(N_("Feedback given")),
        g(N_("Satisfaction, average (1 to 5)")),
        g(N_("Knows themselves better (%)")),
        g(N_("Feels more confident (%)")),
    ]
    if count:
        feedback.rows.append(
            [
                count,
                rounded(given.get("satisfaction_average")),
                percent(given.get("self_knowledge_improved_share")),
                percent(given.get("confidence_improved_share")),
            ]
        )
    else:
        feedback.empty = g(N_("No feedback in this period."))
    return figures


def caseload_figures(report: dict[str, Any] | None, local: Localised) -> list[Figure]:
    """Open cases per counsellor by phase, and hours used against the budget: from the
    intake report (None: it did not answer)."""
    g = local.gettext
    number = local.number
    load = Figure("caseload", g(N_("Open cases per counsellor, by phase")))
    hours = Figure("hours", g(N_("Hours used and hours budgeted per counsellor")))
    if report is None:
        load.missing = hours.missing = g(UNAVAILABLE["intake"])
        return [load, hours]
    people = sorted(report.get("counsellors") or [], key=lambda c: str(c.get("counsellor")))
    phases = names_of(
        sorted({p for c in people for p in c.get("cases_by_phase") or {}}), PHASE_NAMES
    )
    load.columns = [
        g(N_("Counsellor")),
        *(label(p, PHASE_NAMES, local) for p in phases),
        g(N_("Open cases")),
        g(N_("Cases opened in this period")),
        g(N_("Cases ended in this period")),
    ]
    for c in people:
        by_phase = c.get("cases_by_phase") or {}
        if c.get("open_cases") or c.get("cases_opened") or c.get("cases_closed"):
            load.rows.append(
                [
                    str(c["counsellor"]),
                    *(int(by_phase.get(p, 0)) for p in phases),
                    int(c.get("open_cases") or 0),
                    int(c.get("cases_opened") or 0),
                    int(c.get("cases_closed") or 0),
                ]
            )
    load.draw(slice(1, 1 + len(phases)), g(N_("No open cases.")), number, stacked=True)
    hours.columns = [
        g(N_("Counsellor")),
        g(N_("Hours used")),
        g(N_("Hours budgeted")),
        g(N_("Sessions")),
    ]
    for c in people:
        if c.get("hours_used") or c.get("hours_budget") or c.get("sessions"):
            hours.rows.append(
                [
                    str(c["counsellor"]),
                    rounded(c.get("hours_used") or 0),
                    rounded(c.get("hours_budget") or 0),
                    int(c.get("sessions") or 0),
                ]
            )
    hours.draw(slice(1, 3), g(N_("No hours budgeted or used in this period.")), number)
    return [load, hours]


def network_figures(report: dict[str, Any] | None, local: Localised) -> list[Figure]:
    """The referral network per partner: from the referral report (None: it did not answer)."""
    g = local.gettext
    number = local.number
    network = Figure("network", g(N_("Referral network per partner")))
    times = Figure("response-times", g(N_("Partners' median hours to acknowledge and to answer")))
    if report is None:
        network.missing = times.missing = g(UNAVAILABLE["referral"])
        return [network, times]
    network.columns = [
        g(N_("Partner")),
        g(N_("Referrals")),
        g(N_("Accepted")),
        g(N_("Declined")),
        g(N_("Overdue")),
        g(N_("Acceptance rate (%)")),
        g(N_("Median hours to acknowledge")),
        g(N_("Median hours to answer")),
        g(N_("Outcomes")),
    ]
    partners = sorted(
        report.get("partners") or [], key=lambda p: (-int(p.get("referrals") or 0), p.get("name"))
    )
    for p in partners:
        outcomes = p.get("outcomes") or {}
        network.rows.append(
            [
                str(p.get("name") or p.get("partner_id")),
                int(p.get("referrals") or 0),
                int(p.get("accepted") or 0),
                int(p.get("declined") or 0),
                int(p.get("overdue") or 0),
                percent(p.get("acceptance_rate")),
                rounded(p.get("median_hours_to_acknowledgement")),
                rounded(p.get("median_hours_to_answer")),
                "; ".join(
                    f"{label(k, REFERRAL_OUTCOMES, local)}: {outcomes[k]}"
                    for k in names_of(list(outcomes), REFERRAL_OUTCOMES)
                ),
            ]
        )
    network.draw(slice(1, 3), g(N_("No referrals in this period.")), number)
    # The partners' answering times, where there is one to tell.
    times.columns = [network.columns[0], *network.columns[6:8]]
    times.rows = [[r[0], *r[6:8]] for r in network.rows if r[6] is not None or r[7] is not None]
    times.draw(
        slice(1, None), g(N_("No referral was acknowledged or answered in this period.")), number
    )
    return [network, times]


def summary_figure(reports: dict[str, dict[str, Any] | None], local: Localised) -> Figure:
    """The period at a glance: a few totals of the three reports, each beside its name (a
    report that did not answer leaves its totals out)."""
    g = local.gettext
    summary = Figure("summary", g(N_("At a glance")), [g(N_("Figure")), g(N_("Value"))])
    followup, intake, referral = (reports.get(s) for s in ("followup", "intake", "referral"))
    rows: list[list[Cell]] = []
    if followup is not None:
        rows += [
            [g(N_("Follow-ups with an outcome")), followup.get("followups_with_outcome")],
            [
                g(N_("Median days from acceptance to outcome")),
                rounded(followup.get("median_days_acceptance_to_outcome")),
            ],
            [
                g(N_("Follow-ups with a bottleneck (%)")),
                percent(followup.get("share_with_bottleneck")),
            ],
        ]
    if intake is not None:
        counsellors = intake.get("counsellors") or []
        rows += [
            [g(N_("Open cases")), sum(int(c.get("open_cases") or 0) for c in counsellors)],
            [
                g(N_("Hours of guidance held")),
                rounded(sum(float(c.get("hours_used") or 0) for c in counsellors)),
            ],
        ]
    if referral is not None:
        partners = referral.get("partners") or []
        accepted = sum(int(p.get("accepted") or 0) for p in partners)
        answered = sum(int(p.get("answered") or 0) for p in partners)
        rows += [
            [g(N_("Referrals sent")), sum(int(p.get("referrals") or 0) for p in partners)],
            [
                g(N_("Referrals accepted (%)")),
                percent(accepted / answered) if answered else None,
            ],
        ]
    summary.rows = rows
    if not rows:
        summary.missing = g(N_("No figures can be read just now; try again in a moment."))
    return summary


BUILDERS: dict[str, Callable[[dict[str, Any] | None, Localised], list[Figure]]] = {
    "followup": outcome_figures,
    "intake": caseload_figures,
    "referral": network_figures,
}
# Each figure's service (for its CSV, only that service is asked).
FIGURES = {
    "summary": "*",  # every service's
    "outcomes-by-month": "followup",
    "outcomes": "followup",
    "jobs-by-contract": "followup",
    "days-to-outcome": "followup",
    "bottlenecks": "followup",
    "feedback": "followup",
    "caseload": "intake",
    "hours": "intake",
    "network": "referral",
    "response-times": "referral",
}


async def report_of(
    request: Request, page: View, service: str, period: Period
) -> dict[str, Any] | None:
    """One service's report for the period; None when it cannot be read now (it is away,
    or does not offer this report yet). A token no longer accepted ends the session."""
    try:
        found = await api(request).get(
            token(page),
            REPORTS[service],
            **{"from": period.first.isoformat(), "to": period.last.isoformat()},
        )
    except ApiError as e:
        if e.status == 401:
            raise
        return None
    return found if isinstance(found, dict) else None


async def figures_of(
    request: Request, page: View, period: Period, services: Sequence[str]
) -> list[Figure]:
    """The figures of the services, their reports asked for at once (every service's,
    with the summary first, when `services` is all of them)."""
    reports = await asyncio.gather(*(report_of(request, page, s, period) for s in services))
    found = dict(zip(services, reports, strict=True))
    figures = [
        f for service, report in found.items() for f in BUILDERS[service](report, page.local)
    ]
    if set(services) == set(REPORTS):
        figures.insert(0, summary_figure(found, page.local))
    return figures


def team_lead_only(page: View) -> None:
    """The dashboard is the team lead's (the reports are theirs in the APIs too)."""
    assert page.session is not None
    if "team_lead" not in page.session.roles:
        raise ApiError(404, {"type": "https://waypoint.example/problems/not-found"})


@router.get(HOME, response_class=HTMLResponse)
async def dashboard(request: Request, page: SignedIn, to: str | None = None) -> HTMLResponse:
    """The organisation's figures over a period (default: the last 90 days)."""
    team_lead_only(page)
    # `from` is a Python keyword: read from the query itself.
    period, values, errors = period_of(request.query_params.get("from"), to, page.local)
    figures: list[Figure] = []
    if not errors:
        figures = await figures_of(request, page, period, list(REPORTS))
    return page.render(
        "dashboard.html",
        status=422 if errors else 200,
        period=period,
        values=values,
        errors=errors,
        figures={f.name: f for f in figures},
    )


@router.get(HOME + "/{figure}.csv")
async def figure_csv(
    request: Request, figure: str, page: SignedIn, to: str | None = None
) -> Response:
    """One figure's table as CSV, for the period the page showed."""
    team_lead_only(page)
    if figure not in FIGURES:
        raise ApiError(404, {"type": "https://waypoint.example/problems/not-found"})
    period, _, errors = period_of(request.query_params.get("from"), to, page.local)
    if errors:
        text = "\n".join(m for messages in errors.fields.values() for m in messages)
        return Response(text + "\n", status_code=422, media_type="text/plain; charset=utf-8")
    services = list(REPORTS) if FIGURES[figure] == "*" else [FIGURES[figure]]
    found = {f.name: f for f in await figures_of(request, page, period, services)}
    chosen = found[figure]
    if chosen.missing:
        return Response(
            chosen.missing + "\n", status_code=503, media_type="text/plain; charset=utf-8"
        )
    name = f"waypoint-{figure}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return Response(
        chosen.csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
