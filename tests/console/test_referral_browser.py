"""The counsellor's referrals in a real browser against a real system: a client with an
accepted case and a referral consent for a partner that covers some of their data, not
all (set up through the APIs, to save time); then the partner found by its kind of
service, a proposal with data the consent does not cover refused at its field (the input
kept), one with covered data, sent, with its status over time; the worklist showing it
awaiting the partner's answer; a second referral withdrawn from a stale page (someone
else sent it meanwhile: said so, the current state shown), then withdrawn again. In
English; a proposal sent in Dutch and in French. axe-core on every page, a screenshot of
each."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.console.browsing import Visit, sign_in_as_counsellor, submit_and_close, t
from tests.console.conftest import System
from tests.console.journey import (
    accepted_case,
    counsellor_api,
    partner_api,
    post,
    propose_when_known,
    register_partner,
)

pytestmark = pytest.mark.browser


def referable_client(system: System, partner_id: str, given: str) -> tuple[str, str, str]:
    """A client with an accepted case and a referral consent for the partner covering
    their identity and career question (not their contact details), and a first
    referral proposed through the API once referral knows the case and the consent:
    (client_id, case_id, referral_id)."""
    with counsellor_api(system) as api:
        client_id, case_id = accepted_case(api, given, "Peeters")
        post(
            api,
            f"/intake/v1/clients/{client_id}/consents",
            {
                "purpose": "referral",
                "partner_id": partner_id,
                "data_categories": ["identity", "career_question"],
                "granted": True,
            },
        )
        return (
            client_id,
            case_id,
            propose_when_known(
                api, case_id, partner_id, reason="Needs a recognised course before applying again."
            ),
        )


def test_a_counsellor_finds_a_partner_proposes_sends_and_withdraws_referrals(
    system: System, browser: Any, screenshots: Path
) -> None:
    name = f"Werkwinkel {uuid.uuid4().hex[:6]}"
    partner_id = register_partner(
        system,
        name,
        category="training",
        service="Retraining for logistics",
        accepted=("identity", "contact", "career_question", "assessments"),
    )
    client_id, case_id, second = referable_client(system, partner_id, "Ruben")
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "referral-en")
    try:
        sign_in_as_counsellor(visit, system.base, "en")
        page.goto(f"{system.base}/cases/{case_id}")
        assert page.locator("#case-referrals tbody tr").count() == 1
        page.click("#to-referral")
        assert page.locator("#search-for-case").count() == 1

        # The partner found by its kind of service and (part of) its service's name.
        page.select_option("#search-category", "housing")
        page.fill("#search-service", "logistics")
        page.click("#search-submit")
        assert page.locator("#partners li.partner", has_text=name).count() == 0
        page.select_option("#search-category", "training")
        page.click("#search-submit")
        found = page.locator("#partners li.partner", has_text=name)
        assert found.count() == 1
        assert "no limit" in found.locator(".open-places").inner_text()
        assert "training" in found.locator("table").inner_text()
        assert page.locator("#search-category").input_value() == "training"  # kept
        assert page.locator("#search-service").input_value() == "logistics"
        visit.check("search")
        page.click(f"#propose-{partner_id}")

        # Per kind of data: what the client's consent for this partner covers.
        assert page.locator("#coverage-identity .covered").count() == 1
        assert page.locator("#coverage-contact .uncovered").count() == 1
        assert page.locator("#coverage-plan .uncovered").count() == 2  # nor accepted
        assert page.locator("#to-consent-form").get_attribute("href") == (
            f"/clients/{client_id}#referral"
        )
        visit.check("proposal")

        # Contact details are not covered: the API refuses; said at the data's field.
        page.check("#proposal-data_categories-identity")
        page.check("#proposal-data_categories-contact")
        page.fill("#proposal-reason", "Wants to retrain as a warehouse planner.")
        page.click("#proposal-submit")
        assert "/referrals/new" in page.url or page.url.endswith(f"/cases/{case_id}/referrals")
        message = page.locator("#proposal-data_categories-error").inner_text()
        assert "has not consented to share all of this data with this partner" in message
        assert page.locator("#proposal-data_categories").get_attribute("aria-invalid") == "true"
        assert page.locator("#proposal-reason").input_value() == (
            "Wants to retrain as a warehouse planner."
        )
        assert page.locator("#proposal-data_categories-contact").is_checked()
        visit.check("proposal-refused")

        page.uncheck("#proposal-data_categories-contact")
        page.check("#proposal-data_categories-career_question")
        page.click("#proposal-submit")
        assert "/referrals/" in page.url and "done=proposed" in page.url
        assert page.locator("#referral-status").inner_text() == "proposed"
        assert page.locator("#referral-data").inner_text() == (
            "identity (name, date of birth), career question"
        )
        assert page.locator("#letters a").count() == 6  # nl, fr and en, HTML and PDF
        assert page.locator("#close-submit").count() == 0  # not closable while proposed
        visit.check("proposed")

        page.click("#send-submit")
        assert page.locator("#referral-status").inner_text() == "sent"
        assert "The referral is sent to the partner." in page.locator("main").inner_text()
        rows = page.locator("#referral-history tbody tr")
        assert rows.count() == 2
        assert "proposed" in rows.nth(0).inner_text()
        assert "the counsellor" in rows.nth(0).inner_text()
        assert "sent" in rows.nth(1).inner_text()
        assert page.locator("#send-submit").count() == 0
        assert page.locator("#resumption-submit").count() == 1
        visit.check("sent")
        sent_url = page.url.split("?")[0]
        referral_id = sent_url.rsplit("/", 1)[1]

        page.goto(system.base + "/")
        row = page.locator("#awaiting-referrals tbody tr", has_text=name)
        assert row.count() == 1
        assert "sent" in row.inner_text()
        assert "Ruben Peeters" in row.inner_text()  # the client by name
        link = row.get_by_role("link", name="Referral page")
        assert link.get_attribute("href") == sent_url.removeprefix(system.base)
        visit.check("worklist")
        page.select_option("#referrals-filter", "overdue")
        page.click("#referrals-filter-submit")
        assert page.locator("#awaiting-referrals tbody tr", has_text=name).count() == 0

        # The partner declines (through its API); the counsellor closes the loop and
        # says whether guidance resumes.
        with partner_api(system, partner_id) as api:
            post(api, f"/referral/v1/referrals/{referral_id}/decline", {"reason": "Course full."})
        page.goto(sent_url)
        assert page.locator("#referral-status").inner_text() == "declined"
        last = page.locator("#referral-history tbody tr").last.inner_text()
        assert "declined" in last and name in last
        page.check("#resumption-resumes-yes")
        page.fill("#resumption-resume_on", str(date.today() + timedelta(days=14)))
        page.click("#resumption-submit")
        assert page.locator("#referral-resumption").inner_text().startswith("resumes on ")
        assert page.locator("#resumption-resumes-yes").is_checked()  # the form shows it
        page.fill("#close-note", "Another course found together with the client.")
        page.click("#close-submit")
        assert page.locator("#referral-status").inner_text() == "closed"
        assert page.locator("#close-submit").count() == 0
        assert page.locator("#letters").count() == 0  # no letter once closed
        whats = page.locator("#referral-history tbody tr td:nth-child(2)").all_inner_texts()
        assert whats == [
            "proposed",
            "sent",
            "declined",
            "resumption of guidance recorded",
            "closed",
        ]
        visit.check("closed")

        # The second referral, withdrawn from a page someone else changed meanwhile.
        page.goto(f"{system.base}/referrals/{second}")
        assert page.locator("#referral-status").inner_text() == "proposed"
        other = context.new_page()
        other.goto(f"{system.base}/referrals/{second}")
        submit_and_close(other, "#send-submit")
        page.fill("#withdraw-reason", "The client found a course on their own.")
        page.click("#withdraw-submit")
        assert "Someone else changed this first" in page.locator("#withdraw-errors").inner_text()
        assert page.locator("#referral-status").inner_text() == "sent"  # the state now
        assert page.locator("#withdraw-reason").input_value() == (
            "The client found a course on their own."
        )
        visit.check("withdraw-stale")
        page.fill("#withdraw-reason", "")
        page.click("#withdraw-submit")  # no reason: asked for one
        assert page.locator("#withdraw-reason-error").inner_text().strip() == (
            "Give the reason for withdrawing (at most 4000 characters)."
        )
        page.fill("#withdraw-reason", "The client found a course on their own.")
        page.click("#withdraw-submit")
        assert page.locator("#referral-status").inner_text() == "withdrawn"
        assert page.locator("#referral-withdrawal-reason").inner_text() == (
            "The client found a course on their own."
        )
        assert "withdrawn" in page.locator("#referral-history tbody tr").last.inner_text()
        assert page.locator("#withdraw-submit").count() == 0
        assert page.locator("#letters").count() == 0  # no letter for a withdrawn one
        visit.check("withdrawn")

        page.click("#to-case")
        statuses = page.locator("#case-referrals tbody tr").all_inner_texts()
        assert len(statuses) == 2
        assert any("withdrawn" in s for s in statuses) and any("closed" in s for s in statuses)
        visit.check("case")

        # Bad input is refused, never a failure of the console.
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        bad = page.request.post(
            f"{system.base}/cases/{case_id}/referrals",
            form={
                "csrf_token": csrf,
                "partner_id": "nonsense",
                "reason": "",
                "data_categories": "x",
            },
            max_redirects=0,
        )
        assert bad.status == 422, bad.status
        assert "proposal-reason-error" in bad.text()
        bad = page.request.post(
            f"{sent_url}/resumption",
            form={"csrf_token": csrf, "resumes": "yes", "resume_on": "someday"},
            max_redirects=0,
        )
        assert bad.status == 422 and "resumption-resume_on-error" in bad.text(), bad.status
        bad = page.request.post(
            f"{sent_url}/resumption", form={"csrf_token": csrf, "resumes": "perhaps"}
        )
        assert bad.status == 422 and "resumption-resumes-error" in bad.text(), bad.status
        for path in (
            "/partners?language=zz9&category=nothing&partners_page=x&case_id=1",
            "/partners?service=a%0Ab&area=" + "x" * 300,
        ):
            assert page.request.get(system.base + path).status in (200, 422), path
        assert page.request.get(f"{system.base}/referrals/{uuid.uuid4()}").status == 404
        assert page.request.get(f"{system.base}/referrals/nonsense").status == 404
        assert page.request.get(f"{system.base}/cases/{case_id}/referrals/new?partner_id=x").ok
    finally:
        context.close()


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_a_referral_is_proposed_and_sent_in_dutch_and_french(
    system: System, browser: Any, screenshots: Path, language: str
) -> None:
    name = f"Taalhuis {uuid.uuid4().hex[:6]}"
    partner_id = register_partner(system, name, category="language", service="Nederlands")
    _, case_id, _ = referable_client(system, partner_id, f"Sanne-{language}")
    context = browser.new_context(locale=f"{language}-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, f"referral-{language}")
    try:
        sign_in_as_counsellor(visit, system.base, language)
        page.goto(f"{system.base}/cases/{case_id}/referrals/new?partner_id={partner_id}")
        assert page.locator("html").get_attribute("lang") == language
        label = page.locator("label[for='proposal-data_categories-contact']").inner_text()
        assert label == t(language, "%(data)s: not covered by the client's consent") % {
            "data": t(language, "contact details")
        }
        assert label != "contact details: not covered by the client's consent"
        assert page.locator("#coverage-contact .uncovered").inner_text() == t(
            language, "not covered"
        )
        visit.check("proposal")
        page.check("#proposal-data_categories-identity")
        page.fill("#proposal-reason", "Wil Nederlands leren voor het werk.")
        page.click("#proposal-submit")
        assert page.locator("#referral-status").inner_text() == t(language, "proposed")
        visit.check("proposed")
        page.click("#send-submit")
        assert page.locator("#referral-status").inner_text() == t(language, "sent")
        assert (
            t(language, "The referral is sent to the partner.") in page.locator("main").inner_text()
        )
        visit.check("sent")
    finally:
        context.close()
