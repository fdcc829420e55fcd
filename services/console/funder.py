"""The team lead's report to the funder (#16 item 12): the figures of the cases accepted in
a period, per programme, and the organisation's objectives with their progress
(`GET /intake/v1/reports/funder`), a CSV of each figure and the whole report as an A4 PDF;
the objectives set and withdrawn here (`POST /intake/v1/objectives`,
`POST /intake/v1/objectives/{id}/withdrawal`).

Counts only: nothing on the page names a client."""

from __future__ import annotations

import contextlib
import functools
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from services.console.aftercare import OUTCOMES
from services.console.api import ApiError, FormErrors, form_errors
from services.console.charts import bars
from services.console.dashboard import (
    Cell,
    Figure,
    Period,
    label,
    period_of,
    team_lead_only,
    today,
)
from services.console.forms import api, send, texts, token
from services.console.i18n import N_, Localised
from services.console.printing import pdf_response
from services.console.web import SignedIn, View
from shared.documents import STYLE

router = APIRouter()
HOME = "/funder"
OTHER_HOURS = "other"

METRICS = {
    "plans_agreed_within_6_weeks": N_("Plans agreed within 6 weeks of acceptance (%)"),
    "plans_agreed_within_budget": N_("Plans agreed within the hours budget (%)"),
    "job_or_study_outcome": N_("Clients with a job or study outcome (%)"),
    "satisfaction_average": N_("Satisfaction, average (1 to 5)"),
    "median_days_to_outcome": N_("Median days from acceptance to outcome (at most)"),
    "clients_started": N_("Clients started"),
}
FIELDS = {
    "metric": N_("Choose what the objective measures."),
    "target": N_(
        "Enter a target that fits the measure: a percentage 0 to 100, a score 1 to 5, "
        "days or clients."
    ),
    "starts_on": N_("Enter the first day of the objective's period as a date."),
    "ends_on": N_("Enter the objective's last day, on or after its first day."),
    "programme": N_("Choose one of the agency's programmes."),
}


def programme_name(key: str | None, local: Localised) -> str:
    if key is None:
        return local.gettext(N_("All programmes"))
    return local.gettext(N_("Other hours")) if key == OTHER_HOURS else key


def funder_figures(report: dict[str, Any], local: Localised) -> list[Figure]:
    """The programmes' figures, the outcomes by code, and the objectives' progress."""
    g = local.gettext
    number = local.number
    figures = Figure("programmes", g(N_("Figures per programme")))
    figures.columns = [
        g(N_("Programme")),
        g(N_("Clients started")),
        g(N_("Hours used")),
        g(N_("Plans agreed")),
        g(N_("Plans agreed within the budget")),
        g(N_("Median days from acceptance to outcome")),
        g(N_("Feedback given")),
        g(N_("Satisfaction, average (1 to 5)")),
    ]
    rows = [*report.get("programmes", [])]
    if len(rows) > 1:
        rows.append({"programme": None, **report["total"]})
    for p in rows:
        figures.rows.append(
            [
                programme_name(p["programme"], local),
                p["clients_started"],
                p["hours_used"],
                p["plans_agreed"],
                p["plans_agreed_within_budget"],
                p["median_days_to_outcome"],
                p["feedback_given"],
                p["satisfaction_average"],
            ]
        )
    figures.draw(slice(1, 2), g(N_("No client started in this period.")), number)

    outcomes = Figure("outcomes", g(N_("Outcomes by kind")), [g(N_("Outcome")), g(N_("Clients"))])
    found: dict[str, int] = report["total"].get("outcomes") or {}
    for kind in [k for k in OUTCOMES if k in found] + sorted(set(found) - set(OUTCOMES)):
        outcomes.rows.append([label(kind, OUTCOMES, local), int(found[kind])])
    outcomes.draw(slice(1, 2), g(N_("No outcomes yet for the clients of this period.")), number)

    goals = Figure("objectives", g(N_("Objectives")))
    goals.columns = [
        g(N_("Objective")),
        g(N_("Programme")),
        g(N_("Target")),
        g(N_("Now")),
        g(N_("Progress (%)")),
    ]
    for o in report.get("objectives", []):
        goals.rows.append(
            [
                label(o["metric"], METRICS, local),
                programme_name(o["programme"], local),
                o["target"],
                o["value"],
                round(float(o["progress"]) * 100, 1),
            ]
        )
    if goals.rows:
        goals.chart = bars(
            goals.title,
            [str(r[0]) for r in goals.rows],
            [goals.columns[4]],
            [[r[4]] for r in goals.rows],  # type: ignore[list-item]
            number=number,
            most=100,
        )
    else:
        goals.empty = g(N_("No objective holds for this period."))
    return [figures, outcomes, goals]


async def report_of(
    request: Request, page: View, period: Period, programme: str | None
) -> dict[str, Any]:
    params = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    if programme:
        params["programme"] = programme
    found = await api(request).get(token(page), "/intake/v1/reports/funder", **params)
    return found if isinstance(found, dict) else {}


def chosen_programme(given: str | None, page: View) -> str | None:
    """The programme asked for, if the agency has it (else all)."""
    known = {*page.settings.budget_programmes, OTHER_HOURS}
    return given if given in known else None


