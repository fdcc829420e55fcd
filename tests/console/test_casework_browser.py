"""The counsellor's case and plan in a real browser against a real system: a client's
consent, a case opened (refused first, without the consent), the entry check, both
assessments drawn side by side, a session against the hours budget, the acceptance, then
the plan: a goal refused as not SMART (each criterion at its field, the input kept), a
SMART one, an action, both parties' agreement, the agreed versions and what changed,
and the printable plan (HTML, and once downloaded as PDF); a referral consent naming its
partner and data. In Dutch, French and English; once without JavaScript; and a stale form
meeting someone else's change.
axe-core on every page, a screenshot of each."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date

from tests.console.browsing import Visit, register, sign_in_as_counsellor, submit_and_close, t
from tests.console.conftest import System
from tests.console.journey import agency_today, register_partner

pytestmark = pytest.mark.browser

COMPETENCES = (
    "quality_reflection",
    "motive_reflection",
    "work_exploration",
    "career_steering",
    "networking",
)


def assess(page: Any, assessor: str, scores: str) -> None:
    for code, score in zip(COMPETENCES, scores, strict=True):
        page.select_option(f"#assessment-{assessor}-{code}", score)
    page.click(f"#assessment-{assessor}-submit")


def open_plan(page: Any, visit: Visit) -> None:
    """The case page's link to the plan; the plan follows the acceptance within moments."""
    page.click("#to-plan")
    deadline = time.monotonic() + 20
    while "/plans/" not in page.url:
        assert time.monotonic() < deadline, "the accepted case got no plan"
        visit.check("plan-pending")
        time.sleep(0.5)
        page.click("#reload-plan")


def new_client(visit: Visit, language: str, given: str) -> str:
    page = visit.page
    page.click("nav a[href='/clients/new']")
    register(visit, language, given, f"{given.lower()}@example.org")
    assert re.search(r"/clients/[0-9a-f-]{36}", page.url), page.url
    return page.url.split("?")[0]


