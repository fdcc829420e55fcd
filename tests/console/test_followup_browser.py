"""The counsellor's follow-up and the client's privacy in a real browser against a real
system: from a plan agreed (set up through the APIs, to save time) to the follow-up (a
contact, an action check, an outcome dated before the acceptance refused at its date, a
valid outcome, the feedback, closed); then the client's export downloaded and the erasure,
confirmed, with its receipt. In English; axe-core on every page, a screenshot of each."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date

from tests.console.browsing import Visit, sign_in_as_counsellor, t
from tests.console.conftest import System
from tests.console.journey import agency_today, agreed_plan_of, token_of

pytestmark = pytest.mark.browser


def agreed_plan(system: System) -> tuple[str, str]:
    """A client of the dev counsellor whose case was accepted and plan (one goal, one
    action) agreed by both parties, and its follow-up opened: (client_id, case_id)."""
    client_id, case_id, _ = agreed_plan_of(
        system.base, token_of(system, "c.jansen", ["counsellor"])
    )
    return client_id, case_id


def test_a_counsellor_follows_up_a_plan_to_its_close_then_exports_and_erases_the_client(
    system: System, browser: Any, screenshots: Path
) -> None:
    client_id, case_id = agreed_plan(system)
    context = browser.new_context(locale="en-GB", accept_downloads=True)
    page = context.new_page()
    visit = Visit(page, screenshots, "followup-en")
    today = date.today()
    try:
        sign_in_as_counsellor(visit, system.base, "en")
        page.goto(f"{system.base}/cases/{case_id}")
        page.click("#to-followup")
        assert page.url.endswith(f"/cases/{case_id}/followup")
        assert page.locator("#followup-status").inner_text() == "open"
        assert page.locator("#checkins-table tbody tr").count() == 3
        visit.check("followup")

        page.select_option("#contact-channel", "phone")
        page.check("#contact-reached-yes")
        page.fill("#contact-notes", "Started asking around; doing well.")
        page.click("#contact-submit")
        assert "The contact is recorded." in page.locator("main").inner_text()
        assert "Started asking around" in page.locator("#contacts-table").inner_text()

        page.select_option("#check-action_id", index=1)
        page.check("#check-status-partly")
        page.fill("#check-bottleneck", "One colleague has not answered yet.")
        page.click("#check-submit")
        row = page.locator("#actions-table tbody tr")
        assert "partly realised" in row.inner_text()
        assert "One colleague has not answered yet." in row.inner_text()
        assert (
            page.locator("#bottlenecks li")
            .inner_text()
            .endswith(
                "an action stalls (Ask two former colleagues for an introduction): "
                "One colleague has not answered yet."
            )
        )
        visit.check("contact-and-check")

        # The bottleneck is on the worklist (once the read model has it), linked back here.
        page.goto(system.base + "/")
        stuck = page.locator("#bottlenecks tbody tr", has_text="One colleague has not answered")
        deadline = time.monotonic() + 20
        while stuck.count() == 0:
            assert time.monotonic() < deadline, "the bottleneck is not on the worklist"
            time.sleep(0.3)
            page.reload()
        assert stuck.inner_text().startswith(format_date(agency_today(), "medium", locale="en"))
        assert "an action stalls" in stuck.inner_text()
        assert "Noor Claes" in stuck.inner_text()  # the client by name
        visit.check("worklist-bottleneck")
        stuck.get_by_role("link", name="Follow-up").click()
        assert page.url.endswith(f"/cases/{case_id}/followup#check")

        # A to-do agreed in the follow-up: refused without its goal (the input kept), then
        # agreed; planning adds it to the plan as an action, which the plan page marks.
        page.fill("#todo-description", "Visit the logistics job fair")
        page.click("#todo-submit")
        assert page.locator("#todo-goal_id-error").inner_text().strip() == (
            "Choose the goal of the plan the to-do belongs to."
        )
        assert page.locator("#todo-description").input_value() == "Visit the logistics job fair"
        visit.check("todo-refused")
        page.select_option("#todo-goal_id", index=1)
        page.select_option("#todo-owner", "counsellor")
        page.fill("#todo-due_date", str(today + timedelta(days=20)))
        page.click("#todo-submit")
        assert "The to-do is agreed" in page.locator("main").inner_text()
        todo = page.locator("#todos-table tbody tr")
        assert todo.count() == 1
        assert "Visit the logistics job fair" in todo.inner_text()
        assert "Build a network in logistics" in todo.inner_text()
        deadline = time.monotonic() + 20
        while not (
            "an action, open" in todo.inner_text()
            and page.locator("#actions-table tbody tr").count() == 2
            and page.locator("#followup-plan-status").inner_text() == "revised, to be agreed again"
        ):
            assert time.monotonic() < deadline, "the to-do did not come back as a plan action"
            time.sleep(0.3)
            page.reload()
        visit.check("todo-in-the-plan")
        todo.get_by_role("link").click()
        action = page.locator("article.goal tbody tr", has_text="Visit the logistics job fair")
        assert "a to-do agreed in the follow-up on" in action.inner_text()
        assert "the counsellor" in action.inner_text()
        other = page.locator("article.goal tbody tr", has_text="Ask two former colleagues")
        assert "in the follow-up" not in other.inner_text()
        visit.check("plan-with-todo")
        page.goto(f"{system.base}/cases/{case_id}/followup")

        # An outcome dated before the acceptance: refused at its date, the input kept.
        page.select_option("#outcome-outcome", "employed")
        page.select_option("#outcome-contract", "fixed_term")
        page.fill("#outcome-on", str(today - timedelta(days=3)))
        page.click("#outcome-submit")
        assert page.locator("#outcome-on-error").inner_text().strip() == (
            "Enter the outcome's date: not in the future, not before the case was accepted."
        )
        assert page.locator("#outcome-on").get_attribute("aria-invalid") == "true"
        assert page.locator("#outcome-outcome").input_value() == "employed"
        assert page.locator("#outcome-contract").input_value() == "fixed_term"
        visit.check("outcome-refused")
        page.fill("#outcome-on", str(today))
        page.click("#outcome-submit")
        result = page.locator("#outcome-result").inner_text()
        assert result.startswith("employed, on ") and result.endswith("(fixed-term contract)")

        page.select_option("#feedback-satisfaction", "4")
        page.check("#feedback-self_knowledge_improved-yes")
        page.check("#feedback-confidence_improved-yes")
        page.fill("#feedback-comments", "The talks helped most.")
        page.click("#feedback-submit")
        assert page.locator("#followup-status").inner_text() == "closed"
        assert (
            page.locator("#followup-closed-by")
            .inner_text()
            .startswith("the feedback, with the outcome recorded")
        )
        assert page.locator("#followup-closure-reason").inner_text() == "completed"
        assert page.locator("#contact-submit").count() == 0  # closed: no more forms
        visit.check("closed")

        # Privacy: the export as a file, then the erasure, confirmed, and its receipt.
        page.goto(f"{system.base}/clients/{client_id}")
        visit.check("client")
        with page.expect_download() as download:
            page.click("#export")
        saved = download.value
        assert saved.suggested_filename == f"client-{client_id}.json"
        document = json.loads(Path(saved.path()).read_text())
        assert "Noor" in json.dumps(document)

        page.fill("#erasure-reason", "The client asked for erasure by letter.")
        page.click("#erasure-submit")
        assert page.locator("#erasure-warning").count() == 1
        assert page.locator("#erasure-reason").input_value() == (
            "The client asked for erasure by letter."
        )
        visit.check("erasure-confirm")
        page.click("#erasure-confirm")
        assert page.url.endswith(f"/clients/{client_id}/erasure")
        deadline = time.monotonic() + 20
        while page.locator("#erasure-status").inner_text() != "completed":
            assert time.monotonic() < deadline, "the erasure was not confirmed everywhere"
            time.sleep(0.5)
            page.click("#reload-receipt")
        services = page.locator("#erasure-services tbody tr")
        assert services.count() == 4
        assert all("confirmed on" in services.nth(i).inner_text() for i in range(4))
        visit.check("erasure-receipt")
    finally:
        context.close()


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_follow_up_closes_and_the_export_downloads_in_dutch_and_french(
    system: System, browser: Any, screenshots: Path, language: str
) -> None:
    # The English journey above checks each form's refusals; here: its pages, outcome,
    # feedback and the export in the other two languages, axe on each.
    client_id, case_id = agreed_plan(system)
    context = browser.new_context(locale=f"{language}-BE", accept_downloads=True)
    page = context.new_page()
    visit = Visit(page, screenshots, f"followup-{language}")
    try:
        sign_in_as_counsellor(visit, system.base, language)
        page.goto(f"{system.base}/cases/{case_id}/followup")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("#followup-status").inner_text() == t(language, "open")
        visit.check("followup")
        page.select_option("#outcome-outcome", "employed")
        page.fill("#outcome-on", str(date.today()))
        page.click("#outcome-submit")
        page.select_option("#feedback-satisfaction", "5")
        page.check("#feedback-self_knowledge_improved-yes")
        page.check("#feedback-confidence_improved-no")
        page.click("#feedback-submit")
        assert page.locator("#followup-status").inner_text() == t(language, "closed")
        assert (
            page.locator("#followup-closed-by")
            .inner_text()
            .startswith(t(language, "the feedback, with the outcome recorded"))
        )
        visit.check("closed")
        page.goto(f"{system.base}/clients/{client_id}")
        visit.check("client")
        with page.expect_download() as download:
            page.click("#export")
        assert download.value.suggested_filename == f"client-{client_id}.json"
        assert "Noor" in Path(download.value.path()).read_text()
    finally:
        context.close()
