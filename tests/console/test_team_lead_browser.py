"""The team lead's pages in a real browser against a real system: a client's case with a
session held, a plan agreed and an outcome recorded, and a referral to a partner (whose
name a spreadsheet would take for a formula) accepted with its outcome, all set up
through the APIs to save time; then the team lead signs in, lands on the dashboard, and
finds the outcome and the partner in the figures' tables and in their CSV files (the
partner's name defused there), the caseload per counsellor, the same page on a narrow
screen, a bad date refused at its field; from the organisation's cases it opens the case
and places a legal hold on it (an erasure is refused meanwhile), then lifts it, and reads
the retention periods per purpose, and the report to the funder (an objective set, its
progress, CSV and PDF, withdrawn). In
English; a shorter pass in Dutch and in French (one sign-in each). axe-core on every
page, a screenshot of each."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from services.console.dashboard import PERIOD_FIELDS
from tests.console.browsing import Visit, reload_until, sign_in_as, t
from tests.console.conftest import System
from tests.console.journey import (
    accepted_case,
    agree_plan,
    counsellor_api,
    eventually,
    partner_api,
    post,
    propose_when_known,
    register_partner,
)

pytestmark = pytest.mark.browser


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


def figures_to_show(system: System, partner_name: str) -> dict[str, str]:
    """A case with a session, an agreed plan and an outcome (employed, today), and a
    referral of it accepted by a new partner with its outcome (completed)."""
    partner_id = register_partner(system, partner_name, accepted=("identity",))
    today = datetime.now(UTC).date()
    with counsellor_api(system) as api:
        client_id, case_id = accepted_case(api, "Ilse", "Maes")
        post(
            api,
            f"/intake/v1/cases/{case_id}/sessions",
            {"kind": "deepening", "held_at": datetime.now(UTC).isoformat(), "minutes": 90},
        )
        agree_plan(
            api,
            case_id,
            {
                "title": "Find work as a planner",
                "specific": "Apply for three planner jobs in the region each month",
                "measure": "3 applications sent per month, listed in the portfolio",
                "competences": ["work_exploration"],
            },
            {"description": "Update the CV with the last job", "owner": "client"},
        )
        followup = eventually(api, "/followup/v1/followups", case_id=case_id)
        post(
            api,
            f"/followup/v1/followups/{followup['followup_id']}/outcome",
            {"outcome": "employed", "contract": "permanent", "on": today.isoformat()},
        )
        post(
            api,
            f"/intake/v1/clients/{client_id}/consents",
            {
                "purpose": "referral",
                "partner_id": partner_id,
                "data_categories": ["identity"],
                "granted": True,
            },
        )
        referral_id = propose_when_known(api, case_id, partner_id)
        post(api, f"/referral/v1/referrals/{referral_id}/send", {})
    with partner_api(system, partner_id) as partner:
        path = f"/referral/v1/referrals/{referral_id}"
        post(partner, f"{path}/acknowledge", {})
        post(partner, f"{path}/accept", {})
        post(partner, f"{path}/outcome", {"outcome": "completed"})
    return {"client_id": client_id, "case_id": case_id, "partner_id": partner_id}


def sign_in_as_team_lead(visit: Visit, base: str, language: str | None) -> None:
    sign_in_as(visit, base, "team_lead", "/dashboard", language)


def table(page: Any, figure: str) -> list[list[str]]:
    """A figure's table as text, the header row first."""
    rows = page.locator(f"#{figure}-table tr")
    return [
        [c.strip() for c in rows.nth(i).locator("th, td").all_inner_texts()]
        for i in range(rows.count())
    ]


def download(page: Any, figure: str) -> tuple[list[list[str]], str]:
    """A figure's CSV (the page's own link): its rows and its file's name."""
    href = page.locator(f"#{figure}-csv").get_attribute("href")
    answer = page.request.get(page.url.split("/dashboard")[0] + href)
    assert answer.status == 200, answer.status
    assert answer.headers["content-type"].startswith("text/csv")
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;"), disposition
    return list(csv.reader(io.StringIO(answer.text()))), disposition