async def show(
    request: Request,
    page: View,
    *,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    team_lead_only(page)
    query = request.query_params
    period, shown, period_errors = period_of(query.get("from"), query.get("to"), page.local)
    programme = chosen_programme(query.get("programme"), page)
    shown["programme"] = programme or ""
    figures: list[Figure] = []
    objectives: list[dict[str, Any]] = []
    if not period_errors:
        figures = funder_figures(await report_of(request, page, period, programme), page.local)
        listed = await api(request).get(token(page), "/intake/v1/objectives")
        objectives = listed.get("objectives", []) if isinstance(listed, dict) else []
    options = [(p, p) for p in sorted(page.settings.budget_programmes)] + [
        (OTHER_HOURS, page.local.gettext(N_("Other hours")))
    ]
    suffix = f"&programme={programme}" if programme else ""
    return page.render(
        "funder.html",
        status=422 if period_errors else status,
        period=period,
        query=period.query() + suffix,
        values=shown,
        period_errors=period_errors,
        figures={f.name: f for f in figures},
        programme_options=options,
        metric_options=[(k, page.local.gettext(v)) for k, v in METRICS.items()],
        metric_names={k: page.local.gettext(v) for k, v in METRICS.items()},
        objectives=objectives,
        objective_values=values or {},
        errors=errors or FormErrors(),
        programme_label=lambda key: programme_name(key, page.local),
    )


@router.get(HOME, response_class=HTMLResponse)
async def funder_page(request: Request, page: SignedIn) -> HTMLResponse:
    """The report to the funder for a period (default: the last 90 days) and a programme."""
    return await show(request, page)


# The console's stylesheet, whose chart rules (one per line, `.chart…`) go into each chart
# of the PDF: WeasyPrint draws an inline SVG with its own style only.
STYLESHEET = Path(__file__).parent / "static" / "console.css"


@functools.cache
def chart_style() -> str:
    rules = [r for r in STYLESHEET.read_text().splitlines() if r.startswith(".chart")]
    return "<style>" + "".join(rules) + "</style>"


def printable(figure: Figure) -> Figure:
    """The figure with its chart's style drawn into the chart, for the PDF."""
    if figure.chart is not None:
        head, _, rest = str(figure.chart).partition(">")
        figure.chart = Markup(f"{head}>{chart_style()}{rest}")
    return figure


def refused_period(errors: FormErrors) -> Response:
    """A download for a period that is not one: what is wrong, as plain text."""
    text = "\n".join(m for messages in errors.fields.values() for m in messages)
    return Response(text + "\n", status_code=422, media_type="text/plain; charset=utf-8")


@router.get(HOME + "/report.pdf")
async def funder_pdf(request: Request, page: SignedIn) -> Response:
    """The whole report for the period and programme the page showed, as an A4 PDF to send
    to the funder: each figure's chart and table, in the reader's language."""
    team_lead_only(page)
    query = request.query_params
    period, _, errors = period_of(query.get("from"), query.get("to"), page.local)
    if errors:
        return refused_period(errors)
    programme = chosen_programme(query.get("programme"), page)
    figures = funder_figures(await report_of(request, page, period, programme), page.local)
    html = page.render(
        "funder_document.html",
        style=STYLE,
        period=period,
        programme=programme_name(programme, page.local),
        printed=today(),
        figures={f.name: printable(f) for f in figures},
    ).body
    name = f"waypoint-funder-report-{period.first.isoformat()}-{period.last.isoformat()}.pdf"
    return await pdf_response(request, page, bytes(html).decode(), name)


@router.get(HOME + "/{figure}.csv")
async def funder_csv(request: Request, figure: str, page: SignedIn) -> Response:
    """One figure's table as CSV, for the period and programme the page showed."""
    team_lead_only(page)
    if figure not in ("programmes", "outcomes", "objectives"):
        raise ApiError(404, {"type": "https://waypoint.example/problems/not-found"})
    query = request.query_params
    period, _, errors = period_of(query.get("from"), query.get("to"), page.local)
    if errors:
        return refused_period(errors)
    programme = chosen_programme(query.get("programme"), page)
    found = {
        f.name: f
        for f in funder_figures(await report_of(request, page, period, programme), page.local)
    }
    name = f"waypoint-funder-{figure}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return Response(
        found[figure].csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(HOME + "/objectives")
async def set_objective(request: Request, page: SignedIn) -> Response:
    team_lead_only(page)
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "metric", "target", "starts_on", "ends_on", "programme")
    body: dict[str, Cell | float] = {
        "metric": values["metric"],
        "target": values["target"],
        "starts_on": values["starts_on"],
        "ends_on": values["ends_on"],
        "programme": values["programme"] or None,
    }
    with contextlib.suppress(ValueError):  # else sent as given: the API names the field
        body["target"] = float(values["target"].replace(",", "."))
    _, error = await send(request, page, "POST", "/intake/v1/objectives", form, body, False)
    if error is not None:
        errors = form_errors(error, page.local, FIELDS, prefix="objective-")
        return await show(request, page, errors=errors, values=values, status=error.status)
    return RedirectResponse(HOME + "#objectives-list", status_code=303)


@router.post(HOME + "/objectives/{objective_id}/withdrawal")
async def withdraw_objective(request: Request, objective_id: uuid.UUID, page: SignedIn) -> Response:
    team_lead_only(page)
    form = await request.form()
    page.check_csrf(form)
    _, error = await send(
        request, page, "POST", f"/intake/v1/objectives/{objective_id}/withdrawal", form, None, False
    )
    if error is not None:
        errors = form_errors(error, page.local, {})
        return await show(request, page, errors=errors, status=error.status)
    return RedirectResponse(HOME + "#objectives-list", status_code=303)
