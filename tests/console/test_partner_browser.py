"""The partner's pages in a real browser against a real system: the dev partner (in the
directory under the id its sign-in carries) signs in and lands on its inbox; a referral a
counsellor proposed and sent (through the APIs, to save time) is new there; the partner
opens it and reads the client's packet (only the consented data), acknowledges it,
is asked for a reason when declining without one, accepts it and reports the outcome
with notes, which the counsellor then reads; it sets its own open places. A referral to
another partner is not found, nor listed; once the client withdraws the consent, the
referral says so and shows no data. In English; a shorter pass in Dutch and in French.
axe-core on every page, a screenshot of each."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.console.browsing import Visit, reload_until, sign_in_as, t
from tests.console.conftest import System
from tests.console.journey import (
    accepted_case,
    counsellor_api,
    dev_partner_in_directory,
    post,
    propose_when_known,
    register_partner,
)

pytestmark = pytest.mark.browser

SHARED = ["identity", "contact", "career_question", "assessments"]


def sent_referral(
    system: System, partner_id: str, given: str, categories: list[str] = SHARED
) -> tuple[str, str]:
    """A client with an accepted case and a referral consent for the partner covering
    `categories`, and a referral with them proposed and sent: (client_id, referral_id)."""
    with counsellor_api(system) as api:
        client_id, case_id = accepted_case(api, given, "Peeters", question="Which trade suits me?")
        post(
            api,
            f"/intake/v1/clients/{client_id}/consents",
            {
                "purpose": "referral",
                "partner_id": partner_id,
                "data_categories": categories,
                "granted": True,
            },
        )
        referral_id = propose_when_known(
            api, case_id, partner_id, tuple(categories), "Wants to learn a trade on the job."
        )
        post(api, f"/referral/v1/referrals/{referral_id}/send", {})
    return str(client_id), referral_id


def sign_in_as_partner(visit: Visit, base: str, language: str | None) -> None:
    sign_in_as(visit, base, "partner", "/inbox", language)


def test_a_partner_reads_acknowledges_accepts_and_reports_a_referral(
    system: System, browser: Any, screenshots: Path
) -> None:
    partner_id = dev_partner_in_directory(system)
    _, referral_id = sent_referral(system, partner_id, "Lotte")
    other = register_partner(system, f"Elders {uuid.uuid4().hex[:6]}")
    _, elsewhere = sent_referral(system, other, "Jonas", ["identity"])
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "partner-en")
    mine = f"a[href='/inbox/referrals/{referral_id}']"
    try:
        sign_in_as_partner(visit, system.base, "en")
        assert page.locator("h1").inner_text() == "Inbox"
        assert page.locator("#inbox-new").get_attribute("aria-current") == "page"
        assert page.locator(f"#inbox {mine}").count() == 1  # new
        row = page.locator("#inbox tbody tr", has=page.locator(mine))
        assert "sent" in row.inner_text() and "career question" in row.inner_text()
        assert elsewhere not in page.content()
        visit.check("inbox")

        page.click(f"#inbox {mine}")
        assert page.locator("#referral-status").inner_text() == "sent"
        assert page.locator("#referral-reason").inner_text() == (
            "Wants to learn a trade on the job."
        )
        assert page.locator("#packet-name").inner_text() == "Lotte Peeters"
        assert page.locator("#packet-email").inner_text() == "lotte.peeters@example.org"
        assert page.locator("#packet-career-question").inner_text() == "Which trade suits me?"
        assert page.locator("#packet-assessments tbody tr").count() == 5
        assert page.locator("#packet-plan").count() == 0  # not consented, not shown
        visit.check("referral")

        page.click("#acknowledge-submit")
        assert page.locator("#referral-status").inner_text() == "acknowledged"
        assert "You confirmed that you have seen the referral." in page.inner_text("main")
        assert page.locator("#acknowledge-submit").count() == 0
        visit.check("acknowledged")

        page.click("#decline-submit")  # no reason: asked for one, nothing changed
        assert page.locator("#decline-reason-error").inner_text().strip() == (
            "Give the reason for declining (at most 4000 characters)."
        )
        assert page.locator("#decline-reason").get_attribute("aria-invalid") == "true"
        assert page.locator("#referral-status").inner_text() == "acknowledged"
        visit.check("decline-refused")

        page.goto(system.base + "/inbox?show=in_progress")
        assert page.locator(f"#inbox {mine}").count() == 1
        page.goto(system.base + "/inbox?show=new")
        assert page.locator(f"#inbox {mine}").count() == 0
        page.goto(f"{system.base}/inbox/referrals/{referral_id}")
        page.click("#accept-submit")
        assert page.locator("#referral-status").inner_text() == "accepted"
        assert page.locator("#accept-submit").count() == 0
        assert page.locator("#decline-submit").count() == 0
        visit.check("accepted")

        page.click("#outcome-submit")  # no outcome chosen
        assert page.locator("#outcome-outcome-error").count() == 1
        page.select_option("#outcome-outcome", "completed")
        page.fill("#outcome-notes", "Finished the placement with a certificate.")
        page.click("#outcome-submit")
        assert page.locator("#referral-status").inner_text() == "outcome reported"
        assert page.locator("#referral-outcome").inner_text() == "completed"
        assert page.locator("#outcome-submit").count() == 0
        assert page.locator("#packet-name").count() == 1  # still shared after the outcome
        visit.check("outcome")
        with counsellor_api(system) as api:
            seen = api.get(f"/referral/v1/referrals/{referral_id}").json()
        assert seen["outcome"]["outcome"] == "completed"
        assert seen["outcome"]["notes"] == "Finished the placement with a certificate."

        page.goto(system.base + "/inbox?show=answered")
        assert page.locator(f"#inbox {mine}").count() == 1
        visit.check("inbox-answered")

        # Nothing of a referral sent to another partner: not found, not listed.
        page.goto(system.base + "/inbox?show=all")
        assert elsewhere not in page.content()
        answer = page.goto(f"{system.base}/inbox/referrals/{elsewhere}")
        assert answer is not None and answer.status == 404
        assert page.locator("h1").inner_text() == "Page not found"
        assert "Jonas" not in page.content()
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        refused = page.request.post(
            f"{system.base}/inbox/referrals/{elsewhere}/accept",
            form={"csrf_token": csrf},
            max_redirects=0,
        )
        assert refused.status == 404, refused.status
        assert "Jonas" not in refused.text()
        with counsellor_api(system) as api:
            assert api.get(f"/referral/v1/referrals/{elsewhere}").json()["status"] == "sent"

        # Forms without JavaScript: a stale answer is refused with the state now; no
        # CSRF token, nothing done.
        done = page.request.post(
            f"{system.base}/inbox/referrals/{referral_id}/accept",
            form={"csrf_token": csrf},
            max_redirects=0,
        )
        assert done.status in (409, 422), done.status
        assert "not awaiting your answer any more" in done.text()
        no_token = page.request.post(
            f"{system.base}/inbox/referrals/{referral_id}/decline",
            form={"reason": "x"},
            max_redirects=0,
        )
        assert no_token.status == 403, no_token.status

        # The partner's own open places.
        page.click("nav.site-nav a[href='/inbox/places']")
        assert page.locator("h1").inner_text() == "Open places"
        assert page.locator("#places-now").inner_text() == "Now: no limit."
        assert page.locator("#places-open_places").input_value() == ""
        visit.check("places")
        page.fill("#places-open_places", "many")
        page.click("#places-submit")
        assert page.locator("#places-open_places-error").count() == 1
        assert page.locator("#places-open_places").input_value() == "many"
        visit.check("places-refused")
        page.fill("#places-open_places", "3")
        page.click("#places-submit")
        assert "Your open places are set to 3." in page.inner_text("main")
        assert page.locator("#places-now").inner_text() == "Now: 3 open places."
        assert page.locator("#places-open_places").input_value() == "3"
        with counsellor_api(system) as api:
            assert api.get(f"/referral/v1/partners/{partner_id}").json()["open_places"] == 3
        page.fill("#places-open_places", "")
        page.click("#places-submit")
        assert "Your open places are set to no limit." in page.inner_text("main")
        with counsellor_api(system) as api:
            assert api.get(f"/referral/v1/partners/{partner_id}").json()["open_places"] is None
        visit.check("places-set")

        # The client withdraws the consent: said so, and nothing of their data shown.
        client_of, revoked = sent_referral(system, partner_id, "Mila")
        with counsellor_api(system) as api:
            post(
                api,
                f"/intake/v1/clients/{client_of}/consents",
                {"purpose": "referral", "partner_id": partner_id, "granted": False},
            )
        page.goto(f"{system.base}/inbox/referrals/{revoked}")
        reload_until(page, "#consent-withdrawn")
        assert page.locator("#packet").count() == 0
        assert "Mila" not in page.inner_text("main")
        visit.check("consent-withdrawn")
        page.goto(system.base + "/inbox?show=all")
        reload_until(page, f"#inbox tr:has(a[href='/inbox/referrals/{revoked}']) .consent-revoked")
        visit.check("inbox-all")
        page.click("#inbox-consent_revoked")
        assert page.locator(f"#inbox a[href='/inbox/referrals/{revoked}']").count() == 1
        assert page.locator(f"#inbox {mine}").count() == 0  # its consent stands
        visit.check("inbox-consent-withdrawn")
    finally:
        context.close()


def test_the_partner_pages_are_a_partners(system: System, browser: Any) -> None:
    """A counsellor finds no inbox: it reads as absent."""
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(system.base + "/sign-in")
        page.click("#sign-in-counsellor")
        for path in ("/inbox", "/inbox/places", f"/inbox/referrals/{uuid.uuid4()}"):
            answer = page.goto(system.base + path)
            assert answer is not None and answer.status == 404, path
    finally:
        context.close()


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_a_partner_answers_a_referral_in_dutch_and_french(
    system: System, browser: Any, screenshots: Path, language: str
) -> None:
    partner_id = dev_partner_in_directory(system)
    _, referral_id = sent_referral(system, partner_id, f"Sanne-{language}")
    context = browser.new_context(locale=f"{language}-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, f"partner-{language}")
    try:
        sign_in_as_partner(visit, system.base, language)
        assert page.locator("h1").inner_text() == t(language, "Inbox")
        visit.check("inbox")
        page.click(f"#inbox a[href='/inbox/referrals/{referral_id}']")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("#packet-heading").inner_text() == t(
            language, "The client's data you may read"
        )
        visit.check("referral")
        page.click("#acknowledge-submit")
        assert page.locator("#referral-status").inner_text() == t(language, "acknowledged")
        page.click("#accept-submit")
        assert page.locator("#referral-status").inner_text() == t(language, "accepted")
        assert t(language, "You accepted the referral.") in page.inner_text("main")
        visit.check("accepted")
        page.goto(system.base + "/inbox/places")
        assert page.locator("h1").inner_text() == t(language, "Open places")
        visit.check("places")
    finally:
        context.close()
