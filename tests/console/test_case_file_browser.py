"""Closing a case's file and handing cases over, in a real browser against a real system
(#16 item 4): the team lead hands one case over on its page and all cases of a leaving
counsellor on the handover page (refused first without why); the dev counsellor finds
them on the worklist, reads who handed the case over and why, and closes the file with a
summary (refused first without it). The hours budget (#16 item 3): a case accepted with a
one-hour budget, most of it used, is flagged on the worklist and on its plan page; a
session past it is refused ("ask your team lead"); the team lead approves extra hours on
the case page (refused first without why), and the session fits. In English. axe-core on
every page, a screenshot of each."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.browsing import Visit, sign_in_as, sign_in_as_counsellor
from tests.console.conftest import System
from tests.console.journey import accepted_case, post, token_of

pytestmark = pytest.mark.browser


def test_a_team_lead_hands_cases_over_and_the_new_counsellor_closes_a_file(
    system: System, browser: Any, screenshots: Path
) -> None:
    leaving = f"c.leaving-{uuid.uuid4().hex[:6]}"
    token = token_of(system, leaving, ["counsellor"])
    with httpx.Client(base_url=system.base, headers={"Authorization": f"Bearer {token}"}) as api:
        _, lotte = accepted_case(api, "Lotte", "Overdracht")
        _, mats = accepted_case(api, "Mats", "Overdracht")
        # A one-hour budget (not the default: with why), 50 minutes of it used.
        one_hour = {"hours_budget": 1, "budget_reason": "A short programme."}
        _, noor = accepted_case(api, "Noor", "Budget", budget=one_hour)
        held = "2026-01-05T10:00:00+00:00"
        session = {"kind": "deepening", "held_at": held, "minutes": 50}
        post(api, f"/intake/v1/cases/{noor}/sessions", session)
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "case-file")
    try:
        sign_in_as(visit, system.base, "team_lead", "/dashboard", "en")
        page.goto(f"{system.base}/cases/{lotte}")
        assert page.locator("#case-counsellor").inner_text() == leaving
        page.fill("#handover-counsellor", "c.jansen")
        page.fill("#handover-reason", "Leaves the team in June.")
        page.click("#handover-submit")
        assert "done=handover" in page.url
        assert page.locator("#case-counsellor").inner_text() == "c.jansen"
        visit.check("case-handed-over")

        page.goto(system.base + "/dashboard")
        page.click("#to-handover")
        page.select_option("#handover-from_counsellor", leaving)
        page.fill("#handover-to_counsellor", "c.jansen")
        page.click("#handover-submit")
        assert page.locator("#handover-reason-error").count() == 1
        visit.check("handover-refused")
        page.fill("#handover-reason", "Leaves the team in June.")
        page.click("#handover-submit")
        assert "done=2" in page.url, page.url  # Mats and Noor
        assert page.locator(f"#handover-from_counsellor option[value='{leaving}']").count() == 0
        visit.check("handover-done")
        page.click("#sign-out")

        sign_in_as_counsellor(visit, system.base, "en")
        cases = page.locator("table", has_text="Opened on").inner_text()
        assert "Lotte Overdracht" in cases and "Mats Overdracht" in cases
        page.click(f"a[href='/cases/{mats}']")
        assert "Leaves the team in June." in page.locator("#handovers").inner_text()
        page.check("#closing-reason-client_withdrew")
        page.click("#closing-submit")
        assert page.locator("#closing-summary-error").count() == 1
        visit.check("closing-refused")
        page.check("#closing-reason-client_withdrew")
        page.fill("#closing-summary", "Found work nearby; no further guidance wanted.")
        page.click("#closing-submit")
        assert "done=closing" in page.url
        assert "The client withdrew" in page.locator("#closing-result").inner_text()
        assert "Found work nearby" in page.locator("#closing-summary").inner_text()
        visit.check("closed")

        # The hours budget: flagged on the worklist and the plan page; past it, refused.
        page.goto(system.base + "/")
        assert page.locator(f"#budget-flag-{noor}").inner_text() == "budget nearly used"
        page.goto(f"{system.base}/cases/{noor}/plan")
        assert "budget nearly used" in page.locator("#plan-budget").inner_text()
        visit.check("plan-budget")
        page.goto(f"{system.base}/cases/{noor}")
        assert "Most of the hours budget is used." in page.locator("#budget-state").inner_text()
        page.select_option("#session-kind", "deepening")
        page.fill("#session-held_at", "2026-01-12T10:00")
        page.fill("#session-minutes", "30")
        page.click("#session-submit")
        assert "ask your team lead" in page.locator("#session-errors").inner_text()
        assert page.locator("#extra-hours-submit").count() == 0  # a counsellor's page
        visit.check("session-over-budget")
        page.click("#sign-out")

        sign_in_as(visit, system.base, "team_lead", "/dashboard", "en")
        page.goto(f"{system.base}/cases/{noor}")
        page.fill("#extra-hours-hours", "1")
        page.click("#extra-hours-submit")
        assert page.locator("#extra-hours-reason-error").count() == 1
        visit.check("extra-hours-refused")
        page.fill("#extra-hours-reason", "Two short sessions to finish the plan.")
        page.click("#extra-hours-submit")
        assert "done=extra-hours" in page.url
        assert "Two short sessions" in page.locator("#budget-extensions").inner_text()
        assert page.locator("#budget-state").count() == 0  # 50 of 120 minutes: ok
        visit.check("extra-hours-approved")
    finally:
        context.close()
