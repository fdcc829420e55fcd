"""The console's tests: a real system started as `make run` starts it (`waypoint run` in
a folder of its own, with a nats-server and a fresh database of its own), and Debian's
Chromium driven by Playwright. Screenshots of every page visited go to a folder printed
at the end of the run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.embedded import EmbeddedPostgres, start_postgres
from tests.support import Running, waypoint_run

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "services" / "console" / "static" / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS: list[Path] = []
# Playwright's bounds (its own default is 30 s): a step (a click, a fill, a locator's wait, a
# screenshot) that takes 10 s is stuck, and so is a page of the local system that takes 20 s.
STEP_MS = 10_000
NAVIGATION_MS = 20_000
# pytest-timeout's bound on a whole browser test, its fixtures' set-up included (the
# system's start, Chromium's launch): about five times the slowest test on a loaded 2-core
# machine, where the suite's 900 s let one hang eat a quarter of an hour. Some waits have
# no bound of their own (`evaluate`, a download's `path()`, closing a page or a context).
# `signal` (SIGALRM) interrupts a Playwright call blocked in its event loop, fails the test
# with every thread's stack, and the run goes on; `thread` would end the whole run.
BROWSER_TEST_SECONDS = 180
# What the console's tests call the running system.
System = Running


def bound(target: Any) -> Any:
    """A page or context waiting at most STEP_MS for a step, NAVIGATION_MS for a page."""
    target.set_default_timeout(STEP_MS)
    target.set_default_navigation_timeout(NAVIGATION_MS)
    return target


class Bounded:
    """Chromium whose every context is `bound`, and so every page of it: a second tab too."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_context(self, **options: Any) -> Any:
        return bound(self._browser.new_context(**options))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test (without a timeout of its own) gets BROWSER_TEST_SECONDS."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(BROWSER_TEST_SECONDS, method="signal"))


def chromium() -> str:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).is_file():
        pytest.fail("chromium is not installed: `make install` installs it (apt)")
    return found


# The package's: the system stops once the console's tests are done, not at the end of
# the whole suite.
@pytest.fixture(scope="package")
def console_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL for the systems the console's tests start: in the browser
    lane (`pytest -n 2 --dist loadgroup`) they run beside the other lane's systems, and
    together they would hold more connections than the local server's 100."""
    postgres = start_postgres(tmp_path_factory.mktemp("console-pg") / "pg")
    try:
        yield postgres
    finally:
        postgres.stop()


@pytest.fixture(scope="package")
def system(
    tmp_path_factory: pytest.TempPathFactory, console_postgres: EmbeddedPostgres
) -> Iterator[Running]:
    """`waypoint run` in a folder of its own, as `make run` starts it (on
    `console_postgres`)."""
    folder = tmp_path_factory.mktemp("console-system")
    with waypoint_run(folder, name="console", postgres_url=console_postgres.url) as running:
        yield running


@pytest.fixture(scope="session")
def screenshots() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = REPO / ".data" / "screenshots" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    SHOTS.append(folder)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for one module: Playwright's sync API keeps an event loop running in
    this thread while it is open, which no other test's asyncio may meet. Its contexts
    are `bound`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield Bounded(launched)
        launched.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in screenshot_lines():
        terminalreporter.write_line(line)


def screenshot_lines() -> list[str]:
    """Where this process's browser tests left their screenshots, and how many."""
    lines = []
    for folder in SHOTS:
        count = len([f for f in folder.iterdir() if f.suffix in (".png", ".jpg")])
        lines.append(f"console screenshots ({count}): {folder}")
    return lines


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a lane (a pytest-xdist worker of `pytest -n 2`), hand the lines to the run that
    prints the summary (tests/conftest.py's `pytest_testnodedown`)."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["screenshots"] = screenshot_lines()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing browser test's report ends with what the system logged meanwhile (the
    console logs every refusal an API answered with), so a failure elsewhere can be read."""
    report = yield
    running = getattr(item, "funcargs", {}).get("system")
    if report.failed and isinstance(running, Running) and running.log is not None:
        lines = running.log.read_text(errors="replace").splitlines()
        report.sections.append(("waypoint run's log (last 60 lines)", "\n".join(lines[-60:])))
    return report
