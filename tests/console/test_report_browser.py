"""Session notes and the reflection-and-action report in a real browser against a real
system: a session recorded with its notes on the case page, the notes shown there and
amended on their own page (the earlier notes kept), the report drafted from them (the
insight taken over), completed, refused for agreement while incomplete (said above the
form), agreed by the client, printed (HTML and PDF). In French. axe-core on every page,
a screenshot of each."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.console.browsing import Visit, sign_in_as_counsellor
from tests.console.conftest import System
from tests.console.journey import accepted_case, agency_today, counsellor_api, post

pytestmark = pytest.mark.browser


def test_notes_make_the_report_the_client_agrees_to(
    system: System, browser: Any, screenshots: Path
) -> None:
    with counsellor_api(system) as api:
        _, case_id = accepted_case(api, "Inès", "Lambert", language="fr", question="Quel métier?")
        # A group session she missed: listed on her case page, with its topic only.
        group = post(
            api,
            "/intake/v1/groups",
            {
                "topic": "Rédiger un CV",
                "starts_at": "2026-01-06T10:00:00+01:00",
                "minutes": 90,
                "case_ids": [case_id],
            },
        )
        post(api, f"/intake/v1/groups/{group['group_id']}/held", {"attendance": []})
    context = browser.new_context(locale="fr-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, "report")
    try:
        sign_in_as_counsellor(visit, system.base, "fr")
        page.goto(f"{system.base}/cases/{case_id}")
        missed = page.locator("#group-sessions").inner_text()
        assert "Rédiger un CV" in missed and "Absent" in missed
        yesterday = agency_today() - timedelta(days=1)
        page.fill("#session-held_at", f"{yesterday.isoformat()}T10:00")
        page.fill("#session-minutes", "60")
        page.fill("#session-discussed", "Ses valeurs au travail.")
        page.fill("#session-insights", "L'autonomie compte plus que le salaire.")
        page.click("#session-submit")
        assert "done=session" in page.url
        notes = page.locator(".session-notes")
        assert "L'autonomie compte" in notes.inner_text()
        visit.check("case-with-notes")

        page.locator("a[id^='notes-link-']").click()
        assert page.locator("#notes-insights").input_value().startswith("L'autonomie")
        page.fill("#notes-homework", "Interroger une planificatrice.")
        page.click("#notes-submit")
        assert "done=notes" in page.url
        assert "Interroger une planificatrice." in page.locator(".session-notes").inner_text()
        page.locator("a[id^='notes-link-']").click()
        assert page.locator("#earlier-notes").count() == 1
        visit.check("notes-amended")

        page.goto(f"{system.base}/cases/{case_id}")
        page.click("#to-report")
        visit.check("no-report")
        page.click("#draft-submit")
        assert "/report/edit" in page.url and "done=report-drafted" in page.url
        assert page.locator("#report-starting_question").input_value() == "Quel métier?"
        assert "L'autonomie compte" in page.locator("#report-insights").input_value()
        visit.check("report-edit")
        page.click("#to-report-back")
        # Without conclusions and an action the client cannot agree yet.
        page.click("#agreement-submit")
        assert page.locator("#agreement-errors").count() == 1
        visit.check("agreement-refused")

        page.click("#to-report-edit")
        page.fill("#report-conclusions", "La planification logistique lui convient.")
        page.fill("#report-actions", "S'inscrire à la formation\nVisiter un entrepôt")
        page.click("#report-submit")
        assert "done=report-saved" in page.url
        assert page.locator("#report-actions li").count() == 2
        page.click("#agreement-submit")
        assert "done=report-agreed" in page.url
        assert page.locator("#report-agreements li").count() == 1
        assert page.locator("#agreement-submit").count() == 0
        visit.check("report-agreed")

        href = page.locator("#report-document-fr").get_attribute("href")
        assert href
        page.goto(system.base + href)
        assert "Rapport de réflexion et d'action" in page.content()
        assert "Visiter un entrepôt" in page.content()
        pdf = page.request.get(f"{system.base}/cases/{case_id}/report/document.pdf?lang=fr")
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")
    finally:
        context.close()
