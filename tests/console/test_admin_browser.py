"""The admin's pages in a real browser against a real system: the directory admin lands
on the partner directory, registers a partner (a form with missing and wrong fields
refused at them first, the input kept), changes its details and services, meets a
version conflict (someone else changed the partner meanwhile: said so, the partner as it
is now shown, the input kept, then saved), sets its open places, deactivates and
reactivates it; the admin finds the dead letters of each service with nothing to
re-drive, and a re-drive of a letter that does not exist refused. In English; a shorter
pass in Dutch and in French. axe-core on every page, a screenshot of each."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.browsing import Visit, sign_in_as, t
from tests.console.conftest import System
from tests.console.journey import token_of

pytestmark = pytest.mark.browser


def directory_admin(system: System) -> httpx.Client:
    """The APIs as the network's directory admin (someone else at another desk)."""
    token = token_of(system, "d.other", ["directory_admin"])
    return httpx.Client(base_url=system.base, headers={"Authorization": f"Bearer {token}"})


def test_a_directory_admin_registers_changes_and_deactivates_a_partner(
    system: System, browser: Any, screenshots: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    name = f"Schuldhulp {suffix}"
    housing = f"Housing advice {suffix}"
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "admin-en")
    try:
        sign_in_as(visit, system.base, "directory_admin", "/directory", "en")
        assert page.locator("h1").inner_text() == "Partner directory"
        nav = page.locator("nav.site-nav")
        assert nav.get_by_role("link", name="Partner directory").get_attribute("aria-current") == (
            "page"
        )
        assert nav.get_by_role("link", name="Dead letters").count() == 0  # admins' only
        assert nav.get_by_role("link", name="Worklist").count() == 0
        visit.check("directory")

        # Nothing but a description and a wrong number of places: refused at the fields.
        page.click("#to-register")
        assert page.locator("h1").inner_text() == "Register a partner"
        visit.check("register")
        page.fill("#register-description", "Debt counselling and budget coaching.")
        page.fill("#register-capacity", "-3")
        page.click("#register-submit")
        assert page.locator("#register-errors").count() == 1
        assert "Enter the partner's name" in page.locator("#register-name-error").inner_text()
        assert page.locator("#register-name").get_attribute("aria-invalid") == "true"
        assert "whole number" in page.locator("#register-capacity-error").inner_text()
        assert "at least one service" in page.locator("#register-services-error").inner_text()
        assert page.locator("#register-description").input_value() == (
            "Debt counselling and budget coaching."
        )
        assert page.locator("#register-capacity").input_value() == "-3"
        # Each message of the summary leads to its field.
        link = page.locator("#register-errors a[href='#register-name']")
        assert link.count() == 1
        visit.check("register-refused")

        page.fill("#register-name", name)
        page.fill("#register-contact_email", "intake@schuldhulp.example.org")
        page.check("#register-accepted_categories-identity")
        page.check("#register-accepted_categories-contact")
        page.fill("#register-capacity", "5")
        page.fill("#register-services-0-name", "Budget coaching")
        page.select_option("#register-services-0-category", "debt")
        page.check("#register-services-0-languages-nl")
        page.check("#register-services-0-languages-fr")
        page.fill("#register-services-0-area", "Gent")
        page.fill("#register-services-1-name", "Debt mediation")
        page.select_option("#register-services-1-category", "debt")
        page.click("#register-submit")
        assert "/directory/" in page.url and "done=registered" in page.url
        partner_id = page.url.split("?")[0].rsplit("/", 1)[1]
        assert "The partner is registered." in page.locator("main").inner_text()
        assert page.locator("h1").inner_text() == name
        assert page.locator("#partner-status").inner_text() == "active: counsellors find it"
        assert page.locator("#partner-open-places").inner_text() == "5"
        assert page.locator("#partner-data").inner_text() == (
            "identity (name, date of birth), contact details"
        )
        services = page.locator("#partner-services tbody tr")
        assert services.count() == 2
        assert "Dutch, French" in services.nth(0).inner_text()
        assert "Gent" in services.nth(0).inner_text()
        # The edit form holds the services, and an empty row to add one.
        assert page.locator("#edit-services-0-name").input_value() == "Budget coaching"
        assert page.locator("#edit-services-0-languages-fr").is_checked()
        assert page.locator("#edit-services-2-name").input_value() == ""
        visit.check("registered")

        # One service removed, one added, the contact changed.
        page.check("#edit-services-1-remove")
        page.fill("#edit-services-2-name", housing)
        page.select_option("#edit-services-2-category", "housing")
        page.fill("#edit-contact_email", "aanmelding@schuldhulp.example.org")
        page.click("#edit-submit")
        assert "done=edit" in page.url
        assert "The partner's details are saved." in page.locator("main").inner_text()
        assert page.locator("#partner-contact").inner_text() == (
            "aanmelding@schuldhulp.example.org"
        )
        names = page.locator("#partner-services tbody tr td:first-child").all_inner_texts()
        assert names == ["Budget coaching", housing]
        visit.check("edited")

        # A service without a name is refused at its row's field, the input kept.
        page.fill("#edit-services-1-name", "")
        page.click("#edit-submit")
        assert page.locator("#edit-errors").count() == 1
        assert "Give the service a name" in page.locator("#edit-services-1-name-error").inner_text()
        assert page.locator("#edit-services-1-category").input_value() == "housing"
        visit.check("edit-refused")

        # Someone else sets the open places meanwhile: this page's version is stale.
        page.goto(f"{system.base}/directory/{partner_id}")
        with directory_admin(system) as other:
            r = other.put(f"/referral/v1/partners/{partner_id}/capacity", json={"open_places": 2})
            assert r.status_code == 200, r.text
        page.fill("#edit-description", "Debt counselling, budget coaching and housing advice.")
        page.click("#edit-submit")
        assert "Someone else changed this first" in page.locator("#edit-errors").inner_text()
        assert page.locator("#partner-open-places").inner_text() == "2"  # the state now
        assert page.locator("#edit-description").input_value() == (
            "Debt counselling, budget coaching and housing advice."
        )
        visit.check("edit-stale")
        page.click("#edit-submit")  # on the version shown now
        assert "done=edit" in page.url
        assert page.locator("#partner-description").inner_text() == (
            "Debt counselling, budget coaching and housing advice."
        )
        assert page.locator("#partner-open-places").inner_text() == "2"

        # The open places: a negative number refused, then none for now.
        page.fill("#capacity-open_places", "-1")
        page.click("#capacity-submit")
        assert "whole number" in page.locator("#capacity-open_places-error").inner_text()
        assert page.locator("#capacity-open_places").input_value() == "-1"
        visit.check("capacity-refused")
        page.fill("#capacity-open_places", "0")
        page.click("#capacity-submit")
        assert "The open places are saved." in page.locator("main").inner_text()
        assert page.locator("#partner-open-places").inner_text() == "none for now"
        page.fill("#capacity-open_places", "")
        page.click("#capacity-submit")
        assert page.locator("#partner-open-places").inner_text() == "no limit"

        # Off the map, and on it again.
        page.click("#deactivate-submit")
        assert page.locator("#partner-status").inner_text() == (
            "inactive: counsellors do not find it"
        )
        assert page.locator("#deactivate-submit").count() == 0
        visit.check("deactivated")
        page.goto(f"{system.base}/directory?service={housing}")
        row = page.locator(f"#partner-{partner_id}")
        assert row.count() == 1
        assert row.locator(".partner-status").inner_text() == "inactive"
        assert page.locator("#search-service").input_value() == housing
        visit.check("directory-inactive")
        row.get_by_role("link", name=name).click()
        page.click("#reactivate-submit")
        assert page.locator("#partner-status").inner_text() == "active: counsellors find it"
        assert "The partner is active again" in page.locator("main").inner_text()

        # A form posted without the page's token is refused; bad input never fails.
        refused = page.request.post(
            f"{system.base}/directory/{partner_id}/deactivate", form={"version": "1"}
        )
        assert refused.status == 403
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        bad = page.request.post(
            f"{system.base}/directory",
            form={"csrf_token": csrf, "name": "", "rows": "nonsense"},
            max_redirects=0,
        )
        assert bad.status == 422 and "register-name-error" in bad.text(), bad.status
    finally:
        context.close()


