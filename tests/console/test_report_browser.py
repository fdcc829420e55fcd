"""Session notes and the reflection-and-action report in a real browser against a real
system: group sessions planned, a participant added and one taken out, one held (a
participant absent, another present with their own notes, not shown on the first's case
page) and one cancelled; a session recorded with its notes on the case page, the notes
shown there and amended on their own page (the earlier notes kept), the report drafted
from them (the insight taken over), completed, refused for agreement while incomplete
(said above the form), agreed by the client, printed (HTML and PDF); an appointment
planned for a date the rhythm proposes (refused without its place first), moved and
cancelled, and the worklist's appointments of today. In French. axe-core on every page,
a screenshot of each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
        _, other_id = accepted_case(api, "Marc", "Dubois", language="fr")
    context = browser.new_context(locale="fr-BE")
    page = context.new_page()
    visit = Visit(page, screenshots, "report")
    try:
        sign_in_as_counsellor(visit, system.base, "fr")
        # Group sessions on their page: one planned with her, another client added, held
        # with her absent and him present with his own notes; another planned, a
        # participant taken out, cancelled.
        page.click("nav.site-nav a[href='/groups']")
        page.fill("#plan-topic", "Rédiger un CV")
        page.fill("#plan-starts_at", "2026-01-06T10:00")
        page.fill("#plan-minutes", "90")
        page.check(f"#plan-case_ids-{case_id}")
        page.click("#plan-submit")
        assert "done=group-planned" in page.url
        page.select_option("#add-case_id", other_id)
        page.click("#add-submit")
        assert "done=participant-added" in page.url
        assert "Marc Dubois" in page.locator("#participants").inner_text()
        visit.check("group-planned")
        page.check(f"#hold-present-{case_id}-no")
        page.fill(f"#hold-insights-{other_id}", "Son expérience de chantier compte.")
        page.click("#hold-submit")
        assert "done=group-held" in page.url
        assert page.locator("#hold-submit").count() == 0
        visit.check("group-held")
        page.goto(f"{system.base}/groups")
        page.fill("#plan-topic", "Le réseau")
        page.fill("#plan-starts_at", "2026-02-06T10:00")
        page.check(f"#plan-case_ids-{case_id}")
        page.click("#plan-submit")
        page.click(f"#remove-{case_id}")
        assert "done=participant-removed" in page.url
        assert page.locator("#participants-none").count() == 1
        page.click("#cancel-submit")
        assert "done=group-cancelled" in page.url
        page.goto(f"{system.base}/groups")
        assert page.locator("#groups tbody tr").count() >= 2
        visit.check("groups")

        # The session she missed is on her case page, with its topic only; his notes are not.
        page.goto(f"{system.base}/cases/{case_id}")
        missed = page.locator("#group-sessions").inner_text()
        assert "Rédiger un CV" in missed and "Absent" in missed
        assert "chantier" not in page.content()
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
        # A PDF renders in WeasyPrint, slower than a step on a loaded machine.
        pdf = page.request.get(
            f"{system.base}/cases/{case_id}/report/document.pdf?lang=fr", timeout=60_000
        )
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")

        # Appointments: one for a date the rhythm proposes (refused in person without a
        # place, said above the form), moved, cancelled with the reason shown.
        page.goto(f"{system.base}/cases/{case_id}")
        page.select_option("#appointment-kind", "deepening")
        page.select_option("#appointment-proposed", index=1)
        page.select_option("#appointment-channel", "in_person")
        page.click("#appointment-submit")
        assert page.locator("#appointment-errors").count() == 1
        visit.check("appointment-refused")
        page.fill("#appointment-place", "Bureau de Namur, salle 2")
        page.click("#appointment-submit")
        assert "done=appointment" in page.url
        assert page.locator("#appointment-list tbody tr").count() == 1
        visit.check("appointment-planned")
        actions = page.locator("details.appointment-actions")
        aid = (actions.get_attribute("id") or "").removeprefix("actions-")
        actions.locator("summary").click()
        later = agency_today() + timedelta(days=20)
        page.fill(f"#move-{aid}-starts_at", f"{later.isoformat()}T14:00")
        page.click(f"#move-{aid}-submit")
        assert "done=appointment-moved" in page.url
        page.locator(f"#actions-{aid} summary").click()
        page.select_option(f"#cancel-{aid}-by", "client")
        page.fill(f"#cancel-{aid}-reason", "Malade.")
        page.click(f"#cancel-{aid}-submit")
        assert "done=appointment-cancelled" in page.url
        assert "Malade." in page.locator("#appointment-list").inner_text()
        visit.check("appointment-cancelled")

        # The worklist shows the counsellor's appointments of today.
        soon = datetime.now(UTC) + timedelta(minutes=5)
        if soon.astimezone(ZoneInfo("Europe/Amsterdam")).date() == agency_today():
            body = {"kind": "synthesis", "starts_at": soon.isoformat(), "channel": "phone"}
            with counsellor_api(system) as api:
                post(api, f"/intake/v1/cases/{case_id}/appointments", body)
            page.goto(f"{system.base}/")
            link = page.locator(f"#todays-appointments a[href='/cases/{case_id}#appointments']")
            assert link.inner_text() == "Inès Lambert"
            visit.check("worklist-appointments")
    finally:
        context.close()
