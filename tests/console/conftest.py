"""The console's tests: a real system started as `make run` starts it (`waypoint run` in
a folder of its own, with a nats-server and a fresh database of its own), and Debian's
Chromium driven by Playwright. Screenshots of every page visited go to a folder printed
at the end of the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.embedded import free_port, start_nats
from tests.conftest import DEFAULT_DB, fresh_database

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


def chromium() -> str:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).is_file():
        pytest.fail("chromium is not installed: `make install` installs it (apt)")
    return found


@dataclass
class System:
    base: str
    database_url: str
    folder: Path


# The package's: the system stops once the console's tests are done, not at the end of
# the whole suite.
@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """`waypoint run` in a folder of its own, as `make run` starts it (this checkout's
    code: `python -m shared.cli run`, which is what `.venv/bin/waypoint run` runs)."""
    tmp = tmp_path_factory.mktemp("console-system")
    folder = tmp / "clone"
    folder.mkdir()
    nats_server = start_nats(tmp / "nats")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GUIDANCE_", "WAYPOINT_")) and k != "VIRTUAL_ENV"
    }
    with fresh_database(os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB), "console") as db:
        system_env = dict(
            env,
            PYTHONPATH=str(REPO),
            GUIDANCE_DATABASE_URL=db,
            GUIDANCE_NATS_URL=nats_server.url,
            GUIDANCE_PORT=str(port),
        )
        log_path = tmp / "run.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "run"],
            cwd=folder,
            env=system_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = wait_ready(folder, port, process, log_path)
            yield System(base=base, database_url=db, folder=folder)
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            nats_server.stop()


def wait_ready(folder: Path, port: int, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 120
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        run = folder / ".data" / "run.json"
        if run.is_file() and json.loads(run.read_text()).get("running"):
            try:
                if all(
                    httpx.get(f"{base}/{s}/readyz", timeout=2).status_code == 200
                    for s in ("intake", "planning", "followup", "referral")
                ):
                    return base
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    raise AssertionError("waypoint run did not become ready:\n" + log.read_text())


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
    this thread while it is open, which no other test's asyncio may meet."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for folder in SHOTS:
        count = len(list(folder.glob("*.png")))
        terminalreporter.write_line(f"console screenshots ({count}): {folder}")
