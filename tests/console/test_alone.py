"""`python -m services.console` runs the console alone, on GUIDANCE_PORT, calling the APIs
at GUIDANCE_CONSOLE_API_URL (here: the system `waypoint run` started), with no privilege
of its own: it signs a person in and shows their worklist from the APIs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.console.alone import console_alone, csrf
from tests.console.conftest import System


@pytest.fixture
def alone(system: System) -> Iterator[str]:
    with console_alone(system, system.base) as base:
        yield base


def test_the_console_alone_signs_in_and_reads_the_apis(system: System, alone: str) -> None:
    with httpx.Client(base_url=alone, headers={"Accept-Language": "en"}) as browser:
        # Kubernetes' probes (deploy/k8s) answer without a session.
        assert browser.get("/healthz").json() == {"status": "ok", "service": "console"}
        ready = browser.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": True}
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
