"""One referral through every role's console, in a real browser against a real system.

The counsellor finds the dev partner for an accepted case, proposes a referral with the
data the client consented to and sends it; the partner (signed in with its own session)
finds it new in its inbox, acknowledges it, reads the client's packet, accepts it and
reports the outcome; the team lead's network figure counts it, and its CSV says the same;
the auditor's timeline lists every step in order across the services, the state of the
referral just before and just after the acceptance, and the partner's packet read in the
client's access log, with no form that changes anything on any auditor's page. In
English (each role's own tests run every language); axe-core and a screenshot on every
page."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.browsing import Visit, read_only, reload_until, sign_in_as, sign_in_as_counsellor
from tests.console.conftest import System
from tests.console.journey import (
    accepted_case,
    counsellor_api,
    dev_partner_in_directory,
    post,
    token_of,
)

pytestmark = pytest.mark.browser

STEPS = [
    "Referral.Proposed",
    "Referral.Sent",
    "Referral.Acknowledged",
    "Referral.Accepted",
    "Referral.OutcomeReported",
]
PARTNER = "Leerwerkplaats Demo"  # the dev partner's name in the directory


def network_row(system: System) -> dict[str, Any]:
    """The team lead's network figures of the dev partner now, from the API (zeros when it
    had no referral in the period yet)."""
    lead = token_of(system, "t.peeters", ["team_lead"])
    r = httpx.get(
        system.base + "/referral/v1/reports/network",
        headers={"Authorization": f"Bearer {lead}"},
    )
    assert r.status_code == 200, r.text
    found = [p for p in r.json()["partners"] if p["name"] == PARTNER]
    return found[0] if found else {"referrals": 0, "accepted": 0, "outcomes": {}}


def same(in_csv: str, on_page: str) -> bool:
    """A CSV cell says what the table's cell says (numbers unformatted: 100.0 for 100)."""
    try:
        return float(in_csv) == float(on_page.replace(",", ""))
    except ValueError:
        return in_csv == on_page


