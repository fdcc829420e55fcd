"""`python -m services.console` runs the console alone, on GUIDANCE_PORT, calling the APIs
at GUIDANCE_CONSOLE_API_URL (here: the system `waypoint run` started), with no privilege
of its own: it signs a person in and shows their worklist from the APIs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from shared.embedded import free_port
from tests.console.conftest import REPO, System


@pytest.fixture
def alone(system: System) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUIDANCE_")}
    secret = (system.folder / ".data" / "dev-jwt-secret").read_text().strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.console"],
        cwd=REPO,
        env=dict(
            env,
            GUIDANCE_PORT=str(port),
            GUIDANCE_CONSOLE_API_URL=system.base,
            GUIDANCE_DATABASE_URL=system.database_url,
            # The dev sign-in mints tokens the APIs accept: the running system's secret.
            GUIDANCE_JWT_SECRET=secret,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(base + "/sign-in", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(15)


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_the_console_alone_signs_in_and_reads_the_apis(system: System, alone: str) -> None:
    with httpx.Client(base_url=alone, headers={"Accept-Language": "en"}) as browser:
        assert browser.get("/").headers["location"] == "/sign-in"
        page = browser.get("/sign-in")
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        signed = browser.post(
            "/sign-in", data={"csrf_token": csrf(page.text), "person": "counsellor", "next": "/"}
        )
        assert signed.status_code == 303
        session_cookie = next(
            c for c in signed.headers.get_list("set-cookie") if c.startswith("waypoint-session=")
        )
        assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
        assert "Path=/" in session_cookie
        worklist = browser.get("/")
        assert worklist.status_code == 200, worklist.text
        assert '<h1 class="utrecht-heading-1">Worklist</h1>' in worklist.text
        # Its links for developers lead to the APIs' own server.
        assert f'href="{system.base}/developers"' in worklist.text
