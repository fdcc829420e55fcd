"""Rights and duties and complaints in a real browser against a real system: a new
client is flagged as not informed until the counsellor records it (version, language);
a complaint registered on the client's page, refused first without its text; the team
lead finds it on the complaints page, takes it on, sees the period's figures, and
answers it on the client's page. In English. axe-core on every page, a screenshot of
each."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.console.browsing import Visit, register, sign_in_as, sign_in_as_counsellor
from tests.console.conftest import System

pytestmark = pytest.mark.browser


def test_a_client_informed_of_rights_and_a_complaint_answered(
    system: System, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "complaints")
    try:
        sign_in_as_counsellor(visit, system.base, "en")
        page.click("nav a[href='/clients/new']")
        register(visit, "en", "Romy", "romy@example.org")
        assert re.search(r"/clients/[0-9a-f-]{36}", page.url), page.url
        client_url = page.url.split("?")[0]
        assert page.locator("#rights-not-informed").count() == 1
        visit.check("not-informed")

        page.select_option("#rights-language", "fr")
        page.click("#rights-submit")
        assert "done=rights" in page.url
        informed = page.locator("#rights-informed").inner_text()
        assert "2026-01" in informed and "French" in informed
        assert page.locator("#rights-not-informed").count() == 0

        # Without its text the API refuses the complaint: said at the field.
        page.click("#complaint-submit")
        assert page.locator("#complaint-subject-error").count() == 1
        assert page.locator("#complaint-errors h2").inner_text() == "The form could not be saved"
        visit.check("complaint-refused")
        page.fill("#complaint-subject", "My appointment was cancelled twice.")
        page.click("#complaint-submit")
        assert "done=complaint" in page.url
        assert "cancelled twice" in page.locator(".complaint-subject").inner_text()
        visit.check("complaint")
        page.click("#sign-out")

        sign_in_as(visit, system.base, "team_lead", "/dashboard", "en")
        page.click("nav a[href='/complaints']")
        visit.check("complaints")
        row = page.locator("#complaints tr", has_text="Romy")
        assert row.count() == 1
        row.locator("button[id^='assignment-']").click()
        assert "done=complaint-assigned" in page.url
        row = page.locator("#complaints tr", has_text="Romy")
        row.locator("button[id^='handling-']").click()
        assert "done=complaint-handling" in page.url
        assert int(page.locator("#figure-in_handling").inner_text()) >= 1
        visit.check("complaints-taken")

        page.goto(client_url)
        page.locator("textarea[id$='-answer']").fill("We apologise; one fixed counsellor now.")
        page.locator("button[id^='answer-'][id$='-submit']").click()
        assert "done=complaint-answered" in page.url
        assert "We apologise" in page.locator(".complaint-answer").inner_text()
        visit.check("answered")
    finally:
        context.close()