@pytest.mark.parametrize("language", ["nl", "fr", "en"])
def test_a_counsellor_takes_a_client_from_consent_to_an_agreed_plan(
    system: System, browser: Any, screenshots: Path, language: str
) -> None:
    context = browser.new_context(locale=f"{language}-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, f"case-{language}")
    today = date.today()
    try:
        sign_in_as_counsellor(visit, system.base, language)
        client_url = new_client(visit, language, f"Lotte{language}")
        visit.check("client")

        # Without the client's consent to guidance the API refuses a case: said so.
        page.fill("#case-career_question", "Which work suits me after ten years in retail?")
        page.click("#open-case")
        assert (
            page.locator("#case-errors")
            .inner_text()
            .count(t(language, "This needs the client's consent, which has not been given."))
        )
        assert (
            page.locator("#case-career_question").input_value()
            == "Which work suits me after ten years in retail?"
        )
        visit.check("case-refused")

        page.click("#grant-guidance")
        assert t(language, "The consent is recorded.") in page.locator("main").inner_text()
        history = page.locator("#consent-history tbody tr")
        assert history.count() == 1
        assert t(language, "granted") in history.inner_text()
        visit.check("consent-granted")
        page.click("#grant-statistics")
        withdraw = page.locator("button[id^='withdraw-']").last
        withdraw.click()
        assert page.locator("#consent-history tbody tr").count() == 3
        visit.check("consents-history")

        page.fill("#case-career_question", "Which work suits me after ten years in retail?")
        page.click("#open-case")
        assert re.search(r"/cases/[0-9a-f-]{36}", page.url), page.url
        assert t(language, "The case is opened.") in page.locator("main").inner_text()
        visit.check("case")

        page.check("#entry-check-eligible-yes")
        page.fill("#entry-check-notes", "Lives in the region; no other programme.")
        page.click("#entry-check-submit")
        assert page.locator("#entry-check-result").inner_text() == t(
            language, "The client meets the entry conditions (checked on %(day)s)."
        ) % {"day": format_date(agency_today(), "medium", locale=language)}
        assess(page, "client", "34213")
        assess(page, "counsellor", "33322")
        # Both views side by side, the gaps drawn and tabled.
        svg = page.locator("svg.competence-chart")
        assert svg.get_attribute("role") == "img"
        assert svg.locator("rect.chart-bar--0").count() == 6  # 5 bars and the legend's
        assert svg.locator("rect.chart-bar--1").count() == 6
        rows = page.locator("#scores-table tbody tr")
        assert rows.count() == 5
        gap = {
            rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").last.inner_text()
            for i in range(5)
        }
        assert gap[t(language, "Networking")] == t(language, "yes")
        assert gap[t(language, "Reflecting on qualities")] == t(language, "no")
        visit.check("assessed")

        page.select_option("#session-kind", "intake")
        page.fill("#session-held_at", f"{today - timedelta(days=1)}T10:00")
        page.fill("#session-minutes", "90")
        page.click("#session-submit")
        assert page.locator("#hours-meter").get_attribute("value") == "1.5"
        visit.check("session")

        page.check("#decision-decision-decline")
        page.click("#decision-submit")  # declining without a reason: asked for one
        assert page.locator("#decision-reason-error").inner_text().strip() == t(
            language, "Give the reason for declining."
        )
        visit.check("decision-refused")
        page.check("#decision-decision-accept")
        page.click("#decision-submit")
        assert page.locator("#case-status").inner_text() == t(language, "accepted")
        visit.check("accepted")

        open_plan(page, visit)
        visit.check("plan")
        page.select_option("#type-plan_type", "combined")
        page.click("#type-submit")

        # A goal that is not SMART: refused, each criterion judged, at its field.
        page.fill("#goal-title", "Work")
        page.fill("#goal-specific", "Work")
        page.fill("#goal-measure", "better")
        page.fill("#goal-target_date", str(today + timedelta(days=1)))
        page.click("#goal-submit")
        for criterion in ("specific", "measurable", "achievable", "relevant"):
            assert "smart--fail" in (
                page.locator(f"#smart-{criterion}").get_attribute("class") or ""
            )
        assert "smart--pass" in (page.locator("#smart-time_bound").get_attribute("class") or "")
        for control in ("specific", "measure", "target_date", "competences"):
            assert page.locator(f"#goal-{control}-error").count() == 1, control
        assert page.locator("#goal-specific").get_attribute("aria-invalid") == "true"
        assert page.locator("#goal-title").input_value() == "Work"  # the input is kept
        assert page.locator("#goal-measure").input_value() == "better"
        visit.check("goal-not-smart")

        page.fill("#goal-title", "A job in logistics")
        page.fill("#goal-specific", "Apply for three warehouse planner jobs in the region")
        page.fill("#goal-measure", "3 applications sent, one interview held")
        page.fill("#goal-target_date", str(today + timedelta(days=90)))
        page.check("#goal-competences-work_exploration")
        page.check("#goal-competences-networking")
        page.click("#goal-submit")
        assert t(language, "The goal is added.") in page.locator("main").inner_text()
        goal = page.locator("article.goal")
        assert goal.count() == 1
        assert format_date(today + timedelta(days=90), "long", locale=language) in goal.inner_text()

        goal.locator("summary").click()
        goal.locator("textarea[name=description]").fill("Update the CV with the planning work")
        goal.locator("select[name=owner]").select_option("client")
        goal.locator("input[name=due_date]").fill(str(today + timedelta(days=30)))
        goal.locator("button[type=submit]").last.click()
        assert page.locator("article.goal tbody tr").count() == 1
        visit.check("plan-with-action")

        page.click("#agree-client")
        page.click("#agree-counsellor")
        assert page.locator("#plan-status").inner_text() == t(language, "agreed")
        visit.check("plan-agreed")
        # The plan to print, HTML and PDF in each language, the client's language first.
        prints = page.locator("#plan-prints a")
        others = [code for code in ("nl", "fr", "en") if code != language]
        assert [a.get_attribute("hreflang") for a in prints.all()] == [
            code for code in (language, *others) for _ in ("html", "pdf")
        ]
        dutch_html = page.locator("#document-nl").get_attribute("href")
        pdf_href = page.locator(f"#document-{language}-pdf").get_attribute("href")
        assert pdf_href and pdf_href.endswith(f"/document.pdf?lang={language}")
        if language == "fr":
            # The PDF as the browser downloads it, with the session's cookie.
            pdf = page.request.get(system.base + pdf_href, timeout=60_000)
            assert pdf.status == 200
            assert pdf.headers["content-type"] == "application/pdf"
            assert pdf.headers["content-disposition"].startswith('attachment; filename="plan-')
            assert pdf.body().startswith(b"%PDF-")

        # A change after the agreement, agreed again: a second version, and what changed.
        page.locator("button[id^='complete-']").click()
        page.click("#agree-client")
        page.click("#agree-counsellor")
        page.click("#to-versions")
        assert page.locator("#versions tbody tr").count() == 2
        changes = page.locator("ul.changes > li")
        assert changes.count() == 1
        assert "Update the CV with the planning work" in changes.inner_text()
        assert t(language, "done") in changes.locator("ins").inner_text()
        visit.check("versions")

        page.goto(system.base + str(dutch_html))
        assert "Persoonlijk ontwikkelingsplan" in page.locator("h1").inner_text()
        page.screenshot(path=str(screenshots / f"case-{language}-99-document.png"), full_page=True)

        page.goto(system.base + "/clients")
        row = page.locator("#clients tbody tr", has_text=f"Lotte{language} de Vries")
        assert "Which work suits me after ten years in retail?" in row.inner_text()
        visit.check("clients")
        page.goto(client_url)
        case_link = page.locator("main a[href^='/cases/']")
        assert case_link.count() == 1
        assert t(language, "accepted") in case_link.locator("xpath=..").inner_text()
    finally:
        context.close()


def test_a_stale_form_meets_the_change_made_since_and_keeps_its_input(
    system: System, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "conflict")
    try:
        sign_in_as_counsellor(visit, system.base, "en")
        new_client(visit, "en", "Stale")
        page.click("#grant-guidance")
        page.fill("#case-career_question", "What next?")
        page.click("#open-case")
        case_url = page.url.split("?")[0]
        other = context.new_page()
        other.goto(case_url)
        # Someone else (another tab) records a session meanwhile.
        other.select_option("#session-kind", "intake")
        other.fill("#session-held_at", f"{date.today() - timedelta(days=1)}T09:00")
        other.fill("#session-minutes", "45")
        submit_and_close(other, "#session-submit")
        # This tab's form still carries the version it showed.
        page.check("#entry-check-eligible-yes")
        page.fill("#entry-check-notes", "Checked with the client.")
        page.click("#entry-check-submit")
        summary = page.locator("#entry-check-errors")
        assert "Someone else changed this first" in summary.inner_text()
        assert "Someone else changed this record while you were working on it" in (
            summary.inner_text()
        )
        # The current state is shown (the other tab's session), the input kept.
        assert "45" in page.locator("section[aria-labelledby=session] table").inner_text()
        assert page.locator("#entry-check-notes").input_value() == "Checked with the client."
        assert page.locator("#entry-check-eligible-yes").is_checked()
        visit.check("stale-entry-check")
        page.click("#entry-check-submit")  # sent again, on the version now shown
        assert "The entry check is recorded." in page.locator("main").inner_text()
    finally:
        context.close()


def test_the_case_and_plan_forms_work_without_javascript(
    system: System, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(java_script_enabled=False, locale="nl-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, "no-js-case", axe=False)
    today = date.today()
    try:
        sign_in_as_counsellor(visit, system.base, "nl")
        new_client(visit, "nl", "Nojs")
        visit.check("client")
        page.click("#grant-guidance")
        page.fill("#case-career_question", "Welk werk past bij mij?")
        page.click("#open-case")
        page.check("#entry-check-eligible-yes")
        page.click("#entry-check-submit")
        assess(page, "counsellor", "22334")
        page.check("#decision-decision-accept")
        page.click("#decision-submit")
        assert page.locator("#case-status").inner_text() == t("nl", "accepted")
        visit.check("accepted")
        open_plan(page, visit)
        page.select_option("#type-plan_type", "action")
        page.click("#type-submit")
        page.fill("#goal-title", "Werk")
        page.fill("#goal-specific", "Werk")
        page.fill("#goal-measure", "beter")
        page.fill("#goal-target_date", str(today + timedelta(days=60)))
        page.click("#goal-submit")
        assert page.locator("#goal-specific-error").count() == 1
        assert "smart--fail" in (page.locator("#smart-relevant").get_attribute("class") or "")
        visit.check("goal-not-smart")
        page.fill("#goal-specific", "Drie sollicitaties sturen voor een job als planner")
        page.fill("#goal-measure", "3 sollicitaties verstuurd")
        page.check("#goal-competences-career_steering")
        page.click("#goal-submit")
        assert page.locator("article.goal").count() == 1
        # The action form sits in a <details>: open without JavaScript too.
        page.locator("article.goal summary").click()
        page.locator("article.goal textarea[name=description]").fill("Cv bijwerken")
        page.locator("article.goal input[name=due_date]").fill(str(today + timedelta(days=20)))
        page.locator("article.goal button[type=submit]").last.click()
        # A second goal, then the priorities turned round.
        page.fill("#goal-title", "Netwerk")
        page.fill("#goal-specific", "Twee gesprekken met planners uit het eigen netwerk")
        page.fill("#goal-measure", "2 gesprekken gevoerd")
        page.fill("#goal-target_date", str(today + timedelta(days=45)))
        page.check("#goal-competences-networking")
        page.click("#goal-submit")
        assert page.locator("article.goal h3").first.inner_text().endswith("Werk")
        inputs = page.locator("form.priorities input[type=number]")
        inputs.nth(0).fill("2")
        inputs.nth(1).fill("1")
        page.click("#priorities-submit")
        assert t("nl", "The priorities are saved.") in page.locator("main").inner_text()
        assert page.locator("article.goal h3").first.inner_text().endswith("Netwerk")
        visit.check("priorities")
        page.click("#agree-client")
        page.click("#agree-counsellor")
        assert page.locator("#plan-status").inner_text() == t("nl", "agreed")
        visit.check("plan-agreed")
    finally:
        context.close()


def test_a_referral_consent_names_its_partner_and_the_data_it_may_receive(
    system: System, browser: Any, screenshots: Path
) -> None:
    partner_id = register_partner(system, "Schuldhulp Oost")
    context = browser.new_context(locale="fr-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, "referral-consent")
    try:
        sign_in_as_counsellor(visit, system.base, "fr")
        new_client(visit, "fr", "Refer")
        page.select_option("#referral-partner_id", partner_id)
        page.click("#grant-referral")  # no data chosen: refused at the data's field
        assert page.locator("#referral-data_categories-error").inner_text().strip() == t(
            "fr", "Choose at least one kind of data the partner may receive."
        )
        assert page.locator("#referral-partner_id").input_value() == partner_id  # kept
        visit.check("refused")
        page.check("#referral-data_categories-identity")
        page.check("#referral-data_categories-career_question")
        page.click("#grant-referral")
        row = page.locator("main table").first.locator("tbody tr", has_text="Schuldhulp Oost")
        assert row.count() == 1
        assert t("fr", "career question") in row.inner_text()
        assert t("fr", "contact details") not in row.inner_text()
        visit.check("granted")
        row.locator("button[id^='withdraw-']").click()
        assert t("fr", "withdrawn") in page.locator("#consent-history tbody tr").first.inner_text()
        visit.check("withdrawn")
    finally:
        context.close()