def test_an_admin_finds_the_dead_letters_of_each_service(
    system: System, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "admin-letters")
    try:
        sign_in_as(visit, system.base, "admin", "/directory", "en")
        page.locator("nav.site-nav").get_by_role("link", name="Dead letters").click()
        assert page.locator("h1").inner_text() == "Dead letters"
        for service in ("intake", "planning", "followup", "referral"):
            assert page.locator(f"#letters-{service}").count() == 1, service
            assert page.locator(f"#letters-{service}-unavailable").count() == 0, service
        visit.check("letters")
        page.check("#letters-resolved")
        page.click("#letters-filter-submit")
        assert "resolved=true" in page.url
        assert page.locator("#letters-resolved").is_checked()
        visit.check("letters-resolved")

        # A re-drive of a letter that does not exist (or no longer): said where it belongs.
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = page.request.post(
            f"{system.base}/dead-letters/planning/987654/redrive", form={"csrf_token": csrf}
        )
        assert answer.status == 404, answer.status
        assert "letters-planning-refused" in answer.text()
        assert "There is no such dead letter (any more)." in answer.text()
    finally:
        context.close()


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_a_partner_registered_and_deactivated_in_each_language(
    system: System, browser: Any, screenshots: Path, language: str
) -> None:
    name = f"Taalhuis {language} {uuid.uuid4().hex[:6]}"
    context = browser.new_context(locale={"nl": "nl-BE", "fr": "fr-BE"}[language])
    page = context.new_page()
    visit = Visit(page, screenshots, f"admin-{language}")
    try:
        sign_in_as(visit, system.base, "directory_admin", "/directory", language)
        assert page.locator("h1").inner_text() == t(language, "Partner directory")
        visit.check("directory")
        page.click("#to-register")
        page.click("#register-submit")  # empty: refused, in the page's language
        assert page.locator("#register-name-error").inner_text().strip() == t(
            language, "Enter the partner's name (at most 200 characters, on one line)."
        )
        visit.check("register-refused")
        page.fill("#register-name", name)
        page.fill("#register-services-0-name", "Cours de langue")
        page.select_option("#register-services-0-category", "language")
        page.check(f"#register-services-0-languages-{language}")
        page.check("#register-accepted_categories-identity")
        page.click("#register-submit")
        assert t(language, "The partner is registered.") in page.locator("main").inner_text()
        assert page.locator("#partner-open-places").inner_text() == t(language, "no limit")
        visit.check("registered")
        page.click("#deactivate-submit")
        assert page.locator("#partner-status").inner_text() == t(
            language, "inactive: counsellors do not find it"
        )
        visit.check("deactivated")
    finally:
        context.close()
