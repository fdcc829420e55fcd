"""The richer POP in a real browser against a real system: on an agreed plan (set up
through the APIs, to save time) the counsellor states the career question, writes down an
insight, records a decision (refused first without its reasons, at that field, the input
kept) and the support the client needs (refused first: "other" unsaid); in the
competence analysis, picks the career target among ESCO's occupations and a skill by
searching its Dutch label, with the client's and the counsellor's levels; the portfolio's
EVC standard chosen, an evidence linked to its items, each item judged, its table
per item, an evidence added by mistake withdrawn (refused first without why), its gaps
made training needs with a button; the plan is
revised, agreed again, the versions page says what changed; the action's job application
is recorded (refused first without its employer) and moved on with the employer's answer,
the plan staying agreed; an interest test's result is recorded (refused first without it)
and interpreted; and the printed plan (HTML and PDF) shows it all. In Dutch;
axe-core on every page, a screenshot of each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.console.browsing import Visit, sign_in_as_counsellor, t
from tests.console.conftest import System
from tests.console.journey import agreed_plan_of, esco_imported, evc_standard_imported, token_of
from tests.scenarios import EVC_STANDARD

pytestmark = pytest.mark.browser

NL = "nl"
QUESTION = "Welk werk past bij mij nu ik niet meer de hele dag kan staan?"
INSIGHT = "Ik help liever mensen dan dat ik ze iets verkoop."
DECISION = "De opleiding zorgkundige volgen."
REASONS = "Het werkplekleren in het woonzorgcentrum ging goed."
NOTES = "Nederlands op B1 voor de opleiding; een laptop."
EMPLOYER = "Woonzorgcentrum De Linde"
POSITION = "Zorgkundige (deeltijds)"
ANSWER = "Uitgenodigd voor een gesprek op donderdag."
RESULT = "Sociaal en onderzoekend: S-I-A."
READING = "Past bij de wens om met mensen te werken; zorg verkennen."
MISTAKEN = "Diploma van een andere klant"


def test_a_counsellor_records_the_question_insights_decisions_and_support_needs(
    system: System, browser: Any, screenshots: Path
) -> None:
    token = token_of(system, "c.jansen", ["counsellor"])
    _, _, plan_id = agreed_plan_of(system.base, token)
    context = browser.new_context(locale="nl-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, "pop-nl")
    try:
        sign_in_as_counsellor(visit, system.base, NL)
        page.goto(f"{system.base}/plans/{plan_id}")
        assert page.locator("#plan-status").inner_text() == t(NL, "agreed")
        visit.check("plan")

        page.fill("#career-question-question", QUESTION)
        page.click("#career-question-submit")
        assert t(NL, "The career question is saved.") in page.locator("main").inner_text()
        assert page.locator("#plan-question").inner_text() == QUESTION
        assert page.locator("#plan-status").inner_text() == t(NL, "revised, to be agreed again")

        page.locator("details.add-insight summary").click()
        page.fill("#insight-text", INSIGHT)
        page.click("#insight-submit")
        assert INSIGHT in page.locator("#insights").inner_text()

        # A decision without its reasons: refused at that field, the input kept.
        page.locator("details.add-decision summary").click()
        page.select_option("#plan-decision-kind", "decision")
        page.fill("#plan-decision-text", DECISION)
        page.click("#plan-decision-submit")
        assert page.locator("#plan-decision-reasons-error").count() == 1
        assert page.locator("#plan-decision-reasons").get_attribute("aria-invalid") == "true"
        assert page.locator("#plan-decision-text").input_value() == DECISION
        visit.check("decision-refused")
        page.fill("#plan-decision-reasons", REASONS)
        page.click("#plan-decision-submit")
        decisions = page.locator("#decisions").inner_text()
        assert t(NL, "Decision") in decisions and DECISION in decisions and REASONS in decisions

        # "Other" support without saying what: refused at the words.
        page.check("#support-needs-kinds-language")
        page.check("#support-needs-kinds-other")
        page.click("#support-needs-submit")
        assert page.locator("#support-needs-notes-error").count() == 1
        assert page.locator("#support-needs-kinds-language").is_checked()
        visit.check("support-refused")
        page.fill("#support-needs-notes", NOTES)
        page.click("#support-needs-submit")
        assert t(NL, "The support needs are saved.") in page.locator("main").inner_text()
        summary = page.locator("#support-summary").inner_text()
        assert summary == f"{t(NL, 'Language')}, {t(NL, 'Other')}"
        assert page.locator("#support-notes").inner_text() == NOTES
        visit.check("plan-richer")

        # The competence analysis from ESCO: an occupation as the career target (its label
        # English, having no Dutch one), then a skill by its Dutch label, with its levels.
        esco_imported(system)
        page.fill("#esco-q", "x")
        page.click("#esco-search")
        assert page.locator("#esco-note").count() == 1
        page.fill("#esco-q", "nursing ass")
        page.select_option("#esco-kind", "occupation")
        page.click("#esco-search")
        assert page.locator("#esco-found").inner_text().count("nursing assistant") == 1
        visit.check("esco-occupations")
        page.click("#esco-submit")
        assert t(NL, "The competence analysis is saved.") in page.locator("main").inner_text()
        assert "nursing assistant" in page.locator("#analysis-target").inner_text()
        page.fill("#esco-q", "Eerste hulp")
        page.select_option("#esco-kind", "skill")
        page.click("#esco-search")
        page.select_option("#esco-part", "strengths")
        page.select_option("#esco-self_level", "3")
        page.select_option("#esco-counsellor_level", "2")
        page.click("#esco-submit")
        rows = page.locator("#analysis-items tbody tr")
        assert rows.count() == 1
        assert "eerste hulp verlenen" in rows.first.inner_text()
        assert t(NL, "Strength") in rows.first.inner_text()
        assert page.locator("#item-strengths-0-self_level").input_value() == "3"
        page.select_option("#item-strengths-0-counsellor_level", "3")
        page.click("#item-strengths-0-save")
        assert page.locator("#item-strengths-0-counsellor_level").input_value() == "3"
        # The same skill picked again takes the new levels; it is not listed twice.
        page.fill("#esco-q", "Eerste hulp")
        page.select_option("#esco-kind", "skill")
        page.click("#esco-search")
        page.select_option("#esco-part", "strengths")
        page.select_option("#esco-self_level", "4")
        page.click("#esco-submit")
        assert rows.count() == 1
        assert page.locator("#item-strengths-0-self_level").input_value() == "4"
        visit.check("analysis")

        # The EVC portfolio against a standard (imported as `waypoint evc import-standard`
        # does): an evidence added, the standard chosen, the evidence linked to two of its
        # three items, each item judged (proven, partly with a comment, not yet); the items
        # not yet proven (partly, not yet) become training needs of the competence analysis
        # with one button.
        evc_standard_imported(system)
        page.goto(f"{system.base}/plans/{plan_id}")
        page.click("#evidence-add")
        page.fill("#evidence-title", "Referentie woonzorgcentrum")
        page.select_option("#evidence-kind", "reference")
        page.fill("#evidence-date", "2024-06-01")
        page.click("#evidence-submit")
        assert "done=evidence" in page.url
        evidence_id = (page.locator("div.evidence").get_attribute("id") or "")[9:]
        page.select_option("#portfolio-standard-standard_id", EVC_STANDARD)
        page.click("#portfolio-standard-submit")
        assert "done=portfolio-standard" in page.url
        page.check(f"#evidence-{evidence_id}-items-B1-K1-W1")
        page.check(f"#evidence-{evidence_id}-items-B1-K1-W2")
        page.click(f"#evidence-{evidence_id}-submit")
        assert "done=evidence-items" in page.url
        for item, judgement, comment in (
            ("B1-K1-W1", "proven", ""),
            ("B1-K1-W2", "partly", "Eerste hulp op het werk, geen attest."),
            ("B1-K1-W3", "not_yet", ""),
        ):
            page.locator(f"#judge-{item} summary").click()
            page.check(f"#judgement-{item}-judgement-{judgement}")
            page.fill(f"#judgement-{item}-comment", comment)
            page.click(f"#judgement-{item}-submit")
            assert "done=judgement" in page.url
        assert page.locator("#portfolio-items tbody tr").count() == 3
        first_aid = page.locator("#portfolio-item-B1-K1-W2").inner_text()
        assert t(NL, "Partly") in first_aid and "Referentie woonzorgcentrum" in first_aid
        assert "geen attest" in first_aid
        assert t(NL, "Not yet") in page.locator("#portfolio-item-B1-K1-W3").inner_text()
        visit.check("portfolio")
        # A piece of evidence added by mistake and linked, then withdrawn: refused first
        # without saying why (at that field); then it leaves the portfolio with its links,
        # and the judgement of the item it was linked to stays.
        page.click("#evidence-add")
        page.fill("#evidence-title", MISTAKEN)
        page.select_option("#evidence-kind", "diploma")
        page.fill("#evidence-date", "2023-06-30")
        page.click("#evidence-submit")
        assert "done=evidence" in page.url
        ids = [
            i[len("evidence-") :]
            for i in page.locator("div.evidence").evaluate_all("divs => divs.map(d => d.id)")
        ]
        [mistaken] = [i for i in ids if i != evidence_id]
        page.check(f"#evidence-{mistaken}-items-B1-K1-W3")
        page.click(f"#evidence-{mistaken}-submit")
        assert MISTAKEN in page.locator("#portfolio-item-B1-K1-W3").inner_text()
        page.locator(f"#withdraw-{mistaken} summary").click()
        page.click(f"#withdraw-{mistaken}-submit")
        assert page.locator(f"#withdraw-{mistaken}-reason-error").count() == 1
        assert page.locator(f"#withdraw-{mistaken}-reason").get_attribute("aria-invalid") == "true"
        assert page.locator("div.evidence").count() == 2
        visit.check("evidence-withdrawal-refused")
        page.fill(f"#withdraw-{mistaken}-reason", "Per vergissing toegevoegd: niet van deze klant.")
        page.click(f"#withdraw-{mistaken}-submit")
        main = page.locator("main").inner_text()
        assert (
            t(
                NL,
                "The evidence is withdrawn from the portfolio. "
                "Judge again the items it was linked to.",
            )
            in main
        )
        assert page.locator("div.evidence").count() == 1
        assert page.locator(f"#evidence-{evidence_id}").count() == 1
        not_yet = page.locator("#portfolio-item-B1-K1-W3").inner_text()
        assert MISTAKEN not in not_yet and t(NL, "Not yet") in not_yet
        assert "Referentie woonzorgcentrum" in page.locator("#portfolio-item-B1-K1-W1").inner_text()
        visit.check("evidence-withdrawn")
        page.click("#portfolio-gaps")
        main = page.locator("main").inner_text()
        assert (
            t(NL, "The items not yet proven are training needs of the competence analysis now.")
            in main
        )
        assert page.locator("#analysis-items tbody tr").count() == 3
        assert page.locator("#portfolio-gaps").count() == 1

        page.click("#agree-client")
        page.click("#agree-counsellor")
        assert page.locator("#plan-status").inner_text() == t(NL, "agreed")
        page.click("#to-versions")
        changes = page.locator("ul.changes > li")
        said = changes.all_inner_texts()
        assert any(t(NL, "The career question changed.") in c for c in said), said
        assert any(INSIGHT in c for c in said), said
        assert any(DECISION in c for c in said), said
        assert any(t(NL, "The support needs changed.") in c for c in said), said
        assert QUESTION in page.locator("section[aria-labelledby=shown]").inner_text()
        visit.check("versions")

        # The action's product: a job application, refused first without its employer.
        page.goto(f"{system.base}/plans/{plan_id}")
        page.locator("details.add-product summary").click()
        page.select_option("#product-action_id", index=1)
        page.select_option("#product-kind", "application")
        page.fill("#product-title", "Sollicitatie zorgkundige")
        page.fill("#product-position", POSITION)
        page.click("#product-submit")
        assert page.locator("#product-employer-error").count() == 1
        assert page.locator("#product-employer").get_attribute("aria-invalid") == "true"
        assert page.locator("#product-position").input_value() == POSITION
        visit.check("product-refused")
        page.fill("#product-employer", EMPLOYER)
        page.fill("#product-sent_on", page.locator("#product-date").input_value())
        page.click("#product-submit")
        assert t(NL, "The product is recorded.") in page.locator("main").inner_text()
        products = page.locator("#products-table").inner_text()
        assert EMPLOYER in products and t(NL, "sent") in products
        assert page.locator("#plan-status").inner_text() == t(NL, "agreed")
        # Its answer: an interview.
        row = page.locator("#products-table tbody tr").first
        row.locator("details summary").click()
        row.locator("select[name=status]").select_option("interview")
        row.locator("textarea[name=answer]").fill(ANSWER)
        row.locator("button[type=submit]").click()
        assert t(NL, "The application's status is recorded.") in page.locator("main").inner_text()
        products = page.locator("#products-table").inner_text()
        assert ANSWER in products and t(NL, "invited for an interview") in products
        assert t(NL, "Job application") in page.locator("ul.action-products").inner_text()
        assert page.locator("#plan-status").inner_text() == t(NL, "agreed")
        visit.check("products")

        # An instrument's result: refused first without it, then recorded and interpreted.
        page.locator("details.add-instrument summary").click()
        page.select_option("#instrument-instrument", "riasec")
        page.check("#instrument-competences-quality_reflection")
        page.click("#instrument-submit")
        assert page.locator("#instrument-result-error").count() == 1
        assert page.locator("#instrument-competences-quality_reflection").is_checked()
        visit.check("instrument-refused")
        page.fill("#instrument-result", RESULT)
        page.locator("#instrument-goal_ids input").first.check()
        page.click("#instrument-submit")
        assert t(NL, "The instrument's result is recorded.") in page.locator("main").inner_text()
        used = page.locator("#instruments-table tbody tr").first
        assert RESULT in used.inner_text() and "RIASEC" in used.inner_text()
        used.locator("details summary").click()
        used.locator("textarea[name=interpretation]").fill(READING)
        used.locator("button[type=submit]").click()
        assert t(NL, "The interpretation is saved.") in page.locator("main").inner_text()
        assert READING in page.locator("#instruments-table").inner_text()
        assert page.locator("#plan-status").inner_text() == t(NL, "agreed")
        visit.check("instruments")

        # The printed plan, HTML and PDF.
        page.goto(f"{system.base}/plans/{plan_id}/document?lang=nl")
        printed = page.locator("body").inner_text()
        for text in (QUESTION, INSIGHT, DECISION, REASONS, NOTES, EMPLOYER, POSITION):
            assert text in printed, text
        for heading in (
            "Reflecties en inzichten",
            "Keuzes en beslissingen",
            "Wat ik maakte en verstuurde",
        ):
            assert heading in printed
        page.screenshot(path=str(screenshots / "pop-nl-99-document.png"), full_page=True)
        pdf = page.request.get(
            f"{system.base}/plans/{plan_id}/document.pdf?lang=nl", timeout=60_000
        )
        assert pdf.status == 200
        assert pdf.body().startswith(b"%PDF-")
    finally:
        context.close()
