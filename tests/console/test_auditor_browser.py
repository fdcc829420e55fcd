"""The auditor's pages in a real browser against a real system: a client with an
accepted case referred to a partner, who acknowledges, reads the packet, accepts and
reports the outcome (set up through the APIs, to save time); then the auditor finds the
case by its id (a malformed id refused at its field), reads its timeline across the
services in order, filters it by service and type, sees the case's state just before
and just after the partner's acceptance and before it began, checks every service's
chain, finds the partner's packet read in the client's access log, and downloads the
audit bundle, which the offline check accepts. Every page is read-only: no form posts
but the sign-out and the language switch. In English; a shorter pass in Dutch and in
French. axe-core on every page, a screenshot of each."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shared.audit import bundle
from tests.console.browsing import Visit, read_only, sign_in_as, t
from tests.console.conftest import System
from tests.console.journey import (
    accepted_case,
    counsellor_api,
    eventually,
    partner_api,
    post,
    propose_when_known,
    register_partner,
)

pytestmark = pytest.mark.browser

REFERRAL_STEPS = [
    "Referral.Proposed",
    "Referral.Sent",
    "Referral.Acknowledged",
    "Referral.Accepted",
    "Referral.OutcomeReported",
]


def answered_referral(system: System, given: str) -> tuple[str, str]:
    """A client with an accepted case (its plan opened in planning), referred to a new
    partner that acknowledged it, read its packet, accepted it and reported the outcome:
    (client_id, case_id)."""
    partner_id = register_partner(system, f"Schuldhulp {uuid.uuid4().hex[:6]}")
    with counsellor_api(system) as api:
        client_id, case_id = accepted_case(api, given, "Maes")
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
        eventually(api, "/planning/v1/plans", case_id=case_id)
        referral_id = propose_when_known(api, case_id, partner_id, ("identity", "career_question"))
        post(api, f"/referral/v1/referrals/{referral_id}/send", {})
    with partner_api(system, partner_id) as partner:
        here = f"/referral/v1/referrals/{referral_id}"
        post(partner, f"{here}/acknowledge", {})
        r = partner.get(f"{here}/packet")
        assert r.status_code == 200, r.text
        post(partner, f"{here}/accept", {})
        post(partner, f"{here}/outcome", {"outcome": "completed", "notes": "Budget in order."})
    return client_id, case_id


def sign_in_as_auditor(visit: Visit, base: str, language: str | None) -> None:
    sign_in_as(visit, base, "auditor", "/audit", language)


def checked(visit: Visit, name: str) -> None:
    read_only(visit.page)
    visit.check(name)


def types_shown(page: Any) -> list[str]:
    return [s.strip() for s in page.locator("#timeline .event-type").all_inner_texts()]


def test_an_auditor_replays_a_referred_case_checks_the_chains_and_the_reads(
    system: System, browser: Any, screenshots: Path
) -> None:
    client_id, case_id = answered_referral(system, "Lotte")
    context = browser.new_context(locale="en-GB", accept_downloads=True)
    page = context.new_page()
    visit = Visit(page, screenshots, "auditor-en")
    try:
        sign_in_as_auditor(visit, system.base, "en")
        assert page.locator("h1").inner_text() == "Audit"
        assert page.locator("nav.site-nav a[href='/audit']").get_attribute("aria-current")
        checked(visit, "find")

        # A malformed id is refused at its field, the input kept.
        page.fill("#case_id", "not-an-id")
        page.click("#find-submit")
        assert page.locator("#case_id-error").count() == 1
        assert page.locator("#case_id").get_attribute("aria-invalid") == "true"
        assert page.locator("#find-errors a[href='#case_id']").count() == 1
        assert page.locator("#find-errors h2").inner_text() == "Nothing could be shown"
        assert page.locator("#case_id").input_value() == "not-an-id"
        checked(visit, "find-refused")

        # The timeline: every service's events as one list, in order of time.
        page.fill("#case_id", case_id)
        page.click("#find-submit")
        assert page.url.endswith(f"/audit/cases/{case_id}")
        services = set(
            page.locator("#timeline tr.audit-event").evaluate_all(
                "rows => rows.map(r => r.dataset.service)"
            )
        )
        assert {"intake", "planning", "referral"} <= services, services
        moments = [
            datetime.fromisoformat(m)
            for m in page.locator("#timeline time").evaluate_all(
                "times => times.map(t => t.getAttribute('datetime'))"
            )
        ]
        assert moments == sorted(moments)
        types = types_shown(page)
        steps = [s for s in types if s in REFERRAL_STEPS]
        assert steps == REFERRAL_STEPS, types
        assert (
            types.index("Case.Opened")
            < types.index("Case.Accepted")
            < types.index("Referral.Proposed")
        ), types
        assert page.locator("#timeline .event-actor", has_text="c.jansen").count() > 0
        assert page.locator("#timeline .event-actor", has_text="p.partner").count() > 0
        assert all(len(h) == 16 for h in page.locator("#timeline .event-hash").all_inner_texts())
        assert page.locator("#to-client-access-log").get_attribute("href") == (
            f"/audit/access-log?client_id={client_id}"
        )
        checked(visit, "timeline")

        # Filtered by service, then by type.
        page.select_option("#filter-service", "referral")
        page.click("#filter-submit")
        rows = page.locator("#timeline tr.audit-event")
        assert rows.count() >= len(REFERRAL_STEPS)
        assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.service)")) == {"referral"}
        assert page.locator("#filter-service").input_value() == "referral"
        page.select_option("#filter-type", "Referral.Accepted")
        page.click("#filter-submit")
        assert types_shown(page) == ["Referral.Accepted"]
        checked(visit, "timeline-filtered")

        # The state just after the acknowledgement (before acceptance), then just after
        # the acceptance.
        page.select_option("#filter-type", "Referral.Acknowledged")
        page.click("#filter-submit")
        page.click("#timeline a.state-after")
        referral = page.locator("#state-referral table.aggregate[data-type='Referral']")
        status = referral.locator("tr[data-field='status'] .state-value")
        assert status.inner_text() == "acknowledged"
        checked(visit, "state-before-acceptance")
        page.go_back()
        page.select_option("#filter-type", "Referral.Accepted")
        page.click("#filter-submit")
        page.click("#timeline a.state-after")
        assert status.inner_text() == "accepted"
        checked(visit, "state-after-acceptance")

        # A moment before the case began: no service had any of its events.
        page.fill("#as_of", "2001-01-01T09:00")
        page.click("#as-of-submit")
        assert page.locator("section .no-state").count() == 4
        assert page.locator("#as_of").input_value().startswith("2001-01-01T09:00")
        checked(visit, "state-before-the-case")
        # (A browser's date-time field sends nothing else; an address can.)
        page.goto(f"{system.base}/audit/cases/{case_id}/state?as_of=yesterday")
        assert page.locator("#as_of-error").count() == 1
        assert page.locator("#state-errors a[href='#as_of']").count() == 1
        checked(visit, "state-refused")

        # The offline bundle, as `waypoint audit check` verifies it.
        with page.expect_download() as download:
            page.click("#to-bundle")
        saved = download.value
        assert saved.suggested_filename == f"audit-bundle-{case_id}.json"
        data = json.loads(Path(saved.path()).read_text())
        assert data["format"] == bundle.FORMAT and data["case_id"] == case_id
        assert {"intake", "referral"} <= set(data["services"])
        assert bundle.check(data) == []

        # Every service's chain, with its last signed checkpoint.
        page.click("nav.site-nav a[href='/audit/verify']")
        for service in bundle.SERVICES:
            assert page.locator(f"#chain-{service} .chain-result").inner_text().strip() == "intact"
        assert page.locator("#verify-summary").inner_text().strip() == "Every chain checks out."
        checked(visit, "verify")

        # The client's access log: the partner's packet read, and the auditor's own reads.
        page.click("nav.site-nav a[href='/audit']")
        page.fill("#client_id", client_id)
        page.click("#find-submit")
        assert page.locator("h1").inner_text() == f"Access log of client {client_id}"
        assert page.locator("#access-log tr.access[data-role='auditor']").count() > 0
        checked(visit, "access-log")
        # (The auditor's own reads come first: the partner's are in referral's log.)
        page.select_option("#access-service", "referral")
        page.click("#access-submit")
        assert page.locator("#client_id").input_value() == client_id
        services = set(
            page.locator("#access-log tr.access").evaluate_all(
                "rows => rows.map(r => r.dataset.service)"
            )
        )
        assert services == {"referral"}, services
        packet = page.locator("#access-log tr.access[data-resource='packet']")
        assert packet.count() == 1
        assert packet.locator(".access-actor").inner_text() == "p.partner"
        assert "Partner organisation" in packet.inner_text()
        assert "identity (name, date of birth)" in packet.inner_text()
        checked(visit, "access-log-referral")
    finally:
        context.close()


def test_an_auditor_reads_the_timeline_state_chains_and_access_log_in_dutch_and_french(
    system: System, browser: Any, screenshots: Path
) -> None:
    client_id, case_id = answered_referral(system, "Jef")
    for language in ("nl", "fr"):
        context = browser.new_context(locale=f"{language}-BE")
        page = context.new_page()
        visit = Visit(page, screenshots, f"auditor-{language}")
        try:
            sign_in_as_auditor(visit, system.base, language)
            assert page.locator("h1").inner_text() == t(language, "Audit")
            checked(visit, "find")
            page.fill("#case_id", case_id)
            page.click("#find-submit")
            assert page.locator("h1").inner_text() == t(language, "Timeline of case %(case)s") % {
                "case": case_id
            }
            assert [s for s in types_shown(page) if s in REFERRAL_STEPS] == REFERRAL_STEPS
            checked(visit, "timeline")
            page.click("#to-state")
            assert page.locator("#as-of-submit").inner_text() == t(language, "Show the state")
            checked(visit, "state")
            page.goto(f"{system.base}/audit/verify")
            assert page.locator("#verify-summary").inner_text().strip() == t(
                language, "Every chain checks out."
            )
            checked(visit, "verify")
            page.goto(f"{system.base}/audit/access-log?client_id={client_id}&service=referral")
            assert page.locator("#access-log tr.access[data-resource='packet']").count() == 1
            checked(visit, "access-log")
        finally:
            context.close()


def test_the_auditor_pages_work_without_javascript(
    system: System, browser: Any, screenshots: Path
) -> None:
    """The search is a plain GET form: it finds a case, and refuses a malformed id."""
    with counsellor_api(system) as api:
        _, case_id = accepted_case(api, "Ann", "Wouters")
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "auditor-no-js", axe=False)
    try:
        sign_in_as_auditor(visit, system.base, None)
        page.fill("#client_id", "12345")
        page.click("#find-submit")
        assert page.locator("#client_id-error").count() == 1
        checked(visit, "refused")
        page.fill("#client_id", "")
        page.fill("#case_id", case_id)
        page.click("#find-submit")
        assert page.url.endswith(f"/audit/cases/{case_id}")
        assert {"Case.Opened", "Case.Accepted"} <= set(types_shown(page))
        checked(visit, "timeline")
    finally:
        context.close()
