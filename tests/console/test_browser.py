"""The counsellor's first steps in the console, in a real browser against a real system:
sign in (dev), the worklist, registering a client (a refusal shown at its field, then
accepted), the client's page; in Dutch, French and English; with JavaScript off; with the
keyboard alone, on from the client's page to a case accepted and its plan agreed (every
focused element visibly so); a POST without its CSRF token
refused. axe-core runs on every page visited (no violation of impact serious or
critical), and every page is saved as a screenshot."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from babel.dates import format_date

from services.console.forms import COMPETENCES
from shared.auth import dev_token
from shared.settings import Settings
from tests.console.browsing import Visit, register, sign_in_as_counsellor, t
from tests.console.conftest import System

pytestmark = pytest.mark.browser


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
        client_url = page.url.split("?")[0]

        # Found again by the words of the name, in any case; a search that finds nobody
        # says so; a search the API refuses is shown at its field, the input kept.
        page.click("nav a[href='/clients']")
        page.fill("#q", f"{given.upper()} VRIES")
        page.click("#search-submit")
        found = page.locator("#found tbody tr")
        assert found.count() == 1, page.locator("main").inner_text()
        assert found.inner_text().startswith(f"{given} de Vries")
        visit.check("search")
        page.fill("#q", "Nobody-by-this-name")
        page.click("#search-submit")
        assert page.locator("#found-none").is_visible()
        page.goto(system.base + "/clients?q=" + "x" * 201)
        assert page.locator("#q-error").is_visible()
        assert page.locator("#q").input_value() == "x" * 201
        visit.check("search-refused")
        page.goto(system.base + "/clients?q=" + given)
        page.click(f"#found a[href='{client_url.removeprefix(system.base)}']")
        assert page.locator("h1").inner_text() == f"{given} de Vries"

        if language == "en":
            open_a_case(system, page.url.split("/clients/")[1].split("?")[0])
            page.goto(system.base + "/")
            # Newest first (other tests' cases of the dev counsellor may follow it).
            row = page.locator("table", has_text="Opened on").locator("tbody tr").first
            assert given in row.inner_text(), row.inner_text()
            assert "open" in row.inner_text() and "intake" in row.inner_text()
            visit.check("worklist-with-a-case")
            page.select_option("#status", "declined")
            page.click("#cases-filter-submit")
            assert "status=declined" in page.url
            cases = page.locator("table", has_text="Opened on")
            assert cases.count() == 0 or given not in cases.inner_text()
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


def tab_to(page: Any, selector: str, most: int = 40, key: str = "Tab") -> None:
    """Press Tab (or `key`: Shift+Tab) until `selector` has the focus; each focused
    element shows it (the body has the focus only while Tab passes from the page's last
    element round to its first)."""
    page.wait_for_load_state()  # after a form's redirect: the new page, not the old
    for _ in range(most):
        page.keyboard.press(key)
        state = page.evaluate(
            """(selector) => {
                const e = document.activeElement;
                const s = getComputedStyle(e);
                return {here: e.matches(selector), outline: s.outlineStyle,
                        width: parseFloat(s.outlineWidth), tag: e.tagName, id: e.id};
            }""",
            selector,
        )
        if state["tag"] == "BODY":
            continue
        assert state["outline"] != "none" and state["width"] >= 2, f"no visible focus: {state}"
        if state["here"]:
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_counsellor_goes_from_sign_in_to_an_agreed_plan_with_the_keyboard_alone(
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
        case_and_plan_with_the_keyboard_alone(visit)
    finally:
        context.close()


def press(page: Any, selector: str, key: str = "Enter", most: int = 40) -> None:
    """Tab to `selector`, then press `key` on it and wait for the page it leads to."""
    tab_to(page, selector, most)
    with page.expect_navigation():
        page.keyboard.press(key)


def us_date(day: date) -> str:
    """A day as typed into en-US's date field: month, day, year."""
    return day.strftime("%m%d%Y")