def test_a_referral_travels_through_the_counsellor_partner_team_lead_and_auditor_consoles(
    system: System, browser: Any, screenshots: Path
) -> None:
    partner_id = dev_partner_in_directory(system)
    before = network_row(system)
    given = f"Sara{uuid.uuid4().hex[:4]}"
    with counsellor_api(system) as api:
        client_id, case_id = accepted_case(api, given, "Wouters", question="Work with my hands?")
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
    contexts = []
    try:
        # -- the counsellor proposes and sends ------------------------------------------------
        context = browser.new_context(locale="en-GB")
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page, screenshots, "journey-1-counsellor")
        sign_in_as_counsellor(visit, system.base, "en")
        page.goto(f"{system.base}/cases/{case_id}")
        page.click("#to-referral")
        page.select_option("#search-category", "training")
        page.click("#search-submit")
        page.click(f"#propose-{partner_id}")
        # Referral learns of the case and the consent from intake's events, within moments.
        reload_until(page, "#coverage-career_question .covered")
        visit.check("proposal")
        page.check("#proposal-data_categories-identity")
        page.check("#proposal-data_categories-career_question")
        page.fill("#proposal-reason", "Wants to learn a trade in a work placement.")
        page.click("#proposal-submit")
        assert page.locator("#referral-status").inner_text() == "proposed"
        page.click("#send-submit")
        assert page.locator("#referral-status").inner_text() == "sent"
        visit.check("sent")
        referral_id = page.url.split("?")[0].rsplit("/", 1)[1]
        uuid.UUID(referral_id)

        # -- the partner answers --------------------------------------------------------------
        context = browser.new_context(locale="en-GB")
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page, screenshots, "journey-2-partner")
        sign_in_as(visit, system.base, "partner", "/inbox", "en")
        mine = f"#inbox a[href='/inbox/referrals/{referral_id}']"
        reload_until(page, mine)  # new
        visit.check("inbox")
        page.click(mine)
        assert page.locator("#packet-name").inner_text() == f"{given} Wouters"
        assert page.locator("#packet-career-question").inner_text() == "Work with my hands?"
        assert page.locator("#packet-email").count() == 0  # contact details not consented
        page.click("#acknowledge-submit")
        assert page.locator("#referral-status").inner_text() == "acknowledged"
        page.click("#accept-submit")
        assert page.locator("#referral-status").inner_text() == "accepted"
        page.select_option("#outcome-outcome", "completed")
        page.fill("#outcome-notes", "Placement finished with a certificate.")
        page.click("#outcome-submit")
        assert page.locator("#referral-status").inner_text() == "outcome reported"
        visit.check("outcome")

        # -- the team lead's figure counts it -------------------------------------------------
        context = browser.new_context(locale="en-GB")
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page, screenshots, "journey-3-team-lead")
        sign_in_as(visit, system.base, "team_lead", "/dashboard", "en")
        completed = before["outcomes"].get("completed", 0) + 1
        expected = [str(before["referrals"] + 1), str(before["accepted"] + 1)]

        def counted() -> list[str] | None:
            rows = page.locator("#network-table tbody tr", has_text=PARTNER)
            if rows.count() != 1:
                return None
            cells = [c.strip() for c in rows.first.locator("th, td").all_inner_texts()]
            done = cells[1:3] == expected and f"completed: {completed}" in cells[-1]
            return cells if done else None

        deadline = time.monotonic() + 20
        while (shown := counted()) is None:
            assert time.monotonic() < deadline, page.locator("#network-table").inner_text()
            time.sleep(0.5)
            page.reload()
        visit.check("dashboard")
        href = page.locator("#network-csv").get_attribute("href")
        answer = page.request.get(system.base + str(href))
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
        rows = [r for r in csv.reader(io.StringIO(answer.text())) if r[0] == PARTNER]
        assert len(rows) == 1 and len(rows[0]) == len(shown), (rows, shown)
        for in_csv, on_page in zip(rows[0], shown, strict=True):
            assert same(in_csv, on_page), (rows[0], shown)

        # -- the auditor replays it -----------------------------------------------------------
        context = browser.new_context(locale="en-GB")
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page, screenshots, "journey-4-auditor")
        sign_in_as(visit, system.base, "auditor", "/audit", "en")
        page.fill("#case_id", case_id)
        page.click("#find-submit")
        types = [s.strip() for s in page.locator("#timeline .event-type").all_inner_texts()]
        assert [s for s in types if s.startswith("Referral.")] == STEPS, types
        assert types.index("Case.Accepted") < types.index("Referral.Proposed"), types
        services = page.locator("#timeline tr.audit-event").evaluate_all(
            "rows => rows.map(r => r.dataset.service)"
        )
        assert {"intake", "planning", "referral"} <= set(services), services
        moments = [
            datetime.fromisoformat(m)
            for m in page.locator("#timeline time").evaluate_all(
                "times => times.map(t => t.getAttribute('datetime'))"
            )
        ]
        assert moments == sorted(moments)
        read_only(page)
        visit.check("timeline")
        status = page.locator(
            "#state-referral table.aggregate[data-type='Referral'] "
            "tr[data-field='status'] .state-value"
        )
        for step, state in (("Acknowledged", "acknowledged"), ("Accepted", "accepted")):
            page.select_option("#filter-type", f"Referral.{step}")
            page.click("#filter-submit")
            page.click("#timeline a.state-after")
            assert status.inner_text() == state
            read_only(page)
            visit.check(f"state-after-{state}")
            page.go_back()
        page.goto(f"{system.base}/audit/access-log?client_id={client_id}&service=referral")
        # Each page of the referral the partner saw read the packet: each read is there.
        packet = page.locator("#access-log tr.access[data-resource='packet']")
        assert packet.count() >= 1
        assert set(packet.locator(".access-actor").all_inner_texts()) == {"p.partner"}
        assert all("Partner organisation" in row for row in packet.all_inner_texts())
        read_only(page)
        visit.check("access-log")
    finally:
        for context in contexts:
            context.close()
