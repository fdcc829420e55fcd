"""The counsellor's first steps in the console, in a real browser against a real system:
sign in (dev), the worklist, registering a client (a refusal shown at its field, then
accepted), the client's page; in Dutch, French and English; with JavaScript off; with the
keyboard alone (every focused element visibly so); a POST without its CSRF token
refused. axe-core runs on every page visited (no violation of impact serious or
critical), and every page is saved as a screenshot."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from babel.dates import format_date

from services.console.i18n import translations
from shared.auth import dev_token
from shared.settings import Settings
from tests.console.conftest import AXE, System

pytestmark = pytest.mark.browser

SERIOUS = ("serious", "critical")


class Visit:
    """A browser tab that checks every page it lands on: axe, then a screenshot."""

    def __init__(self, page: Any, folder: Path, prefix: str, axe: bool = True) -> None:
        self.page, self.folder, self.prefix, self.axe = page, folder, prefix, axe
        page.set_default_timeout(10_000)
        self.count = 0

    def check(self, name: str) -> None:
        self.count += 1
        path = self.folder / f"{self.prefix}-{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if self.axe:
            self.page.evaluate(AXE.read_text())
            result = self.page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})"
            )
            bad = [
                f"{v['id']} ({v['impact']}): {v['help']} at "
                + ", ".join(str(n["target"]) for n in v["nodes"][:3])
                for v in result["violations"]
                if v.get("impact") in SERIOUS
            ]
            assert not bad, f"axe on {self.page.url}:\n" + "\n".join(bad)
        # Every page says its language, has one main landmark and a skip link to it.
        assert self.page.locator("html").get_attribute("lang")
        assert self.page.locator("main#main").count() == 1
        assert self.page.locator("a.skip-link[href='#main']").count() == 1


def t(language: str, message: str) -> str:
    return translations(language).gettext(message)


def sign_in_as_counsellor(visit: Visit, base: str, language: str | None) -> None:
    page = visit.page
    page.goto(base + "/")
    assert page.url.endswith("/sign-in")
    visit.check("sign-in")
    if language is not None:
        page.select_option("#language-switch", language)
        page.click("#language-submit")
        assert page.locator("html").get_attribute("lang") == language
        visit.check("sign-in-language")
    page.click("#sign-in-counsellor")
    assert re.search(r"/$", page.url), page.url


def register(visit: Visit, language: str, given: str, email: str) -> None:
    page = visit.page
    page.fill("#given_name", given)
    page.fill("#family_name", "de Vries")
    page.fill("#birth_date", "1990-04-12")
    page.fill("#email", email)
    page.select_option("#preferred_language", language)
    page.click("#register-submit")


@pytest.mark.parametrize("language", ["nl", "fr", "en"])
def test_a_counsellor_registers_a_client(
    system: System, browser: Any, screenshots: Path, language: str
) -> None:
    # The browser asks for another language first: the switcher's choice wins.
    other = "fr-BE" if language != "fr" else "nl-BE"
    context = browser.new_context(locale=other)
    page = context.new_page()
    visit = Visit(page, screenshots, f"journey-{language}")
    try:
        page.goto(system.base + "/sign-in")
        assert page.locator("html").get_attribute("lang") == other[:2]
        sign_in_as_counsellor(visit, system.base, language)
        assert page.locator("h1").inner_text() == t(language, "Worklist")
        visit.check("worklist")

        page.click("nav a[href='/clients/new']")
        assert page.locator("h1").inner_text() == t(language, "Register a client")
        visit.check("register")

        given = f"Anna-{language}"
        register(visit, language, given, "anna@example")  # no top-level domain: refused
        error = page.locator("#email-error")
        assert error.inner_text().strip() == t(
            language, "Enter an e-mail address in the form name@example.org."
        )
        email = page.locator("#email")
        assert "email-error" in (email.get_attribute("aria-describedby") or "")
        assert email.get_attribute("aria-invalid") == "true"
        assert email.input_value() == "anna@example"  # the input is kept
        assert page.locator("#given_name").input_value() == given
        assert page.locator("#given_name-error").count() == 0
        visit.check("register-refused")

        page.fill("#email", f"anna.{language}@example.org")
        page.click("#register-submit")
        assert re.search(r"/clients/[0-9a-f-]{36}", page.url), page.url
        assert page.locator("h1").inner_text() == f"{given} de Vries"
        body = page.locator("main").inner_text()
        assert format_date(date(1990, 4, 12), "long", locale=language) in body
        assert f"anna.{language}@example.org" in body
        assert t(language, "The client is registered.") in body
        visit.check("client")

        if language == "en":
            open_a_case(system, page.url.split("/clients/")[1].split("?")[0])
            page.goto(system.base + "/")
            row = page.locator("table", has_text="Opened on").locator("tbody tr")
            assert row.count() == 1
            assert "open" in row.inner_text() and "intake" in row.inner_text()
            visit.check("worklist-with-a-case")
            page.select_option("#status", "declined")
            page.click("#cases-filter-submit")
            assert "status=declined" in page.url
            assert page.locator("table", has_text="Opened on").count() == 0
            visit.check("worklist-filtered")

        # A client that does not exist (or is not one the counsellor may see), an
        # address that is no page: said so, in the page's language.
        for missing in ("/clients/00000000-0000-4000-8000-000000000000", "/clients/x", "/nope"):
            answer = page.goto(system.base + missing)
            assert answer is not None and answer.status == 404, missing
            visit.check("not-found")
        assert page.locator("h1").inner_text() == t(language, "Page not found")

        page.click("#sign-out")
        assert page.url.endswith("/sign-in")
        page.goto(system.base + "/clients/new")
        assert "/sign-in" in page.url  # the session is gone
    finally:
        context.close()


def test_the_forms_work_without_javascript(system: System, browser: Any, screenshots: Path) -> None:
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "no-js", axe=False)
    try:
        sign_in_as_counsellor(visit, system.base, "nl")
        visit.check("worklist")
        page.click("nav a[href='/clients/new']")
        register(visit, "nl", "Piet", "piet@example")
        assert page.locator("#email-error").count() == 1
        visit.check("register-refused")
        page.fill("#email", "piet@example.org")
        page.click("#register-submit")
        assert page.locator("h1").inner_text() == "Piet de Vries"
        visit.check("client")
    finally:
        context.close()


def open_a_case(system: System, client_id: str) -> None:
    """What the next step's pages will do, through the API for now: the client's consent
    to guidance, then a case."""
    secret = (system.folder / ".data" / "dev-jwt-secret").read_text().strip()
    token = dev_token(
        Settings(auth_mode="dev", jwt_secret=secret),
        sub="c.jansen",
        org="org-demo",
        roles=["counsellor"],
    )
    with httpx.Client(base_url=system.base, headers={"Authorization": f"Bearer {token}"}) as api:
        r = api.post(
            f"/intake/v1/clients/{client_id}/consents",
            json={"purpose": "guidance", "granted": True},
        )
        assert r.status_code == 201, r.text
        r = api.post(
            "/intake/v1/cases",
            json={"client_id": client_id, "career_question": "Which work suits me?"},
        )
        assert r.status_code == 201, r.text


def intake_events(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM intake.intake_events").fetchone()
    assert row is not None
    return int(row[0])


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(
    system: System, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    visit = Visit(page, screenshots, "csrf")
    try:
        sign_in_as_counsellor(visit, system.base, "en")
        form = {
            "given_name": "Mallory",
            "family_name": "Forged",
            "birth_date": "1980-01-01",
            "email": "mallory@example.org",
        }
        before = intake_events(system.database_url)
        # The browser's own cookies go along; only the token is missing, then wrong.
        for token in (None, "not-the-token"):
            given = form if token is None else {**form, "csrf_token": token}
            r = context.request.post(system.base + "/clients", form=given, max_redirects=0)
            assert r.status == 403, r.status
            assert "This form has expired" in r.text()
        assert intake_events(system.database_url) == before
        page.goto(system.base + "/sign-in")
        # And a sign-in without one (login CSRF) is refused too.
        r = context.request.post(
            system.base + "/sign-in", form={"person": "admin"}, max_redirects=0
        )
        assert r.status == 403
    finally:
        context.close()


def tab_to(page: Any, selector: str, most: int = 40) -> None:
    """Press Tab until `selector` has the focus; each focused element shows it."""
    for _ in range(most):
        page.keyboard.press("Tab")
        state = page.evaluate(
            """(selector) => {
                const e = document.activeElement;
                const s = getComputedStyle(e);
                return {here: e.matches(selector), outline: s.outlineStyle,
                        width: parseFloat(s.outlineWidth), tag: e.tagName, id: e.id};
            }""",
            selector,
        )
        assert state["outline"] != "none" and state["width"] >= 2, f"no visible focus: {state}"
        if state["here"]:
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_counsellor_registers_a_client_with_the_keyboard_alone(
    system: System, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    visit = Visit(page, screenshots, "keyboard")
    try:
        page.goto(system.base + "/sign-in")
        # The first Tab reaches the skip link, shown on the screen.
        page.keyboard.press("Tab")
        skip = page.locator("a.skip-link")
        assert skip.evaluate("e => e === document.activeElement")
        box = skip.bounding_box()
        assert box is not None and box["x"] >= 0 and box["y"] >= 0
        visit.check("skip-link")
        tab_to(page, "#sign-in-counsellor")
        page.keyboard.press("Enter")
        page.wait_for_url(system.base + "/")
        tab_to(page, "main a[href='/clients/new']")
        page.keyboard.press("Enter")
        page.wait_for_url(system.base + "/clients/new")
        tab_to(page, "#given_name")
        page.keyboard.type("Kees")
        tab_to(page, "#family_name")
        page.keyboard.type("Toetsenbord")
        tab_to(page, "#birth_date")
        page.keyboard.type("03151985")  # month, day, year in en-US's date field
        assert page.locator("#birth_date").input_value() == "1985-03-15"
        tab_to(page, "#email")
        page.keyboard.type("kees@example.org")
        tab_to(page, "#register-submit")
        visit.check("register-filled")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/clients/[0-9a-f-]{36}.*"))
        main = page.locator("main").inner_text()
        assert page.locator("h1").inner_text() == "Kees Toetsenbord", main
        assert "March 15, 1985" in main
        visit.check("client")
    finally:
        context.close()


def test_every_demo_person_signs_in_to_a_page_of_their_own(
    system: System, browser: Any, screenshots: Path
) -> None:
    """Only counsellors and team leads have a worklist yet; the others land on a welcome
    page (their pages are the next step's), none on an error."""
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    visit = Visit(page, screenshots, "people")
    try:
        for role in ("team_lead", "admin", "auditor", "directory_admin", "partner"):
            page.goto(system.base + "/sign-in")
            with page.expect_navigation() as landed:
                page.click(f"#sign-in-{role}")
            answer = landed.value
            assert answer is not None and answer.status == 200, role
            expected = "Werklijst" if role == "team_lead" else "Welkom"
            assert page.locator("h1").inner_text() == expected, role
            visit.check(role)
            page.click("#sign-out")
    finally:
        context.close()