def case_and_plan_with_the_keyboard_alone(visit: Visit) -> None:
    """The rest of the journey, from the client's page: the consent, a case, both
    assessments, the acceptance, then the plan (its type, a SMART goal, an action, both
    agreements). Tab, Space, Enter, arrows and typing only: no click, no fill."""
    page = visit.page
    today = date.today()
    press(page, "#grant-guidance")
    assert "The consent is recorded." in page.locator("main").inner_text()
    tab_to(page, "#case-career_question", most=60)
    page.keyboard.type("Which work suits me?")
    press(page, "#open-case")
    assert re.search(r"/cases/[0-9a-f-]{36}", page.url), page.url
    visit.check("case")

    tab_to(page, "#entry-check-eligible-yes")
    page.keyboard.press("Space")
    assert page.locator("#entry-check-eligible-yes").is_checked()
    press(page, "#entry-check-submit")
    assert page.locator("#entry-check-result").count() == 1
    for assessor, scores in (("client", "34213"), ("counsellor", "33322")):
        for code, score in zip(COMPETENCES, scores, strict=True):
            tab_to(page, f"#assessment-{assessor}-{code}", most=60)
            page.keyboard.type(score)  # a closed select takes the option its text starts with
            assert page.locator(f"#assessment-{assessor}-{code}").input_value() == score
        press(page, f"#assessment-{assessor}-submit")
    assert page.locator("#scores-table tbody tr").count() == 5
    tab_to(page, "#decision-decision-accept", most=60)
    page.keyboard.press("ArrowDown")  # the arrows move within the radio group, and back
    assert page.locator("#decision-decision-refer_out").is_checked()
    page.keyboard.press("ArrowUp")
    assert page.locator("#decision-decision-accept").is_checked()
    press(page, "#decision-submit")
    assert page.locator("#case-status").inner_text() == "accepted"
    visit.check("case-accepted")

    # Back up to the plan's link; the plan follows the acceptance within moments.
    tab_to(page, "#to-plan", most=60, key="Shift+Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    deadline = time.monotonic() + 20
    while "/plans/" not in page.url:
        assert time.monotonic() < deadline, "the accepted case got no plan"
        time.sleep(0.3)
        press(page, "#reload-plan")
    visit.check("plan")

    tab_to(page, "#type-plan_type")
    page.keyboard.type("c")
    assert page.locator("#type-plan_type").input_value() == "combined"
    press(page, "#type-submit")
    tab_to(page, "#goal-title", most=60)
    page.keyboard.type("A job in logistics")
    tab_to(page, "#goal-specific")
    page.keyboard.type("Apply for three warehouse planner jobs in the region")
    tab_to(page, "#goal-measure")
    page.keyboard.type("3 applications sent, one interview held")
    tab_to(page, "#goal-target_date")
    page.keyboard.type(us_date(today + timedelta(days=90)))
    assert page.locator("#goal-target_date").input_value() == str(today + timedelta(days=90))
    for competence in ("work_exploration", "networking"):
        tab_to(page, f"#goal-competences-{competence}")
        page.keyboard.press("Space")
    press(page, "#goal-submit")
    assert "The goal is added." in page.locator("main").inner_text()
    goal = page.locator("article.goal")
    assert goal.count() == 1
    visit.check("plan-with-goal")

    # The action's form is folded away in a <details>: Enter on its summary opens it.
    tab_to(page, "article.goal summary", most=60)
    page.keyboard.press("Enter")
    assert goal.locator("details").get_attribute("open") is not None
    tab_to(page, "article.goal textarea[name=description]")
    page.keyboard.type("Update the CV with the planning work")
    tab_to(page, "article.goal select[name=owner]")
    page.keyboard.press("ArrowDown")  # from the client, the first, to the counsellor
    assert goal.locator("select[name=owner]").input_value() == "counsellor"
    tab_to(page, "article.goal input[name=due_date]")
    page.keyboard.type(us_date(today + timedelta(days=30)))
    press(page, "article.goal details button[type=submit]")
    row = page.locator("article.goal tbody tr")
    assert row.count() == 1 and "the counsellor" in row.inner_text()

    press(page, "#agree-client", key="Space", most=80)  # a button takes Space too
    press(page, "#agree-counsellor")
    assert page.locator("#plan-status").inner_text() == "agreed"
    visit.check("plan-agreed")


def test_every_demo_person_signs_in_to_a_page_of_their_own(
    system: System, browser: Any, screenshots: Path
) -> None:
    """Each demo person lands on their role's first page: the team lead on the dashboard,
    the partner on the inbox, admins on the partner directory, the auditor on the audit
    search; none on an error."""
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
            expected = {
                "team_lead": "Dashboard",
                "partner": "Inbox",
                "admin": "Partnerregister",
                "directory_admin": "Partnerregister",
                "auditor": "Audit",
            }[role]
            assert page.locator("h1").inner_text() == expected, role
            visit.check(role)
            page.click("#sign-out")
    finally:
        context.close()