def test_a_team_lead_reads_the_dashboard_downloads_its_figures_and_holds_a_case(
    system: System, browser: Any, screenshots: Path
) -> None:
    partner_name = f"=Tegenwicht {uuid.uuid4().hex[:6]}"
    made = figures_to_show(system, partner_name)
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    visit = Visit(page, screenshots, "team-lead-en")
    try:
        sign_in_as_team_lead(visit, system.base, "en")
        assert page.locator("h1").inner_text() == "Dashboard"
        assert (
            page.locator("nav.site-nav a[href='/dashboard']").get_attribute("aria-current")
            == "page"
        )
        reload_until(page, lambda p: p.locator("#outcomes-table").count() == 1)
        # Every chart is a picture of the table under it.
        for chart in page.locator("svg.chart").all():
            assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
        visit.check("dashboard")

        # At a glance: the totals, as its CSV gives them.
        names = page.locator("#summary-figures dt").all_inner_texts()
        values = page.locator("#summary-figures dd").all_inner_texts()
        assert names[0] == "Follow-ups with an outcome" and len(names) == 7, names
        rows, _ = download(page, "summary")
        assert [r[0] for r in rows] == ["Figure", *names]
        assert int(values[names.index("Open cases")]) >= 1

        # The outcome: in the table by kind, and the CSV says the same.
        outcomes = table(page, "outcomes")
        assert outcomes[0] == ["Outcome", "Follow-ups"]
        employed = next(r for r in outcomes if r[0] == "employed")
        assert int(employed[1]) >= 1
        rows, disposition = download(page, "outcomes")
        assert rows == outcomes
        # The file is named by the page's own period (its last day is the page's today: a
        # clock read here could be a day on when the run crosses midnight).
        last_day = page.locator("#period-to").input_value()
        assert "waypoint-outcomes-" in disposition and f"-{last_day}.csv" in disposition
        # The job by its contract.
        jobs = table(page, "jobs-by-contract")
        assert jobs[0] == ["Contract", "Follow-ups"]
        assert int(next(r for r in jobs if r[0] == "permanent contract")[1]) >= 1
        month_rows, _ = download(page, "outcomes-by-month")
        assert month_rows == table(page, "outcomes-by-month")
        assert page.locator("#days-to-outcome-note-1").inner_text().startswith("Median: ")

        # The partner's referral, once the referral service's report has it.
        # (Every service answers here: a figure's notice is test_dashboard_degrades's.)
        assert page.locator(".utrecht-alert--warning[id$='-missing']").count() == 0
        reload_until(page, lambda p: partner_name in p.locator("#network-table").inner_text())
        network = table(page, "network")
        mine = next(r for r in network if r[0] == partner_name)
        assert mine[1:4] == ["1", "1", "0"]  # referrals, accepted, declined
        assert mine[-1] == "completed: 1"
        rows, disposition = download(page, "network")
        assert "waypoint-network-" in disposition
        defused = next(r for r in rows if r[0] == "'" + partner_name)
        assert defused[1:4] == ["1", "1", "0"]
        times = table(page, "response-times")
        assert any(r[0] == partner_name for r in times[1:]), times
        # The counsellor's caseload and hours.
        hours = table(page, "hours")
        assert any(r[0] == "c.jansen" for r in hours[1:]), hours
        rows, _ = download(page, "hours")
        assert [r[0] for r in rows] == [r[0] for r in hours]

        # A narrow screen: nothing wider than the screen but the tables' own scrolling.
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => !e.closest('.table-scroll'))"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
            ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)"
        )
        assert not wide, wide
        visit.check("dashboard-narrow")
        page.set_viewport_size({"width": 1280, "height": 900})

        # A date that is none: said at its field, the input kept, no figures.
        answer = page.goto(system.base + "/dashboard?from=2026-02-30&to=2026-03-31")
        assert answer is not None and answer.status == 422
        assert page.locator("#period-from-error").inner_text().strip() == PERIOD_FIELDS["from"]
        assert page.locator("#period-from").get_attribute("aria-invalid") == "true"
        assert page.locator("#outcomes").count() == 0
        visit.check("dashboard-bad-date")
        # The period as asked for: the CSV's file name says it.
        page.goto(system.base + f"/dashboard?from=2026-01-01&to={last_day}")
        _, disposition = download(page, "outcomes")
        assert f"waypoint-outcomes-2026-01-01-{last_day}.csv" in disposition

        # The legal hold: the case reached from the dashboard (the organisation's cases),
        # placed with a reason, lifted.
        page.click("#to-cases")
        page.click(f"a[href='/cases/{made['case_id']}']")
        page.click("#to-legal-hold")
        assert page.locator("h1").inner_text() == "Legal hold on the case of Ilse Maes"
        assert page.locator("#hold-state").inner_text() == "none"
        assert page.locator("#lift-submit").count() == 0  # nothing to lift
        visit.check("legal-hold")
        page.click("#hold-submit")  # no reason: asked for one
        assert page.locator("#hold-reason-error").count() == 1
        assert page.locator("#hold-reason").get_attribute("aria-invalid") == "true"
        visit.check("legal-hold-refused")
        page.fill("#hold-reason", "A complaint about this case is being handled.")
        page.click("#hold-submit")
        assert "is now under a legal hold" in page.inner_text("main")
        assert page.locator("#hold-state").inner_text() == "placed"
        assert page.locator("#holds tbody tr").count() == 1
        assert "A complaint about this case" in page.locator("#holds").inner_text()
        assert page.locator("#hold-submit").count() == 0  # held: only the lift is offered
        page.reload()  # read again later: still placed (the API tells, not the redirect)
        assert page.locator("#hold-state").inner_text() == "placed"
        visit.check("legal-hold-placed")
        with counsellor_api(system) as api:
            r = api.post(
                f"/intake/v1/clients/{made['client_id']}/erasure", json={"reason": "Asked."}
            )
            assert r.status_code == 409 and "legal-hold" in r.json()["type"], r.text
        page.click("#lift-submit")
        assert "The legal hold on this case is lifted." in page.inner_text("main")
        assert page.locator("#hold-state").inner_text() == "none"
        assert page.locator("#holds").count() == 0
        visit.check("legal-hold-lifted")

        # Retention: the period per purpose, and what it removed (nothing yet here).
        page.click("nav.site-nav a[href='/retention']")
        assert page.locator("h1").inner_text() == "Retention"
        rules = [r.inner_text() for r in page.locator("#retention-rules tbody tr").all()]
        assert "7 years after the client's last case closed" in rules[0], rules
        assert "12 months after the referral ended" in rules[1], rules
        assert "10 years after the figure's day" in rules[2], rules
        assert page.locator("#archived-figures").count() == 1
        visit.check("retention")

        # The report to the funder: the figures per programme, an objective set (its
        # progress in the report, its CSV and the whole report as PDF), then withdrawn.
        page.click("nav.site-nav a[href='/funder']")
        assert page.locator("h1").inner_text() == "Report to the funder"
        assert page.locator("#programmes-table tbody tr").count() >= 1
        page.select_option("#objective-metric", "job_or_study_outcome")
        page.fill("#objective-target", "50")
        page.fill("#objective-starts_on", "2026-01-01")
        page.fill("#objective-ends_on", "2099-12-31")
        page.click("#objective-submit")
        goals = table(page, "objectives")
        assert goals[1][:3] == ["Clients with a job or study outcome (%)", "All programmes", "50"]
        assert page.locator("#objectives svg").count() == 1
        visit.check("funder")
        href = page.locator("#objectives-csv").get_attribute("href")
        answer = page.request.get(system.base + href)
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
        assert list(csv.reader(io.StringIO(answer.text())))[1][0] == goals[1][0]
        # The whole report as PDF, with the figures and the objective the page shows.
        href = page.locator("#funder-pdf").get_attribute("href")
        assert href and href.startswith("/funder/report.pdf?from=")
        answer = page.request.get(system.base + href, timeout=60_000)
        assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
        assert 'filename="waypoint-funder-report-' in answer.headers["content-disposition"]
        text = pdf_text(answer.body())
        for said in ("Report to the funder", "Figures per programme", "All programmes"):
            assert said in text, said
        assert "Clients with a job or study outcome (%)" in text
        bad = page.request.get(system.base + "/funder/report.pdf?from=someday")
        assert bad.status == 422 and "date" in bad.text()
        page.click("#objective-1-withdraw")
        assert page.locator("#objectives-none").count() == 1
    finally:
        context.close()


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_team_lead_pages_in_dutch_and_french(
    system: System, browser: Any, screenshots: Path, language: str
) -> None:
    with counsellor_api(system) as api:
        _, case_id = accepted_case(api, f"Lies-{language}", "Wouters")
    context = browser.new_context(locale=f"{language}-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, f"team-lead-{language}")
    try:
        sign_in_as_team_lead(visit, system.base, language)
        assert page.locator("h1").inner_text() == t(language, "Dashboard")
        assert page.locator("#outcomes-heading").inner_text() == t(language, "Outcomes by kind")
        visit.check("dashboard")
        page.goto(system.base + "/dashboard?from=someday")
        assert page.locator("#period-from-error").inner_text().strip() == t(
            language, PERIOD_FIELDS["from"]
        )
        # A period asks for figures, nothing is saved: the summary says so.
        assert page.locator("#period-errors h2").inner_text() == t(
            language, "Nothing could be shown"
        )
        visit.check("dashboard-bad-date")
        page.goto(f"{system.base}/cases/{case_id}/legal-hold")
        assert page.locator("#place-heading").inner_text() == t(language, "Place a legal hold")
        visit.check("legal-hold")
        page.goto(f"{system.base}/retention")
        assert page.locator("h1").inner_text() == t(language, "Retention")
        visit.check("retention")
    finally:
        context.close()


def test_the_dashboard_is_the_team_leads(system: System, browser: Any) -> None:
    """A counsellor finds no dashboard, no CSV, no legal hold page and no report to the
    funder: they read as absent."""
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(system.base + "/sign-in")
        page.click("#sign-in-counsellor")
        for path in (
            "/dashboard",
            "/dashboard/outcomes.csv",
            f"/cases/{uuid.uuid4()}/legal-hold",
            "/retention",
            "/funder",
            "/funder/objectives.csv",
        ):
            answer = page.goto(system.base + path)
            assert answer is not None and answer.status == 404, path
    finally:
        context.close()
