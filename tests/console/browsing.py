"""What the console's browser tests share: a tab that checks every page it lands on
(axe-core, a screenshot, the landmarks), the catalogue's words, signing in as the dev
counsellor, the registration form filled in."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.console.i18n import translations
from tests.console.conftest import AXE, bound

SERIOUS = ("serious", "critical")
# axe's run on one page: 1-2 s on a loaded 2-core machine; far beyond that it is stuck.
AXE_MS = 30_000


@functools.cache
def axe_source() -> str:
    """axe-core's script, read once per run."""
    return AXE.read_text()


class Visit:
    """A browser tab that checks every page it lands on: axe, then a screenshot."""

    def __init__(self, page: Any, folder: Path, prefix: str, axe: bool = True) -> None:
        self.page, self.folder, self.prefix, self.axe = page, folder, prefix, axe
        bound(page)
        self.count = 0

    def axe_violations(self) -> Any:
        """axe's run on the page, bounded: `evaluate` waits without end for the promise it
        is given, a wait for a function's value does not (AXE_MS)."""
        self.page.evaluate(axe_source())
        # Only the violations, no frames (the console has none) and no CSS selectors (the
        # nodes' HTML says where): a third less of axe's time on every page.
        self.page.evaluate(
            """() => {
                window.__axeResult = null;
                const options = {resultTypes: ['violations'], iframes: false, selectors: false};
                axe.run(document, options).then(
                    (result) => { window.__axeResult = result; },
                    (error) => { window.__axeResult = {error: String(error)}; },
                );
            }"""
        )
        found = self.page.wait_for_function(
            "() => window.__axeResult", polling=50, timeout=AXE_MS
        ).json_value()
        assert "error" not in found, f"axe on {self.page.url}: {found.get('error')}"
        return found

    def check(self, name: str) -> None:
        self.count += 1
        path = self.folder / f"{self.prefix}-{self.count:02d}-{name}.jpg"
        # JPEG: half the time of a PNG of a long page, and as readable.
        self.page.screenshot(path=str(path), full_page=True, type="jpeg", quality=80)
        if self.axe:
            result = self.axe_violations()
            bad = [
                f"{v['id']} ({v['impact']}): {v['help']} at "
                + ", ".join(str(n["html"])[:160] for n in v["nodes"][:3])
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


def sign_in_as(visit: Visit, base: str, person: str, home: str, language: str | None) -> None:
    """Signed in through the dev sign-in as one of the dev people (`person`: its role),
    in `language` when given; landed on that role's start page (`home`)."""
    page = visit.page
    page.goto(base + "/sign-in")
    if language is not None:
        page.select_option("#language-switch", language)
        page.click("#language-submit")
        assert page.locator("html").get_attribute("lang") == language
    page.click(f"#sign-in-{person}")
    assert page.url.removeprefix(base).split("?")[0] == home, page.url


def reload_until(page: Any, shown: str | Callable[[Any], Any], seconds: float = 20) -> None:
    """The page read again until `shown` holds: a selector that matches, or a check of the
    page that answers true (what another service follows, within moments)."""
    deadline = time.monotonic() + seconds

    def holds() -> bool:
        if isinstance(shown, str):
            return bool(page.locator(shown).count())
        return bool(shown(page))

    while not holds():
        assert time.monotonic() < deadline, f"{shown} never so at {page.url}"
        time.sleep(0.3)
        page.reload()


def read_only(page: Any) -> None:
    """No form on the page changes anything: only the sign-out and the language switch post."""
    posting = page.locator("form[method='post' i]")
    targets = {posting.nth(i).get_attribute("action") for i in range(posting.count())}
    assert targets <= {"/sign-out", "/language"}, (page.url, targets)


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
    # Until the page the form leads to has loaded: a click returns once the navigation has
    # committed, when the new page's content may not be there yet (and a check that does
    # not wait, such as `count()`, would see none of it).
    with page.expect_navigation():
        page.click("#register-submit")


def submit_and_close(page: Any, submit: str) -> None:
    """Click the submit button `submit` of `page`, wait for the page the form leads to, then
    close `page`: Chromium can acknowledge a close that races a navigation's commit without
    closing the page, and Playwright then waits for ever (microsoft/playwright#41900,
    #42366; seen here once in a full run)."""
    with page.expect_navigation():
        page.click(submit)
    page.close()
